//! The writer thread: sole owner of the write connection, group-committing queued events.

use std::any::Any;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::{mpsc, oneshot, watch};

use super::chain::{decode_hash, record_hash};
use super::store::{self, Head};
use super::{AuditError, AuditEvent, AuditRecord, AuditStats};

// Bounded so a stalled disk turns into caller timeouts instead of unbounded memory growth.
const QUEUE_CAPACITY: usize = 8192;

// Caps one transaction so a flood cannot make a single commit (and its callers' latency)
// arbitrarily large.
const MAX_BATCH: usize = 1024;

pub(super) type Reply = oneshot::Sender<Result<AuditRecord, AuditError>>;

/// What a [`Job`] hands back; [`super::AuditLog::exec`] downcasts it to the caller's type.
pub(super) type JobOutput = Box<dyn Any + Send>;
/// Bookkeeping beside the log (anchoring batches) run by the writer inside its next
/// transaction, under a savepoint: it shares that transaction's single fsync, and a failing
/// job rolls back alone without touching the records committed with it.
pub(super) type Job = Box<dyn FnOnce(&Connection) -> rusqlite::Result<JobOutput> + Send>;
pub(super) type JobReply = oneshot::Sender<Result<JobOutput, AuditError>>;

pub(super) enum Command {
    Append { event: AuditEvent, reply: Reply },
    Exec { job: Job, reply: JobReply },
    Shutdown { done: oneshot::Sender<()> },
}

pub(super) fn stopped() -> AuditError {
    AuditError::Unavailable("audit writer stopped".into())
}

#[derive(Default)]
struct Health {
    last_error: Option<String>,
    // Set while a batch is being written, to report a writer stuck in fsync or on a lock.
    busy_since: Option<Instant>,
    closed: bool,
    writer_gone: bool,
}

/// State the writer publishes for readiness, stats and verification.
pub(super) struct Shared {
    health: Mutex<Health>,
    head: Mutex<Head>,
    // The id of the newest committed record, for the anchorer.
    head_id: watch::Sender<u64>,
    records: AtomicU64,
    commits: AtomicU64,
}

// A poisoned lock only means another thread panicked mid-update of plain data; the data is
// still the best information available, and readiness must keep answering.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub(super) fn head(&self) -> Head {
        lock(&self.head).clone()
    }

    pub(super) fn stats(&self) -> AuditStats {
        AuditStats {
            records: self.records.load(Ordering::Relaxed),
            commits: self.commits.load(Ordering::Relaxed),
        }
    }

    pub(super) fn closed_reason(&self) -> String {
        let h = lock(&self.health);
        if h.closed {
            "audit log closed".into()
        } else {
            "audit writer thread stopped".into()
        }
    }

    pub(super) fn not_ready_reason(&self, stall_after: Duration) -> Option<String> {
        let h = lock(&self.health);
        if h.closed {
            return Some("audit log closed".into());
        }
        if h.writer_gone {
            return Some("audit writer thread stopped".into());
        }
        if let Some(e) = &h.last_error {
            return Some(format!("audit store write failed: {e}"));
        }
        match h.busy_since {
            Some(since) if since.elapsed() > stall_after => Some(format!(
                "audit writer stalled for {} ms",
                since.elapsed().as_millis()
            )),
            _ => None,
        }
    }

    fn set_busy(&self, busy: bool) {
        lock(&self.health).busy_since = busy.then(Instant::now);
    }

    pub(super) fn subscribe_head(&self) -> watch::Receiver<u64> {
        self.head_id.subscribe()
    }

    fn committed(&self, head: &Head, records: usize) {
        *lock(&self.head) = head.clone();
        self.head_id.send_replace(head.id);
        lock(&self.health).last_error = None;
        self.records.fetch_add(records as u64, Ordering::Relaxed);
        self.commits.fetch_add(1, Ordering::Relaxed);
    }

    fn failed(&self, reason: &str) {
        lock(&self.health).last_error = Some(reason.to_string());
    }
}

// Marks the writer gone however the thread ends, including by panic, so readiness notices.
struct GoneGuard(Arc<Shared>);

impl Drop for GoneGuard {
    fn drop(&mut self) {
        lock(&self.0.health).writer_gone = true;
    }
}

pub(super) struct Spawned {
    pub tx: mpsc::Sender<Command>,
    pub shared: Arc<Shared>,
    pub thread: JoinHandle<()>,
}

pub(super) fn spawn(conn: Connection, head: Head) -> Result<Spawned, AuditError> {
    let shared = Arc::new(Shared {
        health: Mutex::new(Health::default()),
        head: Mutex::new(head.clone()),
        head_id: watch::Sender::new(head.id),
        records: AtomicU64::new(0),
        commits: AtomicU64::new(0),
    });
    let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
    let thread_shared = Arc::clone(&shared);
    let thread = std::thread::Builder::new()
        .name("audit-writer".into())
        .spawn(move || run(conn, rx, thread_shared, head))
        .map_err(|e| AuditError::Storage(format!("cannot start audit writer thread: {e}")))?;
    Ok(Spawned { tx, shared, thread })
}

fn run(mut conn: Connection, mut rx: mpsc::Receiver<Command>, shared: Arc<Shared>, head: Head) {
    let _guard = GoneGuard(Arc::clone(&shared));
    let mut writer = Writer {
        head,
        resync: false,
    };
    while let Some(first) = rx.blocking_recv() {
        let mut batch = Vec::new();
        let mut jobs = Vec::new();
        let mut shutdown = None;
        let mut next = Some(first);
        // Everything that queued up while the previous commit was fsyncing rides on this one.
        while let Some(cmd) = next.take() {
            match cmd {
                Command::Append { event, reply } => batch.push((event, reply)),
                Command::Exec { job, reply } => jobs.push((job, reply)),
                Command::Shutdown { done } => shutdown = Some(done),
            }
            if shutdown.is_none() && batch.len() + jobs.len() < MAX_BATCH {
                next = rx.try_recv().ok();
            }
        }
        if !batch.is_empty() || !jobs.is_empty() {
            shared.set_busy(true);
            writer.write_batch(&mut conn, batch, jobs, &shared);
            shared.set_busy(false);
        }
        if let Some(done) = shutdown {
            lock(&shared.health).closed = true;
            rx.close();
            while let Ok(cmd) = rx.try_recv() {
                match cmd {
                    Command::Append { reply, .. } => {
                        let _ = reply.send(Err(AuditError::Unavailable("audit log closed".into())));
                    }
                    Command::Exec { reply, .. } => {
                        let _ = reply.send(Err(AuditError::Unavailable("audit log closed".into())));
                    }
                    Command::Shutdown { done } => {
                        let _ = done.send(());
                    }
                }
            }
            // Close the connection before acknowledging, so that when close() returns the
            // WAL has been checkpointed and the file can be reopened or copied.
            if let Err((_, e)) = conn.close() {
                tracing::warn!(error = %e, "closing audit database failed");
            }
            let _ = done.send(());
            return;
        }
    }
}

struct Writer {
    head: Head,
    // After a failure the on-disk head is uncertain (a COMMIT can fail after persisting), so
    // it is re-read before chaining anything new onto it.
    resync: bool,
}

impl Writer {
    fn write_batch(
        &mut self,
        conn: &mut Connection,
        batch: Vec<(AuditEvent, Reply)>,
        jobs: Vec<(Job, JobReply)>,
        shared: &Shared,
    ) {
        let (events, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
        let (jobs, job_replies): (Vec<_>, Vec<_>) = jobs.into_iter().unzip();
        match self.commit(conn, events, &replies, jobs) {
            Ok((written, outputs)) => {
                self.resync = false;
                let count = written.iter().flatten().count();
                if count > 0 {
                    shared.committed(&self.head, count);
                }
                for (reply, rec) in replies.into_iter().zip(written) {
                    if let Some(rec) = rec {
                        let _ = reply.send(Ok(rec));
                    }
                }
                for (reply, out) in job_replies.into_iter().zip(outputs) {
                    let _ = reply.send(out.map_err(AuditError::Storage));
                }
            }
            Err(reason) => {
                tracing::error!(error = %reason, "audit batch not written");
                self.resync = true;
                shared.failed(&reason);
                for reply in replies {
                    let _ = reply.send(Err(AuditError::Unavailable(reason.clone())));
                }
                for reply in job_replies {
                    let _ = reply.send(Err(AuditError::Unavailable(reason.clone())));
                }
            }
        }
    }

    /// Writes the batch and runs the jobs in one transaction. On success advances
    /// `self.head` and returns, per reply, the record written for it (None for callers that
    /// had already given up), and per job its output or why it was rolled back. On error
    /// nothing is written and the head is unchanged.
    #[allow(clippy::type_complexity)]
    fn commit(
        &mut self,
        conn: &mut Connection,
        events: Vec<AuditEvent>,
        replies: &[Reply],
        jobs: Vec<Job>,
    ) -> Result<(Vec<Option<AuditRecord>>, Vec<Result<JobOutput, String>>), String> {
        let db = |e: rusqlite::Error| e.to_string();
        if self.resync {
            self.head = store::load_head(conn).map_err(db)?;
        }
        // IMMEDIATE takes the write lock up front, so lock contention fails here, before any
        // record is built.
        let mut tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        let mut head = self.head.clone();
        let mut written = Vec::with_capacity(events.len());
        for (event, reply) in events.into_iter().zip(replies) {
            // A caller that already timed out has refused its operation; recording it as
            // done would over-report.
            if reply.is_closed() {
                written.push(None);
                continue;
            }
            let prev = decode_hash(&head.hash)
                .ok_or_else(|| format!("chain head hash is malformed: {:?}", head.hash))?;
            let id = head.id + 1;
            // Never let time run backwards along the chain: readers can then rely on
            // id order being time order even across a wall-clock step.
            let time_ms = now_ms().max(head.time_ms);
            let hash = record_hash(&prev, id, time_ms, &event);
            let rec = AuditRecord {
                id,
                time_ms,
                event,
                prev_hash: std::mem::replace(&mut head.hash, hash.clone()),
                hash,
            };
            head.id = id;
            head.time_ms = time_ms;
            store::insert(&tx, &rec).map_err(db)?;
            written.push(Some(rec));
        }
        let mut outputs = Vec::with_capacity(jobs.len());
        for job in jobs {
            // Dropping a savepoint without committing it rolls back to it.
            let sp = tx.savepoint().map_err(db)?;
            match job(&sp) {
                Ok(out) => {
                    sp.commit().map_err(db)?;
                    outputs.push(Ok(out));
                }
                Err(e) => outputs.push(Err(e.to_string())),
            }
        }
        if written.iter().all(Option::is_none) && outputs.iter().all(Result::is_err) {
            // Dropping the transaction rolls it back; nothing to fsync.
            return Ok((written, outputs));
        }
        tx.commit().map_err(db)?;
        self.head = head;
        Ok((written, outputs))
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
