//! `approver.json`: the companion whose passkey is this device's K11, when this device has no
//! browser of its own (a server approving through a laptop). Public data only.

use std::path::Path;

use agentkeys_core::daemon_api::CompanionWhoami;
use agentkeys_core::error::ApiError;

const FILE: &str = "approver.json";

pub fn load(data_dir: &Path) -> Result<Option<CompanionWhoami>, ApiError> {
    super::read_json(&data_dir.join(FILE))
}

pub fn save(data_dir: &Path, approver: &CompanionWhoami) -> Result<(), ApiError> {
    super::write_json(&data_dir.join(FILE), approver)
}
