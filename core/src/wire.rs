//! Request and response bodies of every HTTP API in the project, defined once: broker, signer,
//! vault, audit, health, and the daemon's socket API. Secret values travel base64-encoded in
//! [`SecretValue`], which never prints its contents.

use crate::b64;
use crate::identity::{Address, Omni};
use crate::names::DataClass;
use crate::siwe_msg::SiweChallenge;
use serde::{Deserialize, Serialize};
use std::fmt;
use zeroize::{Zeroize, Zeroizing};

/// Largest JSON body any relay or daemon endpoint accepts (a 1 MiB secret, base64, plus JSON).
pub const MAX_BODY_BYTES: usize = 1536 * 1024;

/// A secret value on the wire (base64). Zeroized on drop; `Debug` shows only its length.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize, Zeroize)]
#[zeroize(drop)]
#[serde(transparent)]
pub struct SecretValue(String);

impl SecretValue {
    pub fn from_bytes(bytes: &[u8]) -> SecretValue {
        SecretValue(b64::encode(bytes))
    }

    pub fn decode(&self) -> Option<Zeroizing<Vec<u8>>> {
        b64::decode(&self.0).map(Zeroizing::new)
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretValue(redacted, {} b64 chars)", self.0.len())
    }
}

// ---- broker ----

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiweStartRequest {
    pub address: Address,
}

pub type SiweStartResponse = SiweChallenge;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiweVerifyRequest {
    pub message: String,
    /// 0x-prefixed hex of r ‖ s ‖ v
    pub signature: String,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct SessionResponse {
    pub session: String,
    pub expires_at: u64,
    pub device: Address,
    pub operator: Omni,
    pub actor: Omni,
}

impl fmt::Debug for SessionResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionResponse")
            .field("session", &"redacted")
            .field("expires_at", &self.expires_at)
            .field("device", &self.device)
            .field("operator", &self.operator)
            .finish()
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapRequest {
    pub operator: Omni,
    pub actor: Omni,
    /// service or namespace; `*` for list capabilities
    pub service: String,
    #[serde(default)]
    pub ttl_secs: Option<u64>,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct CapResponse {
    pub cap: String,
    pub expires_at: u64,
}

impl fmt::Debug for CapResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CapResponse(redacted, expires_at {})", self.expires_at)
    }
}

// ---- signer ----

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WrapRequest {
    pub data_class: DataClass,
    pub operator: Omni,
    pub actor: Omni,
    /// The object's name, bound into the wrapping (envelope version 2).
    pub name: String,
    pub dek: SecretValue,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WrapResponse {
    pub epoch: u32,
    /// base64 of the 60-byte wrapped key
    pub wrapped: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnwrapRequest {
    /// The envelope version the key was wrapped for; version 1 ignores operator and name.
    pub version: u8,
    pub data_class: DataClass,
    pub operator: Omni,
    pub actor: Omni,
    pub name: String,
    pub epoch: u32,
    pub wrapped: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UnwrapResponse {
    pub dek: SecretValue,
}

// ---- vault (credentials and memory share shapes; `name` is the service or namespace) ----

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutRequest {
    pub name: String,
    pub value: SecretValue,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PutResponse {
    pub name: String,
    pub stored: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NameRequest {
    pub name: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GetResponse {
    pub name: String,
    pub value: SecretValue,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct TeardownResponse {
    pub name: String,
    pub deleted: bool,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListRequest {}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ListResponse {
    pub names: Vec<String>,
}

// ---- health ----

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReadyCheck {
    pub name: String,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReadyResponse {
    pub ready: bool,
    pub checks: Vec<ReadyCheck>,
}

// ---- daemon socket ----

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DaemonStatus {
    pub version: String,
    pub pid: u32,
    pub initialized: bool,
    pub device: Option<Address>,
    pub operator: Option<Omni>,
    pub relay_url: String,
    pub relay_reachable: bool,
    pub keychain_backend: String,
    pub keychain_fallback: bool,
    /// false for the Linux kernel keyring, whose keys are lost at reboot
    #[serde(default = "default_true")]
    pub keychain_survives_reboot: bool,
}

fn default_true() -> bool {
    true
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InitResponse {
    pub device: Address,
    pub operator: Omni,
    /// false when the identity already existed and only sign-in happened
    pub created: bool,
    /// Set when this call registered the device on chain as its operator's first master.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered: Option<crate::chain::TxReceiptView>,
    /// The device's on-chain entry after init.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_on_chain: Option<crate::chain::DeviceView>,
    /// The relay keys and chain this device now verifies the relay against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay_pin: Option<RelayPinView>,
}

/// The pinned relay, as `init` reports it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct RelayPinView {
    /// `SHA256:<RFC 7638 thumbprint>` of each session key.
    pub fingerprints: Vec<String>,
    pub chain_id: u64,
    /// This init pinned for the first time (or confirmed a pin taken on first use).
    pub new: bool,
    /// `--repin` replaced these fingerprints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced: Option<Vec<String>>,
}

/// Answer to `POST /v1/shutdown`: the daemon stops accepting and drains after answering.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ShutdownResponse {
    pub stopping: bool,
}

// ---- direct backend: the vault wraps and unwraps data keys, the caller moves the bytes ----

/// `POST /v1/{cred,memory}/dek-wrap` (capability for `store` of `name`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DekWrapRequest {
    pub name: String,
    /// The envelope version the caller will write; only the current one is wrapped for, so a
    /// caller that would label a bound key as version 1 is refused instead of writing an
    /// object nobody can read.
    pub version: u8,
}

/// A fresh data key, and the same key wrapped by the signer for the cap's operator, actor,
/// class and object name.
#[derive(Clone, Serialize, Deserialize)]
pub struct DekWrapResponse {
    pub epoch: u32,
    /// base64
    pub wrapped_dek: String,
    /// base64; a secret: the caller seals with it and drops it.
    pub dek: String,
}

impl fmt::Debug for DekWrapResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DekWrapResponse")
            .field("epoch", &self.epoch)
            .field("dek", &"redacted")
            .finish()
    }
}

/// `POST /v1/{cred,memory}/dek-unwrap` (capability for `fetch` of `name`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DekUnwrapRequest {
    pub name: String,
    /// The envelope's version byte; version 1 keys are never unwrapped for a caller.
    pub version: u8,
    pub epoch: u32,
    /// base64
    pub wrapped_dek: String,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct DekUnwrapResponse {
    /// base64; a secret.
    pub dek: String,
}

impl fmt::Debug for DekUnwrapResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DekUnwrapResponse { dek: redacted }")
    }
}
