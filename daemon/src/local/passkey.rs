//! The public part of this device's enrolled passkey (K11): which credential to ask for and
//! the key the chain holds. The private key never leaves the authenticator.

use std::path::{Path, PathBuf};

use agentkeys_core::error::ApiError;
use agentkeys_core::passkey::EnrolledPasskey;

const FILE: &str = "passkey.json";

pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE)
}

pub fn load(data_dir: &Path) -> Result<Option<EnrolledPasskey>, ApiError> {
    super::read_json(&path(data_dir))
}

pub fn save(data_dir: &Path, passkey: &EnrolledPasskey) -> Result<(), ApiError> {
    super::write_json(&path(data_dir), passkey)
}
