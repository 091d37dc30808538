//! Proof of possession (ARCHITECTURE §5): every vault request carries a K10 signature over the
//! capability's `jti`, the method, the path, the SHA-256 of the body and a timestamp.
//!
//! Signing input (UTF-8, `\n`-separated, no trailing newline):
//! `agentkeys-pop-v1 \n jti \n METHOD \n path \n hex(sha256(body)) \n unix_seconds`; the
//! signature is a recoverable secp256k1 signature over keccak256 of that input, sent as
//! `x-agentkeys-pop: t=<unix_seconds>,sig=0x<130 hex digits>`.

use crate::device_key::{parse_signature_hex, recover_prehash, DeviceKey, RecoverableSignature};
use crate::error::ErrorCode;
use crate::identity::{keccak256, sha256, Address};

pub const POP_HEADER: &str = "x-agentkeys-pop";
pub const POP_WINDOW_SECS: u64 = 60;

pub fn signing_input(jti: &str, method: &str, path: &str, body: &[u8], ts: u64) -> String {
    format!(
        "agentkeys-pop-v1\n{jti}\n{}\n{path}\n{}\n{ts}",
        method.to_ascii_uppercase(),
        hex::encode(sha256(body))
    )
}

pub fn sign(key: &DeviceKey, jti: &str, method: &str, path: &str, body: &[u8], ts: u64) -> String {
    let digest = keccak256(signing_input(jti, method, path, body, ts).as_bytes());
    let sig = key.sign_prehash(&digest);
    format!("t={ts},sig=0x{}", hex::encode(sig))
}

/// A verified proof; `sig` is unique per proof (low-s enforced) and keys the replay cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedPop {
    pub ts: u64,
    pub sig: RecoverableSignature,
}

pub fn parse_header(value: &str) -> Result<(u64, RecoverableSignature), ErrorCode> {
    let mut ts = None;
    let mut sig = None;
    for part in value.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) if ts.is_none() => ts = v.parse::<u64>().ok(),
            Some(("sig", v)) if sig.is_none() => sig = parse_signature_hex(v),
            _ => return Err(ErrorCode::PopMalformed),
        }
    }
    match (ts, sig) {
        (Some(ts), Some(sig)) => Ok((ts, sig)),
        _ => Err(ErrorCode::PopMalformed),
    }
}

#[allow(clippy::too_many_arguments)]
pub fn verify(
    header: &str,
    jti: &str,
    cnf: &Address,
    method: &str,
    path: &str,
    body: &[u8],
    now: u64,
) -> Result<VerifiedPop, ErrorCode> {
    let (ts, sig) = parse_header(header)?;
    if ts.abs_diff(now) > POP_WINDOW_SECS {
        return Err(ErrorCode::PopStale);
    }
    let digest = keccak256(signing_input(jti, method, path, body, ts).as_bytes());
    match recover_prehash(&digest, &sig) {
        Some(addr) if addr == *cnf => Ok(VerifiedPop { ts, sig }),
        _ => Err(ErrorCode::PopInvalid),
    }
}
