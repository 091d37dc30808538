//! Proof of possession (ARCHITECTURE §5): every vault request carries a K10 signature over the
//! capability's `jti`, the method, the path, the SHA-256 of the body, a timestamp and a random
//! nonce.
//!
//! Signing input (UTF-8, `\n`-separated, no trailing newline):
//! `agentkeys-pop-v1 \n jti \n METHOD \n path \n hex(sha256(body)) \n unix_seconds \n nonce`;
//! the signature is a recoverable secp256k1 signature over keccak256 of that input, sent as
//! `x-agentkeys-pop: t=<unix_seconds>,n=<nonce>,sig=0x<130 hex digits>`.
//!
//! The nonce (16 random bytes, 32 lowercase hex digits) makes every proof unique: signatures
//! are deterministic (RFC 6979), so without it two identical requests in the same second would
//! carry the same proof and the second would be refused as a replay.

use crate::device_key::{parse_signature_hex, recover_prehash, DeviceKey, RecoverableSignature};
use crate::error::ErrorCode;
use crate::identity::{keccak256, sha256, Address};
use rand::RngCore;

pub const POP_HEADER: &str = "x-agentkeys-pop";
pub const POP_WINDOW_SECS: u64 = 60;
const NONCE_HEX_LEN: usize = 32;

pub fn signing_input(
    jti: &str,
    method: &str,
    path: &str,
    body: &[u8],
    ts: u64,
    nonce: &str,
) -> String {
    format!(
        "agentkeys-pop-v1\n{jti}\n{}\n{path}\n{}\n{ts}\n{nonce}",
        method.to_ascii_uppercase(),
        hex::encode(sha256(body))
    )
}

pub fn sign(key: &DeviceKey, jti: &str, method: &str, path: &str, body: &[u8], ts: u64) -> String {
    let mut raw = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    sign_with_nonce(key, jti, method, path, body, ts, &hex::encode(raw))
}

/// Deterministic form for known-answer tests; production callers use [`sign`].
pub fn sign_with_nonce(
    key: &DeviceKey,
    jti: &str,
    method: &str,
    path: &str,
    body: &[u8],
    ts: u64,
    nonce: &str,
) -> String {
    let digest = keccak256(signing_input(jti, method, path, body, ts, nonce).as_bytes());
    let sig = key.sign_prehash(&digest);
    format!("t={ts},n={nonce},sig=0x{}", hex::encode(sig))
}

/// A verified proof; `sig` is unique per proof (random nonce, low-s enforced) and keys the
/// replay cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedPop {
    pub ts: u64,
    pub sig: RecoverableSignature,
}

struct ParsedPop {
    ts: u64,
    nonce: String,
    sig: RecoverableSignature,
}

fn parse_header(value: &str) -> Result<ParsedPop, ErrorCode> {
    let mut ts = None;
    let mut nonce = None;
    let mut sig = None;
    for part in value.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) if ts.is_none() => ts = v.parse::<u64>().ok(),
            Some(("n", v)) if nonce.is_none() => {
                let ok = v.len() == NONCE_HEX_LEN
                    && v.bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
                nonce = ok.then(|| v.to_string());
            }
            Some(("sig", v)) if sig.is_none() => sig = parse_signature_hex(v),
            _ => return Err(ErrorCode::PopMalformed),
        }
    }
    match (ts, nonce, sig) {
        (Some(ts), Some(nonce), Some(sig)) => Ok(ParsedPop { ts, nonce, sig }),
        _ => Err(ErrorCode::PopMalformed),
    }
}

pub fn verify(
    header: &str,
    jti: &str,
    cnf: &Address,
    method: &str,
    path: &str,
    body: &[u8],
    now: u64,
) -> Result<VerifiedPop, ErrorCode> {
    let p = parse_header(header)?;
    if p.ts.abs_diff(now) > POP_WINDOW_SECS {
        return Err(ErrorCode::PopStale);
    }
    let digest = keccak256(signing_input(jti, method, path, body, p.ts, &p.nonce).as_bytes());
    match recover_prehash(&digest, &p.sig) {
        Some(addr) if addr == *cnf => Ok(VerifiedPop {
            ts: p.ts,
            sig: p.sig,
        }),
        _ => Err(ErrorCode::PopInvalid),
    }
}
