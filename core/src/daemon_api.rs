//! Wire types of the daemon socket beyond secrets: jobs (operations that wait for a passkey
//! ceremony), agents, scopes, per-child agent tokens, masters and recovery, the companion.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::chain::{DeviceView, TxReceiptView};
use crate::error::ErrorBody;
use crate::identity::{Address, Omni};
use crate::passkey::P256PublicKey;

/// Names the agent a request acts as (`agentkeys run --agent` sets it for the child).
pub const AGENT_HEADER: &str = "x-agentkeys-agent";
/// The per-child token that proves a request may act as that agent.
pub const AGENT_TOKEN_HEADER: &str = "x-agentkeys-agent-token";
/// On `store` only: write into that agent's own prefix (a master operation, no token).
pub const STORE_FOR_HEADER: &str = "x-agentkeys-for";

// ---- jobs ----

/// Answer to an operation that may need a passkey: poll `GET /v1/jobs/{job}`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct JobStarted {
    pub job: String,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Running,
    Done,
    Failed,
}

/// A passkey page waiting for the person.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct CeremonyPrompt {
    /// One-shot page on `http://<rp id>:<port>/<token>`.
    pub url: String,
    /// The program that opened the page, or `None`: then the URL must be shown.
    pub opened_with: Option<String>,
    /// "primary" or "companion".
    pub role: String,
    pub rp_id: String,
    /// The operation in words, as the page shows it.
    pub operation: String,
}

/// `GET /v1/jobs/{job}?after=<seq>`: waits (up to 25 s) for a state newer than `seq`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct JobView {
    pub job: String,
    /// Increases with every change.
    pub seq: u64,
    pub state: JobState,
    /// What the job is doing now, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Set while a ceremony page waits for the person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ceremony: Option<CeremonyPrompt>,
    /// Something the person must do elsewhere (approve on another device), shown once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<String>,
    /// The operation's answer once `done`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
    /// The operation's refusal once `failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

// ---- init ----

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct InitRequest {
    /// Enroll a passkey (K11) and give the device every master role. Without one the device
    /// may only use its own secrets.
    #[serde(default = "yes")]
    pub passkey: bool,
    /// On a machine without a browser: the companion (elsewhere) whose passkey becomes this
    /// device's K11; it approves through the relay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approver: Option<CompanionWhoami>,
    /// Replace the pinned relay keys and chain when the relay's differ (a relay replaced on
    /// purpose); without it such a relay is refused with `relay_key_changed`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub repin: bool,
    /// Make a new device identity when local state names a device whose key the keychain
    /// lost; without it `init` refuses with `device_key_lost`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub new_identity: bool,
}

fn yes() -> bool {
    true
}

impl Default for InitRequest {
    fn default() -> Self {
        InitRequest {
            passkey: true,
            approver: None,
            repin: false,
            new_identity: false,
        }
    }
}

// ---- agents ----

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AgentNameRequest {
    pub name: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AgentView {
    pub name: String,
    pub generation: u32,
    /// The agent's own device key (K10) address.
    pub device: Address,
    pub actor: Omni,
    pub created_at: u64,
    /// Revoked locally (and on chain unless `on_chain` says otherwise).
    pub revoked: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_chain: Option<DeviceView>,
    /// The services of its on-chain scope (names this device set; unknown hashes as `0x…`).
    #[serde(default)]
    pub scope: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AgentList {
    pub agents: Vec<AgentView>,
}

/// `agent revoke NAME [--purge]`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AgentRevokeRequest {
    pub name: String,
    /// Delete the agent's credentials and memory before it is revoked.
    #[serde(default)]
    pub purge: bool,
}

/// An object `agent revoke --purge` deleted.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PurgedObject {
    pub class: crate::names::DataClass,
    pub name: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AgentRevoked {
    pub agent: AgentView,
    pub receipt: TxReceiptView,
    /// With `--purge`: every object deleted, credentials first.
    #[serde(default)]
    pub purged: Vec<PurgedObject>,
}

/// A per-child token: it lets one process act as one agent until revoked or the daemon stops.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AgentToken {
    pub agent: String,
    pub token: String,
}

impl fmt::Debug for AgentToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentToken")
            .field("agent", &self.agent)
            .field("token", &"redacted")
            .finish()
    }
}

#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AgentTokenRevoke {
    pub token: String,
}

impl fmt::Debug for AgentTokenRevoke {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AgentTokenRevoke { token: redacted }")
    }
}

// ---- scopes ----

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ScopeSetRequest {
    pub agent: String,
    pub services: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ScopeShow {
    pub agent: String,
    pub actor: Omni,
    pub services: Vec<String>,
    pub nonce: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<TxReceiptView>,
}

// ---- masters, recovery, companion ----

/// What a companion tells the primary so it can be added as a master.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct CompanionWhoami {
    pub device: Address,
    pub role: String,
    pub rp_id: String,
    /// `None` before the companion enrolled its passkey (`agentkeys companion init`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passkey: Option<P256PublicKey>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<Omni>,
}

/// `agentkeys device add`: the companion as its `whoami` describes it (read from its socket
/// on this machine, or pasted from another). Its passkey proves itself through the relay.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DeviceAddRequest {
    pub companion: CompanionWhoami,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ThresholdRequest {
    pub threshold: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RevokeDeviceRequest {
    /// The master to revoke: its address.
    pub device: Address,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct MasterChange {
    /// The device added or revoked (for a threshold change, this device).
    pub device: Address,
    /// Whose passkeys approved, this device first.
    pub approvers: Vec<Address>,
    pub receipt: TxReceiptView,
    pub recovery_threshold: u32,
    pub active_recovery_masters: u32,
}
