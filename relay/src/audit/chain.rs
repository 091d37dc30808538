//! Hash chain over audit records (format `agentkeys/audit/v1`).
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
//! length-prefixed too, purely so that every field follows the same rule. Hashes are
//! stored and compared as 64 lowercase hex characters; the genesis `prev_hash` is
//! [`GENESIS_PREV_HASH`] (64 `0` characters).

use sha2::{Digest, Sha256};

use super::{AuditError, AuditEvent, AuditRecord};

/// Domain-separation tag, so these hashes cannot collide with other SHA-256 uses.
pub const DOMAIN_TAG: &[u8] = b"agentkeys/audit/v1";

/// `prev_hash` of record 1.
pub const GENESIS_PREV_HASH: &str =
    "0000000000000000000000000000000000000000000000000000000000000000";

/// Computes a record's hash from its predecessor's hash (raw bytes) and its own content.
pub fn record_hash(prev_hash: &[u8; 32], id: u64, time_ms: i64, event: &AuditEvent) -> String {
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
    field(event.operator.as_bytes());
    field(event.device.as_bytes());
    field(event.actor.as_bytes());
    field(event.service.as_bytes());
    field(event.op.as_bytes());
    field(event.data_class.as_bytes());
    field(event.outcome.as_bytes());
    field(event.cap_jti_hash.as_bytes());
    hex::encode(h.finalize())
}

/// Decodes a stored hash, accepting only the canonical 64-lowercase-hex form so that a
/// re-cased hash does not silently verify.
pub fn decode_hash(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

/// Checks records one at a time, in id order, against the chain rules.
pub(super) struct ChainVerifier {
    expected_id: u64,
    // None until the first record when verifying a tail whose predecessor was not read.
    prev_hash: Option<String>,
    checked: u64,
}

impl ChainVerifier {
    pub(super) fn from_genesis() -> Self {
        ChainVerifier {
            expected_id: 1,
            prev_hash: Some(GENESIS_PREV_HASH.to_string()),
            checked: 0,
        }
    }

    /// For checking only the newest rows: trust the first row's link, check everything else.
    pub(super) fn from_tail_start(first_id: u64) -> Self {
        ChainVerifier {
            expected_id: first_id,
            prev_hash: if first_id == 1 {
                Some(GENESIS_PREV_HASH.to_string())
            } else {
                None
            },
            checked: 0,
        }
    }

    pub(super) fn check(&mut self, rec: &AuditRecord) -> Result<(), AuditError> {
        let broken = |reason: String| AuditError::ChainBroken { id: rec.id, reason };
        if rec.id != self.expected_id {
            return Err(broken(format!(
                "expected record {} here (record deleted or reordered)",
                self.expected_id
            )));
        }
        if let Some(prev) = &self.prev_hash {
            if rec.prev_hash != *prev {
                return Err(broken(
                    "prev_hash does not match the previous record's hash".into(),
                ));
            }
        }
        let prev_bytes = decode_hash(&rec.prev_hash)
            .ok_or_else(|| broken("prev_hash is not 64 lowercase hex".into()))?;
        if record_hash(&prev_bytes, rec.id, rec.time_ms, &rec.event) != rec.hash {
            return Err(broken("hash does not match the record's content".into()));
        }
        self.expected_id = rec.id.saturating_add(1);
        self.prev_hash = Some(rec.hash.clone());
        self.checked += 1;
        Ok(())
    }

    pub(super) fn checked(&self) -> u64 {
        self.checked
    }
}
