//! Read paths: paging through records and full chain verification.

use rusqlite::Connection;

use super::chain::ChainVerifier;
use super::store::{self, Head, SELECT_RECORD};
use super::{AuditError, AuditRecord};

/// Largest page [`super::AuditLog::list`] returns, so one request cannot pull the whole log
/// into memory.
pub const MAX_LIST_LIMIT: usize = 1000;

pub(super) fn list(
    conn: &Connection,
    after_id: u64,
    limit: usize,
) -> Result<Vec<AuditRecord>, AuditError> {
    let limit = i64::try_from(limit.min(MAX_LIST_LIMIT)).unwrap_or(0);
    let mut stmt = conn.prepare_cached(&format!(
        "{SELECT_RECORD} WHERE id > ?1 ORDER BY id LIMIT ?2"
    ))?;
    let rows = stmt
        .query_map(rusqlite::params![after_id, limit], store::row_to_record)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// `head` is the newest record this process has committed; it must still be present, which
/// catches truncation of the tail that the chain alone cannot reveal.
pub(super) fn verify_chain(conn: &Connection, head: &Head) -> Result<u64, AuditError> {
    let mut stmt = conn.prepare(&format!("{SELECT_RECORD} ORDER BY id"))?;
    let mut rows = stmt.query([])?;
    let mut verifier = ChainVerifier::from_genesis();
    let mut head_seen = head.id == 0;
    while let Some(row) = rows.next()? {
        let rec = store::row_to_record(row)?;
        verifier.check(&rec)?;
        if rec.id == head.id {
            if rec.hash != head.hash {
                return Err(AuditError::ChainBroken {
                    id: rec.id,
                    reason: "record differs from the one this process committed".into(),
                });
            }
            head_seen = true;
        }
    }
    if !head_seen {
        return Err(AuditError::ChainBroken {
            id: head.id,
            reason: "committed record is missing (log truncated)".into(),
        });
    }
    Ok(verifier.checked())
}
