//! Tamper-evident audit log.
//!
//! The relay must not release a credential unless the record of that release is already
//! durable, so [`AuditLog::append`] only returns `Ok` after the record's transaction is
//! committed with `synchronous=FULL` (the WAL is fsync'd). Records form a SHA-256 hash chain
//! (see [`chain`] for the exact encoding) so that edits, deletions and reordering of stored
//! rows are detectable by [`AuditLog::verify_chain`].
//!
//! One OS thread owns the SQLite connection. Callers queue events to it; it drains everything
//! queued, writes it in one transaction and replies to every caller after a single commit.
//! This group commit keeps durability from capping throughput at one fsync per request.
//!
//! Only hashes of capability identifiers are stored (`cap_jti_hash` must be 64 lowercase hex
//! characters); the log never holds a secret or a raw token.
//!
//! [`anchor`] gathers each operator's records into Merkle batches and anchors their roots in
//! `CredentialAudit`; [`operator_routes`] lets an operator's devices read their records and
//! the proof of each against the chain.

pub mod anchor;
pub mod batches;
pub mod chain;
pub mod foreign;
pub mod operator_routes;
mod proof;
mod query;
mod record;
pub mod routes;
mod store;
mod writer;

#[cfg(test)]
mod anchor_tests;
#[cfg(test)]
mod route_tests;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot, watch};

pub use anchor::{spawn_anchorer, AnchorError, AnchorPolicy, AnchorReport, Anchorer};
pub use proof::{AnchorProof, RecordProof};
pub use query::MAX_LIST_LIMIT;
pub use record::MAX_FIELD_BYTES;

/// One audited action, as supplied by the relay's request handlers.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct AuditEvent {
    /// operator_omni hex (64 lowercase hex).
    pub operator: String,
    /// Device address "0x…" lowercase.
    pub device: String,
    /// actor_omni hex.
    pub actor: String,
    /// Service or memory namespace.
    pub service: String,
    /// "store" | "fetch" | "teardown" | "list" | "put" | "get" ... free text.
    pub op: String,
    /// "credentials" | "memory".
    pub data_class: String,
    /// "ok" or a refusal code like "pop_replayed".
    pub outcome: String,
    /// Hex SHA-256 of the capability's jti, never the jti or token itself.
    pub cap_jti_hash: String,
}

/// A committed event with its position in the hash chain.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct AuditRecord {
    pub id: u64,
    pub time_ms: i64,
    pub event: AuditEvent,
    pub prev_hash: String,
    pub hash: String,
}

/// Counters since [`AuditLog::open`], used to observe group commit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditStats {
    /// Records committed by this process.
    pub records: u64,
    /// Successful commit transactions (each one fsync).
    pub commits: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    /// The event was rejected before reaching the store.
    #[error("invalid audit event: {0}")]
    Invalid(String),
    /// The store could not make the record durable (or did not answer in time); the caller
    /// must refuse the operation it was about to audit.
    #[error("audit log unavailable: {0}")]
    Unavailable(String),
    /// Stored records do not form an intact chain.
    #[error("audit chain broken at record {id}: {reason}")]
    ChainBroken { id: u64, reason: String },
    /// Opening or reading the store failed.
    #[error("audit storage error: {0}")]
    Storage(String),
}

impl From<rusqlite::Error> for AuditError {
    fn from(e: rusqlite::Error) -> Self {
        AuditError::Storage(e.to_string())
    }
}

/// Tunables for [`AuditLog::open_with`].
#[derive(Clone, Copy, Debug)]
pub struct AuditOptions {
    /// Upper bound on how long [`AuditLog::append`] waits for durability.
    pub append_timeout: Duration,
    /// How long SQLite waits for a lock held by another connection. Keep it below
    /// `append_timeout` so lock contention surfaces as a write error (which readiness
    /// reports) rather than as a bare timeout.
    pub busy_timeout: Duration,
}

impl Default for AuditOptions {
    fn default() -> Self {
        AuditOptions {
            append_timeout: Duration::from_secs(5),
            busy_timeout: Duration::from_secs(2),
        }
    }
}

/// Handle to the audit log; cheap to clone, all clones share one writer thread.
#[derive(Clone)]
pub struct AuditLog {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    tx: mpsc::Sender<writer::Command>,
    shared: Arc<writer::Shared>,
    // list() takes this; WAL lets it read while the writer commits.
    reader: Mutex<rusqlite::Connection>,
    thread: Mutex<Option<JoinHandle<()>>>,
    options: AuditOptions,
}

impl AuditLog {
    /// Opens (creating) the SQLite file, sets WAL + synchronous=FULL, verifies the tail of the
    /// chain, starts the writer thread.
    pub fn open(path: &Path) -> Result<AuditLog, AuditError> {
        Self::open_with(path, AuditOptions::default())
    }

    /// [`AuditLog::open`] with explicit timeouts.
    pub fn open_with(path: &Path, options: AuditOptions) -> Result<AuditLog, AuditError> {
        let conn = store::open_writer(path, options.busy_timeout)?;
        let head = store::verify_tail(&conn)?;
        let reader = store::open_reader(path, options.busy_timeout)?;
        let writer::Spawned { tx, shared, thread } = writer::spawn(conn, head)?;
        tracing::info!(path = %path.display(), head_id = shared.head().id, "audit log opened");
        Ok(AuditLog {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                tx,
                shared,
                reader: Mutex::new(reader),
                thread: Mutex::new(Some(thread)),
                options,
            }),
        })
    }

    /// Returns once the record is committed and fsync'd; errors within the append timeout
    /// (5 s by default) if the store cannot write.
    ///
    /// A timed-out record may still become durable later; callers treat any error as
    /// "refuse", so the log can over-report an attempted operation but never under-report a
    /// completed one.
    pub async fn append(&self, event: AuditEvent) -> Result<AuditRecord, AuditError> {
        record::validate(&event)?;
        let timeout = self.inner.options.append_timeout;
        let (reply, reply_rx) = oneshot::channel();
        let round_trip = async {
            self.inner
                .tx
                .send(writer::Command::Append { event, reply })
                .await
                .map_err(|_| writer::stopped())?;
            reply_rx.await.map_err(|_| writer::stopped())?
        };
        match tokio::time::timeout(timeout, round_trip).await {
            Ok(result) => result,
            Err(_) => Err(AuditError::Unavailable(format!(
                "audit write did not complete within {} ms",
                timeout.as_millis()
            ))),
        }
    }

    /// Records with `id > after_id`, oldest first, at most `limit` (capped at
    /// [`MAX_LIST_LIMIT`]).
    pub fn list(&self, after_id: u64, limit: usize) -> Result<Vec<AuditRecord>, AuditError> {
        let conn = self
            .inner
            .reader
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        query::list(&conn, after_id, limit)
    }

    /// Recomputes every hash from genesis; returns the number of records checked. Detects
    /// modified fields, deleted rows, reordered rows and, for records committed since this
    /// process opened the log, truncation of the tail.
    pub fn verify_chain(&self) -> Result<u64, AuditError> {
        // Read the committed head before scanning: the writer publishes it only after commit,
        // so the scanned snapshot must contain it unless rows were removed.
        let head = self.inner.shared.head();
        // A fresh connection so a long scan does not block list().
        let conn = store::open_reader(&self.inner.path, self.inner.options.busy_timeout)?;
        query::verify_chain(&conn, &head)
    }

    /// None when healthy; Some(reason) when the last write failed or the writer is gone.
    pub fn not_ready_reason(&self) -> Option<String> {
        if self.inner.tx.is_closed() {
            return Some(self.inner.shared.closed_reason());
        }
        self.inner
            .shared
            .not_ready_reason(self.inner.options.append_timeout)
    }

    pub fn stats(&self) -> AuditStats {
        self.inner.shared.stats()
    }

    /// The id of the newest committed record, updated after every commit.
    pub fn subscribe_head(&self) -> watch::Receiver<u64> {
        self.inner.shared.subscribe_head()
    }

    /// The session operator's records with `id > after_id`, oldest first, at most `limit`
    /// (capped at [`MAX_LIST_LIMIT`]).
    pub fn operator_records(
        &self,
        operator: &str,
        after_id: u64,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, AuditError> {
        let conn = self.reader();
        Ok(batches::operator_records(
            &conn,
            operator,
            after_id,
            limit.min(MAX_LIST_LIMIT),
        )?)
    }

    fn reader(&self) -> std::sync::MutexGuard<'_, rusqlite::Connection> {
        self.inner
            .reader
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Another read-only connection to the log, for a reader that should not queue behind
    /// request handlers (the anchorer).
    pub(crate) fn open_reader(&self) -> Result<rusqlite::Connection, AuditError> {
        store::open_reader(&self.inner.path, self.inner.options.busy_timeout)
    }

    /// Runs `job` in the writer's next transaction (under a savepoint), so bookkeeping beside
    /// the records shares their group commit instead of competing for the write lock.
    /// Returns once that transaction is durable. A job that fails rolls back alone.
    pub(crate) async fn exec<T: Send + 'static>(
        &self,
        timeout: Duration,
        job: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, AuditError> {
        let (reply, reply_rx) = oneshot::channel();
        let job: writer::Job =
            Box::new(move |conn| job(conn).map(|out| Box::new(out) as writer::JobOutput));
        let round_trip = async {
            self.inner
                .tx
                .send(writer::Command::Exec { job, reply })
                .await
                .map_err(|_| writer::stopped())?;
            reply_rx.await.map_err(|_| writer::stopped())?
        };
        let out = tokio::time::timeout(timeout, round_trip)
            .await
            .map_err(|_| {
                AuditError::Unavailable(format!(
                    "audit writer did not answer within {} ms",
                    timeout.as_millis()
                ))
            })??;
        out.downcast::<T>()
            .map(|b| *b)
            .map_err(|_| AuditError::Storage("audit job returned another type".into()))
    }

    /// Flushes queued records and stops the writer. Other clones of this handle get
    /// `Unavailable` afterwards.
    pub async fn close(self) {
        let timeout = self.inner.options.append_timeout;
        let (done, done_rx) = oneshot::channel();
        let stop = async {
            if self
                .inner
                .tx
                .send(writer::Command::Shutdown { done })
                .await
                .is_ok()
            {
                let _ = done_rx.await;
            }
        };
        if tokio::time::timeout(timeout, stop).await.is_err() {
            tracing::warn!(
                "audit writer did not stop within {} ms",
                timeout.as_millis()
            );
            return;
        }
        let handle = self
            .inner
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(handle) = handle {
            // The writer has acknowledged, so the join is immediate; still keep it off the
            // async worker.
            let joined = tokio::task::spawn_blocking(move || handle.join()).await;
            if !matches!(joined, Ok(Ok(()))) {
                tracing::warn!("audit writer thread ended abnormally");
            }
        }
    }
}
