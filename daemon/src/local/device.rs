//! `device.json`: which device this machine is (its K10 address and the keychain that holds
//! the key). Public data only. It is what lets the daemon tell "never initialized" from "the
//! keychain lost the key": without it, a lost key looked like a fresh machine and `init`
//! silently made a new identity, orphaning every secret of the old one.

use std::path::Path;

use agentkeys_core::error::ApiError;
use agentkeys_core::identity::Address;
use serde::{Deserialize, Serialize};

const FILE: &str = "device.json";

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeviceRecord {
    pub address: Address,
    /// The keychain backend the key was stored in (`keyutils`, `secret-service`, `file`, ...).
    pub backend: String,
}

pub fn load(data_dir: &Path) -> Result<Option<DeviceRecord>, ApiError> {
    super::read_json(&data_dir.join(FILE))
}

/// Whether the daemon folder shows a device initialized before `device.json` existed: files
/// written only once a device key existed (its passkey, its agents, operators it joined).
pub fn initialized_before_record(data_dir: &Path) -> bool {
    ["passkey.json", "agents.json", "joined.json"]
        .iter()
        .any(|f| data_dir.join(f).exists())
}

pub fn save(data_dir: &Path, record: &DeviceRecord) -> Result<(), ApiError> {
    super::write_json(&data_dir.join(FILE), record)
}
