//! The tagged form a device key takes inside any backend: `agentkeys:k10:v1:<64 hex>`.
//!
//! The tag makes every stored secret say what it is for, so a value written for another
//! purpose (a session key, another program's secret under a colliding name) is refused
//! instead of silently becoming the device identity.

use zeroize::Zeroizing;

use super::KeychainError;

/// Purpose and format version of the device key, without the trailing separator.
pub(crate) const DEVICE_KEY_TAG: &str = "agentkeys:k10:v1";

/// Tag for the throwaway secrets written while probing a backend, so a probe entry that
/// survives a crash can never be mistaken for a device key.
pub(crate) const PROBE_TAG: &str = "agentkeys:probe:v1";

const SECRET_LEN: usize = 32;
const HEX_LEN: usize = SECRET_LEN * 2;

/// Encodes `secret` as `<tag>:<hex>`; the buffer is preallocated so no partial copy of the
/// hex is left behind by a reallocation.
pub(crate) fn encode_tagged(tag: &str, secret: &[u8; SECRET_LEN]) -> Zeroizing<Vec<u8>> {
    let mut hex_buf = Zeroizing::new([0u8; HEX_LEN]);
    // Cannot fail: the output buffer is exactly twice the input length.
    let _ = hex::encode_to_slice(secret, &mut hex_buf[..]);
    let mut out = Zeroizing::new(Vec::with_capacity(tag.len() + 1 + HEX_LEN));
    out.extend_from_slice(tag.as_bytes());
    out.push(b':');
    out.extend_from_slice(&hex_buf[..]);
    out
}

pub(crate) fn encode_device_key(secret: &[u8; SECRET_LEN]) -> Zeroizing<Vec<u8>> {
    encode_tagged(DEVICE_KEY_TAG, secret)
}

/// Decodes a stored value that must carry `tag`. Anything not carrying exactly this tag is
/// `WrongPurpose`; the right tag with a bad body is `Corrupt`. Error messages never echo the
/// stored bytes.
pub(crate) fn decode_tagged(
    tag: &str,
    raw: &[u8],
) -> Result<Zeroizing<[u8; SECRET_LEN]>, KeychainError> {
    let body = raw
        .strip_prefix(tag.as_bytes())
        .and_then(|rest| rest.strip_prefix(b":"))
        .ok_or(KeychainError::WrongPurpose)?;
    if body.len() != HEX_LEN {
        return Err(KeychainError::Corrupt(format!(
            "expected {HEX_LEN} hex digits after the tag, found {}",
            body.len()
        )));
    }
    let mut out = Zeroizing::new([0u8; SECRET_LEN]);
    // hex's error names the offending character, which is part of the secret: drop it.
    hex::decode_to_slice(body, &mut out[..])
        .map_err(|_| KeychainError::Corrupt("the key body is not valid hex".to_string()))?;
    Ok(out)
}

pub(crate) fn decode_device_key(raw: &[u8]) -> Result<Zeroizing<[u8; SECRET_LEN]>, KeychainError> {
    decode_tagged(DEVICE_KEY_TAG, raw)
}
