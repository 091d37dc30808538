//! SQLite schema and row access.

use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags, Row, Transaction};

use super::chain::{ChainVerifier, GENESIS_PREV_HASH};
use super::{AuditError, AuditEvent, AuditRecord};

// 1: audit_log. 2: batches anchored on chain (additive: a version-1 file gains the new
// tables and indexes on open, and its existing records are batched like new ones).
const SCHEMA_VERSION: i64 = 2;

// Enough to catch a torn or edited tail at startup without scanning a large log.
const TAIL_CHECK_ROWS: i64 = 256;

// STRICT so a stray write cannot store e.g. a blob where the chain expects text.
//
// audit_batch: one Merkle batch of one operator's records, written `pending` before its root
// is sent to `CredentialAudit` and marked `anchored` with where it landed. root_index, block
// and tx are NULL while pending; block and tx stay NULL for a batch recovered from the chain
// after a crash (its receipt was never seen).
//
// audit_batch_member: the records of each batch, in leaf order. record_id is the key, so a
// record belongs to at most one batch.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS audit_log (
    id           INTEGER PRIMARY KEY NOT NULL CHECK (id > 0),
    time_ms      INTEGER NOT NULL,
    operator     TEXT NOT NULL,
    device       TEXT NOT NULL,
    actor        TEXT NOT NULL,
    service      TEXT NOT NULL,
    op           TEXT NOT NULL,
    data_class   TEXT NOT NULL,
    outcome      TEXT NOT NULL,
    cap_jti_hash TEXT NOT NULL,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS audit_log_operator ON audit_log (operator, id);
CREATE TABLE IF NOT EXISTS audit_batch (
    id           INTEGER PRIMARY KEY NOT NULL CHECK (id > 0),
    operator     TEXT NOT NULL,
    first_id     INTEGER NOT NULL,
    last_id      INTEGER NOT NULL,
    count        INTEGER NOT NULL CHECK (count > 0),
    root         TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'anchored', 'skipped')),
    root_index   INTEGER,
    block_number INTEGER,
    tx_hash      TEXT,
    created_ms   INTEGER NOT NULL,
    anchored_ms  INTEGER
) STRICT;
CREATE INDEX IF NOT EXISTS audit_batch_status ON audit_batch (status, id);
CREATE TABLE IF NOT EXISTS audit_batch_member (
    record_id    INTEGER PRIMARY KEY NOT NULL,
    batch_id     INTEGER NOT NULL,
    position     INTEGER NOT NULL,
    UNIQUE (batch_id, position)
) STRICT;
PRAGMA user_version = 2;
";

pub(super) const SELECT_RECORD: &str = "SELECT id, time_ms, operator, device, actor, service, \
     op, data_class, outcome, cap_jti_hash, prev_hash, hash FROM audit_log";

/// The newest committed record, i.e. what the next record links to.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Head {
    pub id: u64,
    pub hash: String,
    pub time_ms: i64,
}

impl Head {
    pub(super) fn genesis() -> Self {
        Head {
            id: 0,
            hash: GENESIS_PREV_HASH.to_string(),
            time_ms: 0,
        }
    }

    fn of(rec: &AuditRecord) -> Self {
        Head {
            id: rec.id,
            hash: rec.hash.clone(),
            time_ms: rec.time_ms,
        }
    }
}

pub(super) fn open_writer(path: &Path, busy_timeout: Duration) -> Result<Connection, AuditError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(busy_timeout)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(AuditError::Storage(format!(
            "could not enable WAL (journal_mode is {mode})"
        )));
    }
    // FULL makes every commit fsync the WAL; that is what "durable before release" means.
    conn.pragma_update(None, "synchronous", "FULL")?;
    let sync: i64 = conn.pragma_query_value(None, "synchronous", |r| r.get(0))?;
    if sync != 2 {
        return Err(AuditError::Storage(format!(
            "could not set synchronous=FULL (got {sync})"
        )));
    }
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(AuditError::Storage(format!(
            "audit database has schema version {version}, this build understands {SCHEMA_VERSION}"
        )));
    }
    conn.execute_batch(SCHEMA)?;
    Ok(conn)
}

/// Read-only so that query paths cannot modify the log even by mistake.
pub(super) fn open_reader(path: &Path, busy_timeout: Duration) -> Result<Connection, AuditError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(busy_timeout)?;
    Ok(conn)
}

/// Checks the newest rows so a damaged tail is refused before anything is chained onto it.
pub(super) fn verify_tail(conn: &Connection) -> Result<Head, AuditError> {
    let mut stmt = conn.prepare(&format!("{SELECT_RECORD} ORDER BY id DESC LIMIT ?1"))?;
    let mut rows = stmt
        .query_map([TAIL_CHECK_ROWS], row_to_record)?
        .collect::<Result<Vec<_>, _>>()?;
    rows.reverse();
    let Some(first) = rows.first() else {
        return Ok(Head::genesis());
    };
    let mut verifier = ChainVerifier::from_tail_start(first.id);
    for rec in &rows {
        verifier.check(rec)?;
    }
    Ok(rows.last().map(Head::of).unwrap_or_else(Head::genesis))
}

/// Re-reads the head after a failed write, in case a failed COMMIT had in fact persisted.
pub(super) fn load_head(conn: &Connection) -> rusqlite::Result<Head> {
    let mut stmt =
        conn.prepare_cached("SELECT id, hash, time_ms FROM audit_log ORDER BY id DESC LIMIT 1")?;
    let mut rows = stmt.query([])?;
    match rows.next()? {
        Some(row) => Ok(Head {
            id: row.get(0)?,
            hash: row.get(1)?,
            time_ms: row.get(2)?,
        }),
        None => Ok(Head::genesis()),
    }
}

pub(super) fn insert(tx: &Transaction<'_>, rec: &AuditRecord) -> rusqlite::Result<()> {
    let e = &rec.event;
    tx.prepare_cached(
        "INSERT INTO audit_log (id, time_ms, operator, device, actor, service, op, data_class, \
         outcome, cap_jti_hash, prev_hash, hash) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?
    .execute(params![
        rec.id,
        rec.time_ms,
        e.operator,
        e.device,
        e.actor,
        e.service,
        e.op,
        e.data_class,
        e.outcome,
        e.cap_jti_hash,
        rec.prev_hash,
        rec.hash,
    ])?;
    Ok(())
}

pub(super) fn row_to_record(row: &Row<'_>) -> rusqlite::Result<AuditRecord> {
    Ok(AuditRecord {
        id: row.get(0)?,
        time_ms: row.get(1)?,
        event: AuditEvent {
            operator: row.get(2)?,
            device: row.get(3)?,
            actor: row.get(4)?,
            service: row.get(5)?,
            op: row.get(6)?,
            data_class: row.get(7)?,
            outcome: row.get(8)?,
            cap_jti_hash: row.get(9)?,
        },
        prev_hash: row.get(10)?,
        hash: row.get(11)?,
    })
}
