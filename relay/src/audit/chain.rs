//! Hash chain over audit records (format `agentkeys/audit/v1`, defined and documented in
//! [`agentkeys_core::audit`] so readers can recompute it).

use agentkeys_core::audit::RecordFields;

use super::{AuditError, AuditEvent, AuditRecord};

pub use agentkeys_core::audit::{decode_hash, DOMAIN_TAG, GENESIS_PREV_HASH};

/// Computes a record's hash from its predecessor's hash (raw bytes) and its own content.
pub fn record_hash(prev_hash: &[u8; 32], id: u64, time_ms: i64, event: &AuditEvent) -> String {
    agentkeys_core::audit::record_hash(prev_hash, id, time_ms, &event.fields())
}

impl AuditEvent {
    /// The fields the record hash covers, borrowed.
    pub fn fields(&self) -> RecordFields<'_> {
        RecordFields {
            operator: &self.operator,
            device: &self.device,
            actor: &self.actor,
            service: &self.service,
            op: &self.op,
            data_class: &self.data_class,
            outcome: &self.outcome,
            cap_jti_hash: &self.cap_jti_hash,
        }
    }
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
