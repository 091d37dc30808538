//! The audit formats a reader recomputes (ARCHITECTURE §9): the record hash that chains the
//! relay's audit log, and the Merkle path from a record to the batch root anchored on chain.
//! Both live here, without I/O, so the relay that writes records and the daemon and CLI that
//! check them compute the same bytes.
//!
//! # Record hash (`agentkeys/audit/v1`)
//!
//! ```text
//! hash = lowercase_hex( SHA-256(
//!     "agentkeys/audit/v1"            18 ASCII bytes, no length prefix, no terminator
//!  || prev_hash                        32 raw bytes (hex-decoded previous record hash;
//!                                      32 zero bytes for the first record)
//!  || LP(u64_be(id))                   id starts at 1 and increases by exactly 1
//!  || LP(i64_be(time_ms))              Unix milliseconds, two's complement
//!  || LP(operator) || LP(device) || LP(actor) || LP(service)
//!  || LP(op) || LP(data_class) || LP(outcome) || LP(cap_jti_hash)
//! ))
//! LP(x) = u32_be(byte_length(x)) || x        strings are their UTF-8 bytes
//! ```
//!
//! Every variable field carries its length, so no two distinct records share an encoding
//! (e.g. `service="ab", op="c"` differs from `service="a", op="bc"`). The integers are
//! length-prefixed too, purely so that every field follows the same rule. Record hashes are
//! stored, sent and compared as 64 lowercase hex characters without `0x`; the genesis
//! `prev_hash` is [`GENESIS_PREV_HASH`] (64 `0` characters).
//!
//! # Batch tree
//!
//! leaf = keccak256(0x00 ‖ record hash bytes), node = keccak256(0x01 ‖ min(a, b) ‖ max(a, b)),
//! an odd node at the end of a level is promoted unchanged. This is the tree of
//! `agentkeys_contracts::merkle` and of `CredentialAudit.verifyEntryInRoot`; only the
//! verifying half is repeated here, so readers need no EVM libraries.

use crate::chain::AuditRecordView;
use sha2::{Digest, Sha256};
use sha3::Keccak256;

/// Domain-separation tag, so these hashes cannot collide with other SHA-256 uses.
pub const DOMAIN_TAG: &[u8] = b"agentkeys/audit/v1";

/// `prev_hash` of record 1.
pub const GENESIS_PREV_HASH: &str =
    "0000000000000000000000000000000000000000000000000000000000000000";

/// The content fields of a record, in hash order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordFields<'a> {
    pub operator: &'a str,
    pub device: &'a str,
    pub actor: &'a str,
    pub service: &'a str,
    pub op: &'a str,
    pub data_class: &'a str,
    pub outcome: &'a str,
    pub cap_jti_hash: &'a str,
}

impl<'a> RecordFields<'a> {
    pub fn of_view(v: &'a AuditRecordView) -> Self {
        RecordFields {
            operator: &v.operator,
            device: &v.device,
            actor: &v.actor,
            service: &v.service,
            op: &v.op,
            data_class: &v.data_class,
            outcome: &v.outcome,
            cap_jti_hash: &v.cap_jti_hash,
        }
    }
}

/// A record's hash (64 lowercase hex) from its predecessor's hash (raw bytes) and its content.
pub fn record_hash(prev_hash: &[u8; 32], id: u64, time_ms: i64, f: &RecordFields<'_>) -> String {
    let mut h = Sha256::new();
    h.update(DOMAIN_TAG);
    h.update(prev_hash);
    let mut field = |bytes: &[u8]| {
        // Fields are capped far below 4 GiB by validation; saturating keeps this total
        // without a panic path, and any such record would fail validation first anyway.
        let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        h.update(len.to_be_bytes());
        h.update(bytes);
    };
    field(&id.to_be_bytes());
    field(&time_ms.to_be_bytes());
    for s in [
        f.operator,
        f.device,
        f.actor,
        f.service,
        f.op,
        f.data_class,
        f.outcome,
        f.cap_jti_hash,
    ] {
        field(s.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Recomputes the hash of a record as the relay returned it, from its fields and its
/// `prev_hash`; `None` when `prev_hash` is not 64 lowercase hex. Compare the result with
/// `view.hash` rather than trusting it.
pub fn view_hash(view: &AuditRecordView) -> Option<String> {
    let prev = decode_hash(&view.prev_hash)?;
    Some(record_hash(
        &prev,
        view.id,
        view.time_ms,
        &RecordFields::of_view(view),
    ))
}

/// Decodes a record hash, accepting only the canonical 64-lowercase-hex form so that a
/// re-cased hash does not silently verify.
pub fn decode_hash(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

/// Decodes a `0x`-prefixed 32-byte hex value (roots and proof siblings on the wire). Either
/// case is accepted: these values are compared as bytes.
pub fn decode_0x32(s: &str) -> Option<[u8; 32]> {
    let digits = s.strip_prefix("0x")?;
    if digits.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(digits, &mut out).ok()?;
    Some(out)
}

/// `0x` + 64 lowercase hex, the wire form of roots and proof siblings.
pub fn encode_0x32(b: &[u8; 32]) -> String {
    format!("0x{}", hex::encode(b))
}

fn keccak(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Keccak256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// The tree leaf of one record hash: keccak256(0x00 ‖ record hash).
pub fn leaf_hash(record_hash: &[u8; 32]) -> [u8; 32] {
    keccak(&[&[0x00], record_hash])
}

/// The parent of two nodes, independent of their order: keccak256(0x01 ‖ min ‖ max).
pub fn node_hash(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    keccak(&[&[0x01], lo, hi])
}

/// The root a record hash and its sibling path lead to.
pub fn root_from_proof(record_hash: &[u8; 32], proof: &[[u8; 32]]) -> [u8; 32] {
    proof.iter().fold(leaf_hash(record_hash), |node, sibling| {
        node_hash(&node, sibling)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_hash_accepts_only_lowercase_hex() {
        assert!(decode_hash(&"ab".repeat(32)).is_some());
        assert!(decode_hash(&"AB".repeat(32)).is_none());
        assert!(decode_hash(&"ab".repeat(31)).is_none());
        assert!(decode_hash(&"zz".repeat(32)).is_none());
    }

    #[test]
    fn wire_hex_roundtrips() {
        let b = [0xa5u8; 32];
        assert_eq!(decode_0x32(&encode_0x32(&b)), Some(b));
        assert_eq!(decode_0x32(&"a5".repeat(32)), None);
        assert_eq!(decode_0x32(&format!("0x{}", "a5".repeat(31))), None);
    }

    #[test]
    fn node_hash_ignores_order() {
        let (a, b) = ([1u8; 32], [2u8; 32]);
        assert_eq!(node_hash(&a, &b), node_hash(&b, &a));
        assert_ne!(node_hash(&a, &b), leaf_hash(&a));
    }
}
