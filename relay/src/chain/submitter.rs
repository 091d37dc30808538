//! The relay's own chain account (secp256k1), kept like every relay secret: a 0600 file under
//! the data directory, made at first boot for the embedded chain, or named in configuration
//! for a real node (where it must be funded).

use crate::keys;
use alloy::signers::local::PrivateKeySigner;
use std::path::Path;
use zeroize::Zeroizing;

pub const SUBMITTER_FILE: &str = "chain/submitter.key";
const TAG: &str = "agentkeys-chain-submitter-v1";

/// Loads the key at `path`, creating it when `create` is set and it does not exist.
/// The file holds `agentkeys-chain-submitter-v1 <64 hex>`; a bare 64-hex (optionally `0x`)
/// key is accepted too, as node tooling prints them.
pub fn load(path: &Path, create: bool) -> Result<PrivateKeySigner, String> {
    let bytes = if create {
        keys::load_or_create(path, || {
            let signer = PrivateKeySigner::random();
            Zeroizing::new(format!("{TAG} {}\n", hex::encode(signer.to_bytes())).into_bytes())
        })
        .map_err(|e| e.to_string())?
    } else {
        keys::read_secret_file(path)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("{} does not exist", path.display()))?
    };
    parse(&bytes).ok_or_else(|| format!("{} does not hold a chain key", path.display()))
}

fn parse(bytes: &[u8]) -> Option<PrivateKeySigner> {
    let text = std::str::from_utf8(bytes).ok()?.trim();
    let hex_key = text.strip_prefix(TAG).map(str::trim).unwrap_or(text);
    let hex_key = hex_key.strip_prefix("0x").unwrap_or(hex_key);
    let mut raw = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(hex_key, raw.as_mut()).ok()?;
    PrivateKeySigner::from_slice(raw.as_ref()).ok()
}
