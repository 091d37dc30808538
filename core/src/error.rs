//! Stable error codes shared by the relay, the daemon and the CLI.
//!
//! A code is part of the public interface: scripts match on it, so a code is never renamed or
//! reused for another meaning. Each code carries its HTTP status and the CLI exit code it maps
//! to; `docs/errors.md` lists them.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Exit codes of the `agentkeys` CLI (documented in `docs/errors.md`).
pub mod exit {
    pub const OK: i32 = 0;
    pub const FAILURE: i32 = 1;
    pub const USAGE: i32 = 2;
    pub const DAEMON_NOT_RUNNING: i32 = 3;
    pub const RELAY_UNREACHABLE: i32 = 4;
    pub const NOT_FOUND: i32 = 5;
    pub const REFUSED: i32 = 6;
    pub const INVALID_INPUT: i32 = 7;
    pub const NOT_INITIALIZED: i32 = 8;
    pub const UNAVAILABLE: i32 = 9;
    pub const INTEGRITY: i32 = 10;
}

macro_rules! error_codes {
    ($( $variant:ident => ($code:literal, $status:literal, $exit:expr, $msg:literal) ),* $(,)?) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ErrorCode { $( $variant ),* }

        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[ $( ErrorCode::$variant ),* ];

            pub fn as_str(self) -> &'static str {
                match self { $( ErrorCode::$variant => $code ),* }
            }

            pub fn http_status(self) -> u16 {
                match self { $( ErrorCode::$variant => $status ),* }
            }

            pub fn exit_code(self) -> i32 {
                match self { $( ErrorCode::$variant => $exit ),* }
            }

            /// A one-line description a person can act on.
            pub fn default_message(self) -> &'static str {
                match self { $( ErrorCode::$variant => $msg ),* }
            }

            pub fn parse(code: &str) -> Option<ErrorCode> {
                match code { $( $code => Some(ErrorCode::$variant), )* _ => None }
            }
        }
    };
}

error_codes! {
    // Requests
    BadRequest => ("bad_request", 400, exit::INVALID_INPUT, "the request is malformed"),
    InvalidJson => ("invalid_json", 400, exit::INVALID_INPUT, "the request body is not the expected JSON"),
    BodyTooLarge => ("body_too_large", 413, exit::INVALID_INPUT, "the request body is larger than allowed"),
    RouteNotFound => ("route_not_found", 404, exit::FAILURE, "no such endpoint"),
    MethodNotAllowed => ("method_not_allowed", 405, exit::FAILURE, "method not allowed on this endpoint"),
    Timeout => ("timeout", 408, exit::UNAVAILABLE, "the request took too long"),
    InvalidServiceName => ("invalid_service_name", 400, exit::INVALID_INPUT, "service names are 1-64 characters of a-z, 0-9, '.', '_' and '-', starting with a letter or digit"),
    InvalidAgentLabel => ("invalid_agent_label", 400, exit::INVALID_INPUT, "agent labels are 1-32 characters of a-z, 0-9 and '-'"),
    InvalidValue => ("invalid_value", 400, exit::INVALID_INPUT, "the secret value is empty or too large"),
    // Sign-in and sessions
    SiweInvalidMessage => ("siwe_invalid_message", 400, exit::REFUSED, "the sign-in message is not a valid EIP-4361 message"),
    SiweBadSignature => ("siwe_bad_signature", 401, exit::REFUSED, "the sign-in signature does not match the message's address"),
    SiweNonceInvalid => ("siwe_nonce_invalid", 401, exit::REFUSED, "the sign-in nonce is unknown, expired or already used"),
    SiweExpired => ("siwe_expired", 401, exit::REFUSED, "the sign-in message has expired or is not yet valid"),
    SiweDomainMismatch => ("siwe_domain_mismatch", 401, exit::REFUSED, "the sign-in message names another domain"),
    SiweChainMismatch => ("siwe_chain_mismatch", 401, exit::REFUSED, "the sign-in message names another chain id"),
    RateLimited => ("rate_limited", 429, exit::UNAVAILABLE, "too many requests from this network or key; retry in a minute"),
    SponsorBudgetExhausted => ("sponsor_budget_exhausted", 429, exit::UNAVAILABLE, "the relay has submitted as much as it allows this hour for this device, its operator or this network; retry later"),
    SigninBusy => ("signin_busy", 503, exit::UNAVAILABLE, "too many sign-ins completed in the last minutes to track another one safely; retry shortly"),
    SessionMissing => ("session_missing", 401, exit::REFUSED, "no session token was presented"),
    SessionInvalid => ("session_invalid", 401, exit::REFUSED, "the session token is invalid"),
    SessionExpired => ("session_expired", 401, exit::REFUSED, "the session token has expired"),
    OperatorMismatch => ("operator_mismatch", 403, exit::REFUSED, "the session's operator differs from the request's"),
    ActorNotPermitted => ("actor_not_permitted", 403, exit::REFUSED, "this device may not act for that actor"),
    // Capabilities
    CapMissing => ("cap_missing", 401, exit::REFUSED, "no capability token was presented"),
    CapMalformed => ("cap_malformed", 401, exit::REFUSED, "the capability token is malformed"),
    CapBadSignature => ("cap_bad_signature", 401, exit::REFUSED, "the capability token's signature is invalid"),
    CapUnknownKey => ("cap_unknown_key", 401, exit::REFUSED, "the capability token was signed by an unknown key"),
    CapWrongType => ("cap_wrong_type", 401, exit::REFUSED, "the token is not a capability token"),
    CapExpired => ("cap_expired", 401, exit::REFUSED, "the capability token has expired"),
    CapNotYetValid => ("cap_not_yet_valid", 401, exit::REFUSED, "the capability token is not valid yet"),
    CapWrongAudience => ("cap_wrong_audience", 401, exit::REFUSED, "the capability token is for another audience"),
    CapWrongIssuer => ("cap_wrong_issuer", 401, exit::REFUSED, "the capability token was issued by another broker"),
    CapOpMismatch => ("cap_op_mismatch", 403, exit::REFUSED, "the capability token does not allow this operation"),
    CapDataClassMismatch => ("cap_data_class_mismatch", 403, exit::REFUSED, "the capability token is for another data class"),
    CapServiceMismatch => ("cap_service_mismatch", 403, exit::REFUSED, "the capability token is for another service"),
    CapEpochMismatch => ("cap_epoch_mismatch", 403, exit::REFUSED, "the capability token names a stale key epoch"),
    // Proof of possession
    PopMissing => ("pop_missing", 401, exit::REFUSED, "no proof of possession was presented"),
    PopMalformed => ("pop_malformed", 401, exit::REFUSED, "the proof of possession is malformed"),
    PopInvalid => ("pop_invalid", 401, exit::REFUSED, "the proof of possession is not signed by the capability's key"),
    PopStale => ("pop_stale", 401, exit::REFUSED, "the proof of possession's timestamp is outside the allowed window"),
    PopReplayed => ("pop_replayed", 401, exit::REFUSED, "the proof of possession was already used"),
    // Storage and integrity
    SecretNotFound => ("secret_not_found", 404, exit::NOT_FOUND, "no secret is stored under that name"),
    ObjectIntegrityFailed => ("object_integrity_failed", 500, exit::INTEGRITY, "the stored object failed its integrity check (tampered, moved or corrupt)"),
    AlreadyExists => ("already_exists", 409, exit::INVALID_INPUT, "it already exists"),
    StorageAccessDenied => ("storage_access_denied", 403, exit::REFUSED, "the object store refused the caller's credentials for that object (another actor's prefix or another class's bucket)"),
    CallerCredentialsIncomplete => ("caller_credentials_incomplete", 401, exit::REFUSED, "caller credentials need all three of X-Aws-Access-Key-Id, X-Aws-Secret-Access-Key and X-Aws-Session-Token"),
    CallerCredentialsRequired => ("caller_credentials_required", 401, exit::REFUSED, "this vault requires the caller's own temporary storage credentials (X-Aws-* headers)"),
    StorageUnavailable => ("storage_unavailable", 503, exit::UNAVAILABLE, "the object store is unavailable"),
    AuditUnavailable => ("audit_unavailable", 503, exit::UNAVAILABLE, "the audit log cannot record; nothing is released until it can"),
    SignerUnavailable => ("signer_unavailable", 503, exit::UNAVAILABLE, "the signer is unavailable"),
    SignerUnauthorized => ("signer_unauthorized", 401, exit::REFUSED, "the caller may not use the signer"),
    UnwrapFailed => ("unwrap_failed", 400, exit::INTEGRITY, "the wrapped data key does not open for this object (operator, actor, class, name) and epoch"),
    EpochUnknown => ("epoch_unknown", 400, exit::INTEGRITY, "the object names a key epoch the signer does not hold"),
    DekContextMismatch => ("dek_context_mismatch", 403, exit::REFUSED, "the wrapped data key belongs to another object (operator, actor, class or name) than the capability's"),
    EnvelopeLegacyFormat => ("envelope_legacy_format", 409, exit::REFUSED, "the object is in envelope version 1, whose data key is not bound to its name; only the vault reads it (fetch through the vault)"),
    RoleDisabled => ("role_disabled", 404, exit::FAILURE, "this relay does not run that role"),
    Internal => ("internal", 500, exit::FAILURE, "internal error"),
    // Chain
    ChainUnavailable => ("chain_unavailable", 503, exit::UNAVAILABLE, "the chain cannot be reached"),
    ChainReverted => ("chain_reverted", 409, exit::REFUSED, "the chain refused the transaction"),
    TxInvalid => ("tx_invalid", 400, exit::INVALID_INPUT, "the transaction is malformed, unsigned, for another chain or from another device"),
    DeviceNotRegistered => ("device_not_registered", 403, exit::REFUSED, "this device is not registered on chain for the operator"),
    TxNotSponsored => ("tx_not_sponsored", 403, exit::REFUSED, "the relay submits transactions only for master devices, a device's own first registration and the epoch governance"),
    DeviceRevoked => ("device_revoked", 403, exit::REFUSED, "this device has been revoked on chain"),
    DeviceLacksRole => ("device_lacks_role", 403, exit::REFUSED, "this device does not hold the on-chain role CAP_MINT"),
    ServiceNotInScope => ("service_not_in_scope", 403, exit::REFUSED, "the service is not in the agent's on-chain scope"),
    RecordNotFound => ("record_not_found", 404, exit::NOT_FOUND, "no audit record of this operator has that id"),
    AuditNotAnchored => ("audit_not_anchored", 409, exit::UNAVAILABLE, "the record's batch is not anchored on chain yet; retry shortly"),
    AuditProofInvalid => ("audit_proof_invalid", 502, exit::INTEGRITY, "the audit record does not verify against the chain (its hash, its proof or the on-chain root differ)"),
    ChainStateCorrupt => ("chain_state_corrupt", 503, exit::INTEGRITY, "the embedded chain's saved state (its snapshot or journal) is damaged; the relay does not start on it"),
    // Daemon
    NotInitialized => ("not_initialized", 409, exit::NOT_INITIALIZED, "this device has no identity yet; run `agentkeys init`"),
    DeviceKeyLost => ("device_key_lost", 409, exit::NOT_INITIALIZED, "local state names a device whose key the keychain no longer holds; restore the key, or `agentkeys init --new-identity` to start over"),
    AlreadyInitialized => ("already_initialized", 409, exit::INVALID_INPUT, "this device already has an identity"),
    RelayUnreachable => ("relay_unreachable", 502, exit::RELAY_UNREACHABLE, "the relay cannot be reached"),
    RelayProtocol => ("relay_protocol", 502, exit::RELAY_UNREACHABLE, "the relay answered with something unexpected"),
    RelaySignatureInvalid => ("relay_signature_invalid", 502, exit::INTEGRITY, "a token from the relay is not signed by the relay key this device pinned at `agentkeys init`: something else may be answering at the relay's address; nothing was sent to it. If the relay was replaced on purpose, run `agentkeys init --repin`"),
    RelayChainMismatch => ("relay_chain_mismatch", 502, exit::INTEGRITY, "the relay names another chain than the one this device pinned at `agentkeys init`; nothing was signed or sent"),
    ChainViewMismatch => ("chain_view_mismatch", 502, exit::INTEGRITY, "the relay's account of the chain differs from the chain read directly at the configured RPC URL (another chain, no AgentKeys contracts there, or other device records)"),
    RelayKeyChanged => ("relay_key_changed", 409, exit::REFUSED, "the relay's signing key or chain differs from the one this device pinned; if the relay was replaced on purpose, run `agentkeys init --repin`"),
    PeerNotAllowed => ("peer_not_allowed", 403, exit::REFUSED, "the socket peer is not the daemon's user"),
    KeychainUnavailable => ("keychain_unavailable", 503, exit::UNAVAILABLE, "no keychain backend is available for the device key"),
    DaemonNotRunning => ("daemon_not_running", 503, exit::DAEMON_NOT_RUNNING, "the agentkeys daemon is not running; start it with `agentkeys up`"),
    RuntimeDirInsecure => ("runtime_dir_insecure", 403, exit::REFUSED, "the folder of the daemon socket is not private to this user (another owner, open to others, or a symbolic link); refusing to use it"),
    DaemonPeerForeign => ("daemon_peer_foreign", 403, exit::REFUSED, "the process at the daemon socket runs as another user; refusing to talk to it"),
    // Cloud credentials
    CloudNotConfigured => ("cloud_not_configured", 503, exit::UNAVAILABLE, "this relay has no cloud role configured for that data class"),
    StsFailed => ("sts_failed", 502, exit::UNAVAILABLE, "the cloud's token service refused or could not be reached"),
    // Passkey ceremonies
    CeremonyTimeout => ("ceremony_timeout", 408, exit::FAILURE, "the passkey ceremony was not completed in time; run the command again and approve in the browser"),
    CeremonyFailed => ("ceremony_failed", 400, exit::REFUSED, "the passkey ceremony failed: the browser reported an error, or its answer did not verify"),
    PasskeyNotVerified => ("passkey_not_verified", 401, exit::REFUSED, "the authenticator did not verify the user (PIN, biometrics); user verification is required"),
    // Approvals between devices (the relay's mailbox)
    ApprovalInvalid => ("approval_invalid", 400, exit::INVALID_INPUT, "the approval request or answer is malformed"),
    ApprovalSignatureInvalid => ("approval_signature_invalid", 400, exit::REFUSED, "the approval request is not signed by its requester's device key"),
    ApproverNotPermitted => ("approver_not_permitted", 403, exit::REFUSED, "that device may not approve for this operator (another operator's device, an agent, revoked, or the requester itself)"),
    ApprovalNotYours => ("approval_not_yours", 403, exit::REFUSED, "this approval request was asked by or addressed to another device"),
    ApprovalNotFound => ("approval_not_found", 404, exit::NOT_FOUND, "no approval request has that id (unknown, or dropped after it ended)"),
    ApprovalExpired => ("approval_expired", 410, exit::FAILURE, "the approval request has expired; ask again"),
    ApprovalAnswered => ("approval_answered", 409, exit::REFUSED, "the approval request was already answered (or already submitted)"),
    ApprovalsFull => ("approvals_full", 429, exit::UNAVAILABLE, "too many approval requests or streams are open; retry shortly"),
    PasskeyRequired => ("passkey_required", 403, exit::REFUSED, "this needs the device's passkey, and it has none; run `agentkeys init` to enroll one"),
    // Jobs, agents and per-child tokens on the daemon socket
    JobNotFound => ("job_not_found", 404, exit::NOT_FOUND, "no such job; it ended more than ten minutes ago or never existed"),
    AgentNotFound => ("agent_not_found", 404, exit::NOT_FOUND, "no agent of this device has that name; see `agentkeys agent list`"),
    AgentExists => ("agent_exists", 409, exit::INVALID_INPUT, "an active agent already has that name"),
    AgentRevoked => ("agent_revoked", 403, exit::REFUSED, "the agent has been revoked"),
    AgentTokenMissing => ("agent_token_missing", 401, exit::REFUSED, "a request acting as an agent must carry that agent's token (AGENTKEYS_AGENT_TOKEN, set by `agentkeys run --agent`)"),
    AgentTokenInvalid => ("agent_token_invalid", 403, exit::REFUSED, "the agent token is unknown, expired, or belongs to another agent"),
    WouldStrand => ("would_strand", 409, exit::REFUSED, "that change would leave fewer RECOVERY masters than the recovery threshold; nothing was submitted"),
    ThresholdInvalid => ("threshold_invalid", 400, exit::INVALID_INPUT, "the recovery threshold must be between 1 and the number of active RECOVERY masters"),
    CompanionNotReady => ("companion_not_ready", 409, exit::REFUSED, "the companion has no passkey yet; run `agentkeys companion init` on it first"),
    DeviceAlreadyRegistered => ("device_already_registered", 409, exit::REFUSED, "that device is already registered on chain (to this or another operator), or was revoked; a device key is registered once"),
    DeviceConsentMissing => ("device_consent_missing", 409, exit::REFUSED, "the new device did not consent with its own key to joining this operator"),
    DeviceForeignOperator => ("device_foreign_operator", 409, exit::REFUSED, "the chain holds this device as a master of an operator it never joined; it refuses to act for that operator"),
    AgentNotPermitted => ("agent_not_permitted", 403, exit::REFUSED, "an agent may only read and list its own secrets"),
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ErrorCode::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown error code `{s}`")))
    }
}

/// The error every HTTP API of the project returns: `{"error":{"code":..,"message":..}}`.
/// Messages never contain secrets or tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
        }
    }

    pub fn from_code(code: ErrorCode) -> Self {
        ApiError {
            code,
            message: code.default_message().to_string(),
        }
    }

    pub fn status(&self) -> u16 {
        self.code.http_status()
    }

    pub fn to_body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code.as_str().to_string(),
                message: self.message.clone(),
            },
        }
    }
}

impl From<ErrorCode> for ApiError {
    fn from(code: ErrorCode) -> Self {
        ApiError::from_code(code)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl std::error::Error for ApiError {}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// `code` stays a string on the wire so that an older client can still show a newer code.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
}

impl ErrorBody {
    pub fn into_api_error(self) -> ApiError {
        let code = ErrorCode::parse(&self.error.code).unwrap_or(ErrorCode::Internal);
        ApiError {
            code,
            message: self.error.message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_and_roundtrip() {
        let mut seen = HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "duplicate {}", code);
            assert_eq!(ErrorCode::parse(code.as_str()), Some(*code));
            assert!((400..600).contains(&code.http_status()));
            assert!(code
                .as_str()
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '_'));
        }
    }

    #[test]
    fn body_shape() {
        let body = ApiError::from_code(ErrorCode::PopReplayed).to_body();
        let json = serde_json::to_string(&body).unwrap();
        assert!(json.starts_with(r#"{"error":{"code":"pop_replayed","message":"#));
        let back: ErrorBody = serde_json::from_str(&json).unwrap();
        assert_eq!(back.into_api_error().code, ErrorCode::PopReplayed);
    }
}
