//! Wire types of the relay's chain endpoints (ARCHITECTURE §8) and of the audit proofs that
//! `agentkeys audit verify` checks, shared by the relay, the daemon and the CLI.
//!
//! Hashes and byte strings travel as `0x`-prefixed lowercase hex. The daemon reaches the chain
//! only through these endpoints: it signs its own transactions with K10 and the relay submits
//! them, so the relay can delay a change but never forge one.

use crate::identity::{Address, Omni};
use serde::{Deserialize, Serialize};

/// Device roles in `SidecarRegistry`, as bits.
pub mod roles {
    pub const CAP_MINT: u8 = 1;
    pub const RECOVERY: u8 = 2;
    pub const SCOPE_MGMT: u8 = 4;
    /// What a master with a passkey holds.
    pub const ALL: u8 = CAP_MINT | RECOVERY | SCOPE_MGMT;

    /// The names of the bits set in `roles`, for display.
    pub fn names(roles: u8) -> Vec<&'static str> {
        [
            (CAP_MINT, "CAP_MINT"),
            (RECOVERY, "RECOVERY"),
            (SCOPE_MGMT, "SCOPE_MGMT"),
        ]
        .into_iter()
        .filter(|(bit, _)| roles & bit != 0)
        .map(|(_, name)| name)
        .collect()
    }
}

/// Which chain adapter a relay runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AdapterKind {
    /// revm inside the relay's process.
    Embedded,
    /// Any EVM JSON-RPC node.
    Rpc,
}

impl AdapterKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AdapterKind::Embedded => "embedded",
            AdapterKind::Rpc => "rpc",
        }
    }
}

/// Where the AgentKeys contracts live on the relay's chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractAddresses {
    pub p256_verifier: Address,
    pub k11_verifier: Address,
    pub registry: Address,
    pub scope: Address,
    pub epoch: Address,
    pub audit: Address,
}

/// `GET /v1/chain/status`
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainStatus {
    pub adapter: AdapterKind,
    pub chain_id: u64,
    pub block_number: u64,
    pub contracts: ContractAddresses,
    /// The relay's own submitter (audit roots, and funding device transactions on fee chains).
    pub submitter: Address,
    /// K3 epoch in `K3EpochCounter`.
    pub epoch: u32,
}

/// `POST /v1/chain/tx-params`: what a device needs to sign a call of `to` with `data`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxParamsRequest {
    pub to: Address,
    /// `0x` hex calldata.
    pub data: String,
}

/// The fields of an EIP-1559 transaction the relay fills in. The relay dry-runs the call
/// first, so a call that would revert is refused here with its reason, before anything is
/// signed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxParams {
    pub chain_id: u64,
    pub nonce: u64,
    pub gas_limit: u64,
    /// Decimal wei, as strings: fee values can exceed what JSON numbers carry exactly.
    pub max_fee_per_gas: String,
    pub max_priority_fee_per_gas: String,
}

/// `POST /v1/chain/tx`: a signed EIP-2718 transaction from the session's own device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmitTxRequest {
    /// `0x` hex of the signed transaction envelope.
    pub raw: String,
}

/// The mined outcome of a transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxReceiptView {
    pub tx_hash: String,
    pub block_number: u64,
    pub success: bool,
    pub gas_used: u64,
    /// The decoded custom error of a reverted transaction, e.g. `OperatorAlreadyRegistered(0x…)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revert: Option<String>,
}

/// Device tiers in `SidecarRegistry`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Master,
    Agent,
}

/// `GET /v1/chain/device/<device key hash>`
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceView {
    /// `0x` hex keccak256 of the device address.
    pub device_key_hash: String,
    pub device: Address,
    pub tier: Tier,
    pub roles: u8,
    pub operator: Omni,
    pub actor: Omni,
    pub revoked: bool,
    /// Block time of the registration, Unix seconds.
    pub registered_at: u64,
    pub has_passkey: bool,
    /// The passkey (K11) the chain holds for a master, so an approver can tell it is the
    /// authenticator of the device asking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passkey: Option<crate::passkey::P256PublicKey>,
    pub last_sign_count: u32,
}

/// `GET /v1/chain/scope/<operator>/<actor>`: the service hashes (keccak256 of the lowercase
/// name) in the agent's scope, and the scope nonce a new change must bind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeView {
    pub operator: Omni,
    pub actor: Omni,
    pub services: Vec<String>,
    pub nonce: u64,
}

/// `GET /v1/chain/operator/<operator>`: what a passkey change must bind (the nonce) and what
/// recovery must keep (the threshold and the RECOVERY masters).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorView {
    pub operator: Omni,
    pub nonce: u64,
    /// As stored; 0 means 1.
    pub recovery_threshold: u32,
    pub active_recovery_masters: u32,
    pub devices: Vec<DeviceView>,
}

/// `GET /v1/chain/epoch`
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochView {
    pub epoch: u32,
}

/// What changed, as one server-sent event of `GET /v1/chain/events` (event name = `kind`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainEvent {
    /// The contract event's name, e.g. `AgentDeviceRevoked`.
    pub kind: String,
    pub block_number: u64,
    pub tx_hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<Omni>,
    /// `0x` hex device key hash, for device events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_key_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<Omni>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u32>,
}

/// One audit record as the relay returns it: every field the record hash covers, so the
/// reader recomputes the hash instead of trusting it (`crate::audit::view_hash`). Fields are
/// exactly the stored strings; `prev_hash` and `hash` are record hashes in their own format,
/// 64 lowercase hex characters without `0x`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecordView {
    pub id: u64,
    pub time_ms: i64,
    pub operator: String,
    pub device: String,
    pub actor: String,
    pub service: String,
    pub op: String,
    pub data_class: String,
    pub outcome: String,
    pub cap_jti_hash: String,
    pub prev_hash: String,
    pub hash: String,
}

/// Page size of `GET /v1/audit/log` when the request names none.
pub const AUDIT_LOG_DEFAULT_LIMIT: usize = 50;
/// Largest page of `GET /v1/audit/log`; a larger `limit` is reduced to it.
pub const AUDIT_LOG_MAX_LIMIT: usize = 1000;

/// `GET /v1/audit/log?after=<id>&limit=<n>`: the session operator's records, oldest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditLogResponse {
    pub records: Vec<AuditRecordView>,
}

/// Where a record's batch root sits on chain, and the path from the record to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditAnchor {
    /// Index of the root among the operator's roots in `CredentialAudit`.
    pub root_index: u64,
    /// `0x` hex Merkle root.
    pub root: String,
    /// Records in the batch.
    pub count: u64,
    /// Block and transaction of the anchoring. Absent only when the relay found its root on
    /// chain after a restart without having seen the receipt (the root and index are what
    /// verification relies on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_number: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx_hash: Option<String>,
    /// `0x` hex sibling hashes from the leaf up (sorted pairs, so no left/right bits).
    pub proof: Vec<String>,
}

/// How often the relay anchors batches: after `every_records` new records or `every_secs`
/// seconds, whichever comes first (0 = that trigger is off).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnchorSchedule {
    pub every_records: u64,
    pub every_secs: u64,
}

/// `GET /v1/audit/proof/<record id>`. `anchor` is absent while the record's batch is not
/// anchored yet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditProofResponse {
    pub record: AuditRecordView,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor: Option<AuditAnchor>,
    /// When the relay anchors; absent when it does not anchor at all (no chain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<AnchorSchedule>,
}

/// Daemon `POST /v1/audit/verify`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditVerifyRequest {
    pub id: u64,
    /// Read the root from this chain node instead of through the relay (else the daemon's
    /// `chain_rpc_url`, if set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpc_url: Option<String>,
}

/// Daemon `POST /v1/audit/verify`: the record's hash was recomputed from its fields, its
/// proof leads to `root`, and the chain holds `root` with `count` at `root_index` for the
/// operator. A record whose batch is not anchored yet is refused (`audit_not_anchored`)
/// rather than answered with `anchored: false`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditVerifyResponse {
    pub id: u64,
    /// The recomputed record hash (64 lowercase hex, no `0x`).
    pub record_hash: String,
    pub anchored: bool,
    pub operator: Omni,
    pub root_index: u64,
    /// `0x` hex root, as read from the chain.
    pub root: String,
    pub count: u64,
    /// Block time of the anchoring, Unix seconds, as read from the chain.
    pub anchored_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_number: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx_hash: Option<String>,
}

/// `GET /v1/chain/audit-root/<operator>/<index>`: a root as `CredentialAudit` holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRootView {
    pub operator: Omni,
    pub index: u64,
    pub root: String,
    pub count: u64,
    /// Block time of the anchoring transaction, Unix seconds.
    pub anchored_at: u64,
}

/// The daemon's `GET /v1/chain/status`: the relay's chain and this device's entry on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainStatusReport {
    pub chain: ChainStatus,
    /// Absent before `agentkeys init` or while the device is not registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceView>,
    /// The same read from the chain itself, when an RPC URL is given; a difference from the
    /// relay's account is refused with `chain_view_mismatch` instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked: Option<ChainCheck>,
}

/// What the daemon read from a chain node directly.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainCheck {
    pub rpc_url: String,
    pub chain_id: u64,
    pub block_number: u64,
    /// This device's record in the pinned registry, as the chain holds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceView>,
    /// Its operator's devices, as the chain holds them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operator_devices: Vec<DeviceView>,
}
