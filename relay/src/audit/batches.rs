//! Rows of `audit_batch` and `audit_batch_member` (schema in [`super::store`]): what the
//! anchorer reads and writes, and what proofs are built from.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::store::{self, SELECT_RECORD};
use super::AuditRecord;

/// Where a batch stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchStatus {
    /// Written before its root is sent; maybe sent, maybe mined: reconciled before a resend.
    Pending,
    /// Its root is on chain at `root_index`.
    Anchored,
    /// Records whose operator is not an operator omni cannot be anchored under it; they are
    /// set aside so they do not hold up the rest.
    Skipped,
}

impl BatchStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BatchStatus::Pending => "pending",
            BatchStatus::Anchored => "anchored",
            BatchStatus::Skipped => "skipped",
        }
    }

    fn parse(s: &str) -> rusqlite::Result<Self> {
        match s {
            "pending" => Ok(BatchStatus::Pending),
            "anchored" => Ok(BatchStatus::Anchored),
            "skipped" => Ok(BatchStatus::Skipped),
            other => Err(rusqlite::Error::FromSqlConversionFailure(
                6,
                rusqlite::types::Type::Text,
                format!("unknown batch status {other:?}").into(),
            )),
        }
    }
}

/// One row of `audit_batch`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchRow {
    pub id: i64,
    pub operator: String,
    pub first_id: u64,
    pub last_id: u64,
    pub count: u64,
    /// `0x` hex Merkle root.
    pub root: String,
    pub status: BatchStatus,
    pub root_index: Option<u64>,
    pub block_number: Option<u64>,
    pub tx_hash: Option<String>,
}

const SELECT_BATCH: &str = "SELECT id, operator, first_id, last_id, count, root, status, \
     root_index, block_number, tx_hash FROM audit_batch";

fn row_to_batch(row: &Row<'_>) -> rusqlite::Result<BatchRow> {
    Ok(BatchRow {
        id: row.get(0)?,
        operator: row.get(1)?,
        first_id: row.get(2)?,
        last_id: row.get(3)?,
        count: row.get(4)?,
        root: row.get(5)?,
        status: BatchStatus::parse(&row.get::<_, String>(6)?)?,
        root_index: row.get(7)?,
        block_number: row.get(8)?,
        tx_hash: row.get(9)?,
    })
}

/// A record not in any batch yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unbatched {
    pub id: u64,
    pub operator: String,
    pub hash: String,
}

/// Every record up to the returned id is in a batch: the anchorer batches all unbatched
/// records in id order, so the members always cover a prefix of the log.
pub fn batched_through(conn: &Connection) -> rusqlite::Result<u64> {
    conn.query_row(
        "SELECT COALESCE(MAX(record_id), 0) FROM audit_batch_member",
        [],
        |r| r.get(0),
    )
}

/// Records after `after_id` not in any batch, oldest first.
pub fn unbatched(
    conn: &Connection,
    after_id: u64,
    limit: usize,
) -> rusqlite::Result<Vec<Unbatched>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut stmt = conn.prepare_cached(
        "SELECT l.id, l.operator, l.hash FROM audit_log l WHERE l.id > ?1 AND NOT EXISTS \
         (SELECT 1 FROM audit_batch_member m WHERE m.record_id = l.id) ORDER BY l.id LIMIT ?2",
    )?;
    let rows = stmt
        .query_map(params![after_id, limit], |r| {
            Ok(Unbatched {
                id: r.get(0)?,
                operator: r.get(1)?,
                hash: r.get(2)?,
            })
        })?
        .collect();
    rows
}

/// A batch to write.
#[derive(Clone, Debug)]
pub struct NewBatch {
    pub operator: String,
    pub root: String,
    pub status: BatchStatus,
    /// Record ids in leaf order.
    pub records: Vec<u64>,
}

/// Inserts the batch and its members; returns its id. Fails (and the caller's savepoint
/// rolls back) if any record is already in a batch.
pub fn insert_batch(conn: &Connection, b: &NewBatch, now_ms: i64) -> rusqlite::Result<i64> {
    let (Some(first), Some(last)) = (b.records.first(), b.records.last()) else {
        return Err(rusqlite::Error::InvalidQuery);
    };
    conn.prepare_cached(
        "INSERT INTO audit_batch (operator, first_id, last_id, count, root, status, created_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        b.operator,
        first,
        last,
        b.records.len() as u64,
        b.root,
        b.status.as_str(),
        now_ms
    ])?;
    let batch_id = conn.last_insert_rowid();
    let mut member = conn.prepare_cached(
        "INSERT INTO audit_batch_member (record_id, batch_id, position) VALUES (?1, ?2, ?3)",
    )?;
    for (position, id) in b.records.iter().enumerate() {
        member.execute(params![id, batch_id, position as u64])?;
    }
    Ok(batch_id)
}

/// Pending batches, oldest first: the order their roots are sent in.
pub fn pending(conn: &Connection) -> rusqlite::Result<Vec<BatchRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "{SELECT_BATCH} WHERE status = 'pending' ORDER BY id"
    ))?;
    let rows = stmt.query_map([], row_to_batch)?.collect();
    rows
}

pub fn count_pending(conn: &Connection) -> rusqlite::Result<u64> {
    conn.query_row(
        "SELECT count(*) FROM audit_batch WHERE status = 'pending'",
        [],
        |r| r.get(0),
    )
}

/// The highest root index recorded for the operator: a pending batch's root, if it reached
/// the chain, sits above it.
pub fn last_root_index(conn: &Connection, operator: &str) -> rusqlite::Result<Option<u64>> {
    conn.query_row(
        "SELECT MAX(root_index) FROM audit_batch WHERE operator = ?1 AND status = 'anchored'",
        [operator],
        |r| r.get(0),
    )
}

/// Where a batch's root landed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anchored {
    pub root_index: u64,
    pub block_number: Option<u64>,
    pub tx_hash: Option<String>,
}

pub fn mark_anchored(
    conn: &Connection,
    batch_id: i64,
    a: &Anchored,
    now_ms: i64,
) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "UPDATE audit_batch SET status = 'anchored', root_index = ?2, block_number = ?3, \
         tx_hash = ?4, anchored_ms = ?5 WHERE id = ?1 AND status = 'pending'",
    )?
    .execute(params![
        batch_id,
        a.root_index,
        a.block_number,
        a.tx_hash,
        now_ms
    ])
}

pub fn batch(conn: &Connection, batch_id: i64) -> rusqlite::Result<Option<BatchRow>> {
    conn.prepare_cached(&format!("{SELECT_BATCH} WHERE id = ?1"))?
        .query_row([batch_id], row_to_batch)
        .optional()
}

/// The batch holding `record_id` and the record's leaf position in it.
pub fn batch_of(conn: &Connection, record_id: u64) -> rusqlite::Result<Option<(BatchRow, u64)>> {
    let found: Option<(i64, u64)> = conn
        .prepare_cached("SELECT batch_id, position FROM audit_batch_member WHERE record_id = ?1")?
        .query_row([record_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((batch_id, position)) = found else {
        return Ok(None);
    };
    Ok(batch(conn, batch_id)?.map(|b| (b, position)))
}

/// The record hashes of a batch in leaf order.
pub fn member_hashes(conn: &Connection, batch_id: i64) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT l.hash FROM audit_batch_member m JOIN audit_log l ON l.id = m.record_id \
         WHERE m.batch_id = ?1 ORDER BY m.position",
    )?;
    let rows = stmt.query_map([batch_id], |r| r.get(0))?.collect();
    rows
}

pub fn record(conn: &Connection, id: u64) -> rusqlite::Result<Option<AuditRecord>> {
    conn.prepare_cached(&format!("{SELECT_RECORD} WHERE id = ?1"))?
        .query_row([id], store::row_to_record)
        .optional()
}

/// The operator's records after `after_id`, oldest first.
pub fn operator_records(
    conn: &Connection,
    operator: &str,
    after_id: u64,
    limit: usize,
) -> rusqlite::Result<Vec<AuditRecord>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut stmt = conn.prepare_cached(&format!(
        "{SELECT_RECORD} WHERE operator = ?1 AND id > ?2 ORDER BY id LIMIT ?3"
    ))?;
    let rows = stmt
        .query_map(params![operator, after_id, limit], store::row_to_record)?
        .collect();
    rows
}
