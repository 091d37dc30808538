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
//!
//! Only the canonical signature encoding is accepted (v 27/28, low s: `pop_malformed`
//! otherwise), and a proof is single-use by what it signs, (jti, nonce), never by its bytes: a
//! re-spelled signature names the same (jti, nonce) and is refused as a replay.

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

/// A verified proof. `replay_key` keys the replay cache: it names the (jti, nonce) that was
/// signed, so any other spelling of the same proof collides with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedPop {
    pub ts: u64,
    pub replay_key: [u8; 32],
}

/// The replay-cache key of a proof: SHA-256 over the capability's `jti` and the proof's nonce.
/// The nonce has a fixed length and comes last, so the pair cannot be split two ways.
pub fn replay_key(jti: &str, nonce: &str) -> [u8; 32] {
    sha256(format!("agentkeys-pop-replay-v1\n{jti}\n{nonce}").as_bytes())
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
            replay_key: replay_key(jti, &p.nonce),
        }),
        _ => Err(ErrorCode::PopInvalid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device_key::tests::high_s_twin;

    const NOW: u64 = 1_760_000_010;
    const NONCE: &str = "000102030405060708090a0b0c0d0e0f";

    fn header_parts(h: &str) -> (String, RecoverableSignature) {
        let (head, sig) = h.split_once(",sig=0x").unwrap();
        let mut out = [0u8; 65];
        hex::decode_to_slice(sig, &mut out).unwrap();
        (head.to_string(), out)
    }

    fn verify_at(h: &str, key: &DeviceKey) -> Result<VerifiedPop, ErrorCode> {
        verify(h, "jti1", &key.address(), "POST", "/p", b"{}", NOW)
    }

    #[test]
    fn only_the_canonical_spelling_verifies() {
        let key = DeviceKey::from_bytes(&[0x11; 32]).unwrap();
        let h = sign_with_nonce(&key, "jti1", "POST", "/p", b"{}", NOW, NONCE);
        let ok = verify_at(&h, &key).unwrap();
        assert_eq!(ok.replay_key, replay_key("jti1", NONCE));
        let (head, sig) = header_parts(&h);
        let spell = |s: &RecoverableSignature| format!("{head},sig=0x{}", hex::encode(s));
        // v as 0/1 instead of 27/28: another spelling of the same proof, refused as such.
        let mut v01 = sig;
        v01[64] -= 27;
        assert_eq!(verify_at(&spell(&v01), &key), Err(ErrorCode::PopMalformed));
        // The mirrored s with the flipped parity is valid ECDSA but not canonical.
        assert_eq!(
            verify_at(&spell(&high_s_twin(&sig)), &key),
            Err(ErrorCode::PopMalformed)
        );
        // 27 <-> 28 is canonical in form but recovers another key.
        let mut flipped = sig;
        flipped[64] = 55 - flipped[64];
        assert!(flipped[64] == 27 || flipped[64] == 28);
        assert_eq!(
            verify_at(&spell(&flipped), &key),
            Err(ErrorCode::PopInvalid)
        );
    }

    #[test]
    fn the_replay_key_is_what_was_signed() {
        let key = DeviceKey::from_bytes(&[0x11; 32]).unwrap();
        let a = sign_with_nonce(&key, "jti1", "POST", "/p", b"{}", NOW, NONCE);
        let b = sign_with_nonce(&key, "jti1", "POST", "/p", b"{}", NOW - 1, NONCE);
        // Another timestamp is another signature, yet the same (jti, nonce): one use only.
        assert_ne!(header_parts(&a).1, header_parts(&b).1);
        assert_eq!(
            verify_at(&a, &key).unwrap().replay_key,
            verify_at(&b, &key).unwrap().replay_key
        );
        let other = "f".repeat(32);
        assert_ne!(replay_key("jti1", NONCE), replay_key("jti1", &other));
        assert_ne!(replay_key("jti1", NONCE), replay_key("jti2", NONCE));
    }
}
