//! A record with the path from it to its anchored batch root.

use agentkeys_contracts::merkle::MerkleTree;
use agentkeys_core::audit::{decode_0x32, decode_hash};
use agentkeys_core::chain::{AnchorSchedule, AuditAnchor, AuditProofResponse, AuditRecordView};
use alloy::primitives::B256;

use super::batches::{self, BatchStatus};
use super::{AuditError, AuditLog, AuditRecord};

/// Where a record's batch root sits on chain, and the record's sibling path to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnchorProof {
    pub root_index: u64,
    pub root: B256,
    pub count: u64,
    pub block_number: Option<u64>,
    pub tx_hash: Option<String>,
    pub proof: Vec<B256>,
}

/// A record and, once its batch is anchored, its proof.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordProof {
    pub record: AuditRecord,
    pub anchor: Option<AnchorProof>,
}

impl AuditRecord {
    /// The record as the audit endpoints return it.
    pub fn to_view(&self) -> AuditRecordView {
        let e = &self.event;
        AuditRecordView {
            id: self.id,
            time_ms: self.time_ms,
            operator: e.operator.clone(),
            device: e.device.clone(),
            actor: e.actor.clone(),
            service: e.service.clone(),
            op: e.op.clone(),
            data_class: e.data_class.clone(),
            outcome: e.outcome.clone(),
            cap_jti_hash: e.cap_jti_hash.clone(),
            prev_hash: self.prev_hash.clone(),
            hash: self.hash.clone(),
        }
    }
}

impl RecordProof {
    pub fn to_response(&self, schedule: Option<AnchorSchedule>) -> AuditProofResponse {
        AuditProofResponse {
            record: self.record.to_view(),
            anchor: self.anchor.as_ref().map(|a| AuditAnchor {
                root_index: a.root_index,
                root: format!("{:#x}", a.root),
                count: a.count,
                block_number: a.block_number,
                tx_hash: a.tx_hash.clone(),
                proof: a.proof.iter().map(|p| format!("{p:#x}")).collect(),
            }),
            schedule,
        }
    }
}

fn corrupt(id: u64, reason: &str) -> AuditError {
    AuditError::ChainBroken {
        id,
        reason: reason.to_string(),
    }
}

impl AuditLog {
    /// The record `id` with its proof when its batch is anchored; `None` for an unknown id.
    /// The tree is rebuilt from the stored record hashes and must reproduce the stored root.
    pub fn record_proof(&self, id: u64) -> Result<Option<RecordProof>, AuditError> {
        let conn = self.reader();
        let Some(record) = batches::record(&conn, id)? else {
            return Ok(None);
        };
        let anchor = match batches::batch_of(&conn, id)? {
            Some((batch, position)) if batch.status == BatchStatus::Anchored => {
                let hashes = batches::member_hashes(&conn, batch.id)?
                    .iter()
                    .map(|h| decode_hash(h).map(B256::from))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| corrupt(id, "a record hash in its batch is malformed"))?;
                let tree = MerkleTree::new(&hashes)
                    .map_err(|_| corrupt(id, "its batch has no records"))?;
                let root = decode_0x32(&batch.root)
                    .map(B256::from)
                    .ok_or_else(|| corrupt(id, "its batch root is malformed"))?;
                if tree.root() != root || tree.len() as u64 != batch.count {
                    return Err(corrupt(
                        id,
                        "its batch no longer hashes to the anchored root",
                    ));
                }
                let proof = usize::try_from(position)
                    .ok()
                    .and_then(|p| tree.proof(p))
                    .ok_or_else(|| corrupt(id, "its position lies outside its batch"))?;
                let root_index = batch
                    .root_index
                    .ok_or_else(|| corrupt(id, "its anchored batch has no root index"))?;
                Some(AnchorProof {
                    root_index,
                    root,
                    count: batch.count,
                    block_number: batch.block_number,
                    tx_hash: batch.tx_hash,
                    proof,
                })
            }
            _ => None,
        };
        Ok(Some(RecordProof { record, anchor }))
    }
}
