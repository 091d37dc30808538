//! HTTP paths of the relay and the daemon, named once.

use crate::names::{DataClass, Op};

pub const HEALTHZ: &str = "/healthz";
pub const READYZ: &str = "/readyz";
pub const JWKS: &str = "/.well-known/jwks.json";
pub const OIDC_DISCOVERY: &str = "/.well-known/openid-configuration";
/// Web-identity tokens and temporary cloud credentials (session required).
pub const MINT_OIDC_JWT: &str = "/v1/mint-oidc-jwt";
pub const MINT_AWS_CREDS: &str = "/v1/mint-aws-creds";

pub const SIWE_START: &str = "/v1/auth/siwe/start";
pub const SIWE_VERIFY: &str = "/v1/auth/siwe/verify";

pub const SIGNER_WRAP: &str = "/v1/signer/wrap";
pub const SIGNER_UNWRAP: &str = "/v1/signer/unwrap";
pub const SIGNER_EPOCH: &str = "/v1/signer/epoch";
pub const AUDIT_APPEND: &str = "/v1/audit/append";
pub const AUDIT_RECORDS: &str = "/v1/audit/records";

/// The chain, for devices (session required) and for the roles of a split relay.
pub const CHAIN_STATUS: &str = "/v1/chain/status";
pub const CHAIN_TX_PARAMS: &str = "/v1/chain/tx-params";
pub const CHAIN_TX: &str = "/v1/chain/tx";
pub const CHAIN_DEVICE: &str = "/v1/chain/device/{device_key_hash}";
pub const CHAIN_SCOPE: &str = "/v1/chain/scope/{operator}/{actor}";
pub const CHAIN_EPOCH: &str = "/v1/chain/epoch";
pub const CHAIN_EVENTS: &str = "/v1/chain/events";
pub const CHAIN_OPERATOR: &str = "/v1/chain/operator/{operator}";
pub const CHAIN_AUDIT_ROOT: &str = "/v1/chain/audit-root/{operator}/{index}";

/// The approval mailbox between an operator's devices (session required): a master asks,
/// the approver receives by SSE and answers, the master waits for the answer.
pub const APPROVALS: &str = "/v1/approvals";
pub const APPROVAL_STREAM: &str = "/v1/approvals/stream";
pub const APPROVAL: &str = "/v1/approvals/{id}";
pub const APPROVAL_ANSWER: &str = "/v1/approvals/{id}/answer";

/// An operator's own audit trail (session required).
pub const AUDIT_LOG: &str = "/v1/audit/log";
pub const AUDIT_PROOF: &str = "/v1/audit/proof/{id}";

/// The broker route that mints a capability for (data class, op). The route fixes the class.
pub fn cap_route(dc: DataClass, op: Op) -> &'static str {
    match (dc, op) {
        (DataClass::Credentials, Op::Store) => "/v1/cap/cred-store",
        (DataClass::Credentials, Op::Fetch) => "/v1/cap/cred-fetch",
        (DataClass::Credentials, Op::Teardown) => "/v1/cap/cred-teardown",
        (DataClass::Credentials, Op::List) => "/v1/cap/cred-list",
        (DataClass::Memory, Op::Store) => "/v1/cap/memory-put",
        (DataClass::Memory, Op::Fetch) => "/v1/cap/memory-get",
        (DataClass::Memory, Op::Teardown) => "/v1/cap/memory-teardown",
        (DataClass::Memory, Op::List) => "/v1/cap/memory-list",
    }
}

/// The vault route for (data class, op).
pub fn vault_route(dc: DataClass, op: Op) -> &'static str {
    match (dc, op) {
        (DataClass::Credentials, Op::Store) => "/v1/cred/store",
        (DataClass::Credentials, Op::Fetch) => "/v1/cred/fetch",
        (DataClass::Credentials, Op::Teardown) => "/v1/cred/teardown",
        (DataClass::Credentials, Op::List) => "/v1/cred/list",
        (DataClass::Memory, Op::Store) => "/v1/memory/put",
        (DataClass::Memory, Op::Fetch) => "/v1/memory/get",
        (DataClass::Memory, Op::Teardown) => "/v1/memory/teardown",
        (DataClass::Memory, Op::List) => "/v1/memory/list",
    }
}

/// The direct backend's data-key routes of a class: (wrap, unwrap).
pub fn dek_routes(dc: DataClass) -> (&'static str, &'static str) {
    match dc {
        DataClass::Credentials => ("/v1/cred/dek-wrap", "/v1/cred/dek-unwrap"),
        DataClass::Memory => ("/v1/memory/dek-wrap", "/v1/memory/dek-unwrap"),
    }
}

/// Every (class, op) pair, for building routers.
pub const ALL_CLASS_OPS: [(DataClass, Op); 8] = [
    (DataClass::Credentials, Op::Store),
    (DataClass::Credentials, Op::Fetch),
    (DataClass::Credentials, Op::Teardown),
    (DataClass::Credentials, Op::List),
    (DataClass::Memory, Op::Store),
    (DataClass::Memory, Op::Fetch),
    (DataClass::Memory, Op::Teardown),
    (DataClass::Memory, Op::List),
];

/// The daemon's socket API.
pub mod daemon {
    pub const STATUS: &str = "/v1/status";
    pub const INIT: &str = "/v1/init";
    pub const SECRET_STORE: &str = "/v1/secrets/store";
    pub const SECRET_READ: &str = "/v1/secrets/read";
    pub const SECRET_LIST: &str = "/v1/secrets/list";
    pub const SECRET_RM: &str = "/v1/secrets/rm";
    pub const MEMORY_PUT: &str = "/v1/memory/put";
    pub const MEMORY_GET: &str = "/v1/memory/get";
    pub const SHUTDOWN: &str = "/v1/shutdown";
    pub const CHAIN_STATUS: &str = "/v1/chain/status";
    pub const AUDIT_LOG: &str = "/v1/audit/log";
    pub const AUDIT_VERIFY: &str = "/v1/audit/verify";
    pub const JOB: &str = "/v1/jobs/{job}";
    pub const AGENTS: &str = "/v1/agents";
    pub const AGENT_REVOKE: &str = "/v1/agents/revoke";
    pub const AGENT_TOKEN: &str = "/v1/agents/token";
    pub const AGENT_TOKEN_REVOKE: &str = "/v1/agents/token/revoke";
    pub const SCOPE_SET: &str = "/v1/scope/set";
    pub const SCOPE_REVOKE: &str = "/v1/scope/revoke";
    pub const SCOPE_SHOW: &str = "/v1/scope/show";
    pub const DEVICES: &str = "/v1/devices";
    pub const DEVICE_ADD: &str = "/v1/devices/add";
    pub const RECOVER_THRESHOLD: &str = "/v1/recover/threshold";
    pub const RECOVER_REVOKE: &str = "/v1/recover/revoke-device";
    pub const COMPANION_WHOAMI: &str = "/v1/companion/whoami";
    pub const AWS_CREDS: &str = "/v1/aws/creds";
}
