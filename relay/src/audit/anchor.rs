//! Anchoring (ARCHITECTURE §9): the audit records of each operator are gathered into Merkle
//! batches whose roots go to `CredentialAudit.appendRoot`, so a reader can prove a record
//! against the chain instead of trusting the relay.
//!
//! - **When.** After [`AnchorPolicy::every_records`] records not yet in a batch, or
//!   [`AnchorPolicy::every_secs`] seconds after the first of them was seen, whichever comes
//!   first; a run then batches every such record, one batch per operator (split at
//!   [`MAX_BATCH_RECORDS`]). [`Anchorer::anchor_now`] runs at once.
//! - **Crash safety.** A batch is written `pending` (with its records, in leaf order) before its
//!   root is sent. A pending batch that may have been sent (any batch after a restart, or after
//!   a failed attempt) is first looked for among the operator's roots on chain, from the end:
//!   found (same root and count) it is marked anchored, otherwise it is sent again. A record's
//!   id is the key of its membership row, so it belongs to exactly one batch.
//! - **Never in the request path.** The anchorer is its own task. It reads through its own
//!   read-only connection and writes through the audit writer's queue, riding in the writer's
//!   next group commit; it never takes the write lock itself.
//! - **Failures.** A failed run is retried with exponential backoff (1 s to 60 s) and logged
//!   with the batch, operator and the chain's error, which never contain secrets.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use agentkeys_contracts::bindings::CredentialAudit;
use agentkeys_contracts::merkle::MerkleTree;
use agentkeys_core::audit::{decode_0x32, decode_hash};
use agentkeys_core::chain::AnchorSchedule;
use agentkeys_core::time_util::now_millis;
use alloy::primitives::{Bytes, B256, U256};
use alloy::sol_types::{SolCall, SolEvent, SolInterface};
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::batches::{self, Anchored, BatchRow, BatchStatus, NewBatch, Unbatched};
use super::{AuditError, AuditLog};
use crate::chain::views::hex32;
use crate::chain::{ChainAdapter, ChainError};

/// Largest batch; an operator with more unbatched records gets several batches in one run.
pub const MAX_BATCH_RECORDS: usize = 4096;
/// Records read (and batched in one writer job) per scan of the log, which bounds how long
/// one job can hold up the appends that share its commit.
const SCAN_LIMIT: usize = MAX_BATCH_RECORDS;
/// How far back from the end of an operator's roots a pending batch is looked for.
const RECONCILE_SCAN_MAX: u64 = 1024;
/// Batches are bookkeeping, not the request path: the writer may take its time with them.
const JOB_TIMEOUT: Duration = Duration::from_secs(30);
const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(60);

/// When batches are anchored. `0` turns a trigger off (both off: only
/// [`Anchorer::anchor_now`] anchors).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnchorPolicy {
    /// Anchor once this many records are not in a batch yet.
    pub every_records: u64,
    /// Anchor this many seconds after a record not in a batch was first seen.
    pub every_secs: u64,
}

impl Default for AnchorPolicy {
    fn default() -> Self {
        AnchorPolicy {
            every_records: 64,
            every_secs: 30,
        }
    }
}

impl From<AnchorPolicy> for AnchorSchedule {
    fn from(p: AnchorPolicy) -> Self {
        AnchorSchedule {
            every_records: p.every_records,
            every_secs: p.every_secs,
        }
    }
}

/// What one run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AnchorReport {
    /// Batches written by this run.
    pub batches_created: usize,
    /// Batches whose root this run put on chain (or found there).
    pub anchored: usize,
    /// Batches still pending afterwards.
    pub pending: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AnchorError {
    #[error("audit store: {0}")]
    Store(#[from] AuditError),
    #[error("chain: {0}")]
    Chain(String),
    #[error("the anchorer has stopped")]
    Stopped,
}

impl From<rusqlite::Error> for AnchorError {
    fn from(e: rusqlite::Error) -> Self {
        AnchorError::Store(e.into())
    }
}

type Request = oneshot::Sender<Result<AnchorReport, AnchorError>>;

/// Asks the running anchorer for a run now; cheap to clone.
#[derive(Clone)]
pub struct AnchorTrigger(mpsc::Sender<Request>);

impl AnchorTrigger {
    /// Batches every record not in a batch yet and sends every pending root, ignoring the
    /// policy and any backoff; returns once that run is over.
    pub async fn anchor_now(&self) -> Result<AnchorReport, AnchorError> {
        let (reply, rx) = oneshot::channel();
        self.0.send(reply).await.map_err(|_| AnchorError::Stopped)?;
        rx.await.map_err(|_| AnchorError::Stopped)?
    }
}

/// The running anchorer.
pub struct Anchorer {
    trigger: AnchorTrigger,
    task: JoinHandle<()>,
}

impl Anchorer {
    /// See [`AnchorTrigger::anchor_now`].
    pub async fn anchor_now(&self) -> Result<AnchorReport, AnchorError> {
        self.trigger.anchor_now().await
    }

    pub fn trigger(&self) -> AnchorTrigger {
        self.trigger.clone()
    }

    /// Waits for the task to end (after `stop` turned true). Call it before closing the log.
    pub async fn join(self) {
        if let Err(e) = self.task.await {
            tracing::warn!(error = %e, "audit anchorer ended abnormally");
        }
    }

    pub fn into_task(self) -> JoinHandle<()> {
        self.task
    }
}

/// Starts the anchorer of `log` on `chain`. It stops when `stop` turns true (or its sender is
/// dropped), abandoning a run in flight: what a run wrote is consistent at every step.
pub fn spawn_anchorer(
    log: AuditLog,
    chain: Arc<dyn ChainAdapter>,
    policy: AnchorPolicy,
    stop: watch::Receiver<bool>,
) -> Anchorer {
    let (tx, rx) = mpsc::channel(16);
    let task = Task {
        log,
        chain,
        policy,
        reader: None,
        cursor: None,
        fresh: HashSet::new(),
        mined: HashMap::new(),
    };
    Anchorer {
        trigger: AnchorTrigger(tx),
        task: tokio::spawn(task.run(stop, rx)),
    }
}

struct Task {
    log: AuditLog,
    chain: Arc<dyn ChainAdapter>,
    policy: AnchorPolicy,
    reader: Option<Arc<Mutex<Connection>>>,
    /// Every record up to this id is in a batch (None until read from the store).
    cursor: Option<u64>,
    /// Batches this process wrote and never sent: certainly not on chain yet.
    fresh: HashSet<i64>,
    /// Batches mined whose anchoring could not be written yet (kept for the retry).
    mined: HashMap<i64, Anchored>,
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    // A dropped sender counts as stop.
    let _ = stop.wait_for(|s| *s).await;
}

fn is_stopped(stop: &watch::Receiver<bool>) -> bool {
    *stop.borrow() || stop.has_changed().is_err()
}

impl Task {
    async fn run(mut self, mut stop: watch::Receiver<bool>, mut requests: mpsc::Receiver<Request>) {
        let mut head_rx = self.log.subscribe_head();
        let every_secs = Duration::from_secs(self.policy.every_secs);
        let mut backoff = BACKOFF_MIN;
        let mut retry_at: Option<Instant> = None;
        // Unknown at start: whatever a previous process left pending is settled first.
        let mut has_pending = true;
        let mut first_seen: Option<Instant> = None;
        let mut requests_open = true;
        tracing::info!(
            every_records = self.policy.every_records,
            every_secs = self.policy.every_secs,
            "audit anchorer started"
        );
        loop {
            if is_stopped(&stop) {
                break;
            }
            let head = *head_rx.borrow_and_update();
            let now = Instant::now();
            let unbatched = self.cursor.map_or(0, |c| head.saturating_sub(c));
            if unbatched == 0 {
                first_seen = None;
            } else if first_seen.is_none() {
                first_seen = Some(now);
            }
            let count_due = self.policy.every_records > 0 && unbatched >= self.policy.every_records;
            let time_due = self.policy.every_secs > 0
                && first_seen.is_some_and(|t| now.duration_since(t) >= every_secs);
            let work = self.cursor.is_none() || count_due || time_due || has_pending;
            let waiting = retry_at.is_some_and(|t| now < t);

            let mut run: Option<(bool, Option<Request>)> = None;
            if work && !waiting {
                run = Some((count_due || time_due, None));
            } else {
                let mut deadline = first_seen
                    .filter(|_| self.policy.every_secs > 0)
                    .map(|t| t + every_secs);
                if work {
                    deadline = match (deadline, retry_at) {
                        (Some(d), Some(r)) => Some(d.min(r)),
                        (d, r) => d.or(r),
                    };
                }
                tokio::select! {
                    _ = stop.changed() => {}
                    req = requests.recv(), if requests_open => match req {
                        Some(reply) => run = Some((true, Some(reply))),
                        None => requests_open = false,
                    },
                    _ = head_rx.changed() => {}
                    _ = sleep_until(deadline) => {}
                }
            }
            let Some((form, reply)) = run else { continue };
            let result = tokio::select! {
                r = self.pass(form) => r,
                _ = stopped(&mut stop) => {
                    if let Some(reply) = reply {
                        let _ = reply.send(Err(AnchorError::Stopped));
                    }
                    break;
                }
            };
            match &result {
                Ok(report) => {
                    if report.batches_created > 0 || report.anchored > 0 {
                        tracing::info!(
                            created = report.batches_created,
                            anchored = report.anchored,
                            pending = report.pending,
                            "audit anchoring run"
                        );
                    }
                    has_pending = report.pending > 0;
                    backoff = BACKOFF_MIN;
                    // A run that succeeds settles every pending batch; if one is still
                    // pending, look again shortly rather than spin.
                    retry_at = has_pending.then(|| Instant::now() + BACKOFF_MIN);
                }
                Err(e) => {
                    tracing::warn!(
                        error = %e,
                        retry_in_secs = backoff.as_secs(),
                        "audit anchoring failed; will retry"
                    );
                    has_pending = true;
                    retry_at = Some(Instant::now() + backoff);
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
            }
            if form && result.is_ok() {
                first_seen = None;
            }
            if let Some(reply) = reply {
                let _ = reply.send(result);
            }
        }
        tracing::info!("audit anchorer stopped");
    }

    async fn pass(&mut self, form: bool) -> Result<AnchorReport, AnchorError> {
        let mut report = AnchorReport::default();
        if self.cursor.is_none() {
            self.cursor = Some(self.read(batches::batched_through).await?);
        }
        if form {
            report.batches_created = self.form_batches().await?;
        }
        report.anchored = self.submit_pending().await?;
        report.pending = self.read(batches::count_pending).await?;
        Ok(report)
    }

    async fn read<T: Send + 'static>(
        &mut self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, AnchorError> {
        let conn = match &self.reader {
            Some(c) => c.clone(),
            None => {
                let c = Arc::new(Mutex::new(self.log.open_reader()?));
                self.reader = Some(c.clone());
                c
            }
        };
        let out = tokio::task::spawn_blocking(move || {
            let conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
            f(&conn)
        })
        .await
        .map_err(|e| AuditError::Storage(format!("audit read task failed: {e}")))?;
        Ok(out?)
    }

    /// Puts every record not in a batch yet into batches, one per operator per
    /// [`MAX_BATCH_RECORDS`]. Returns how many batches were written.
    async fn form_batches(&mut self) -> Result<usize, AnchorError> {
        let mut created = 0;
        loop {
            let after = self.cursor.unwrap_or(0);
            let rows = self
                .read(move |c| batches::unbatched(c, after, SCAN_LIMIT))
                .await?;
            let Some(last) = rows.last().map(|r| r.id) else {
                // Nothing left after the cursor. If the cursor lags (a batch written by a job
                // whose answer timed out), catch up so the count trigger does not spin.
                let through = self.read(batches::batched_through).await?;
                self.cursor = Some(after.max(through));
                break;
            };
            let more = rows.len() == SCAN_LIMIT;
            let new = plan_batches(rows);
            let now = now_millis();
            let count = new.len();
            let ids = self
                .log
                .exec(JOB_TIMEOUT, move |c| {
                    new.iter()
                        .map(|b| {
                            let id = batches::insert_batch(c, b, now)?;
                            Ok((id, b.status))
                        })
                        .collect::<rusqlite::Result<Vec<_>>>()
                })
                .await?;
            for (id, status) in ids {
                if status == BatchStatus::Pending {
                    self.fresh.insert(id);
                }
            }
            self.cursor = Some(last);
            created += count;
            if !more {
                break;
            }
        }
        Ok(created)
    }

    /// Sends (or finds on chain) every pending batch, oldest first; stops at the first
    /// failure so roots reach the chain in batch order.
    async fn submit_pending(&mut self) -> Result<usize, AnchorError> {
        let pending = self.read(batches::pending).await?;
        let mut anchored = 0;
        for batch in pending {
            let a = match self.anchor_one(&batch).await {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(
                        batch = batch.id,
                        operator = %batch.operator,
                        count = batch.count,
                        error = %e,
                        "audit batch not anchored"
                    );
                    return Err(e);
                }
            };
            let (id, mark, now) = (batch.id, a.clone(), now_millis());
            self.log
                .exec(JOB_TIMEOUT, move |c| {
                    batches::mark_anchored(c, id, &mark, now)
                })
                .await?;
            self.mined.remove(&batch.id);
            tracing::info!(
                batch = batch.id,
                operator = %batch.operator,
                count = batch.count,
                root_index = a.root_index,
                block = ?a.block_number,
                "audit batch anchored"
            );
            anchored += 1;
        }
        Ok(anchored)
    }

    async fn anchor_one(&mut self, batch: &BatchRow) -> Result<Anchored, AnchorError> {
        if let Some(a) = self.mined.get(&batch.id) {
            return Ok(a.clone());
        }
        let bad = |what: &str| {
            AnchorError::Store(AuditError::Storage(format!(
                "batch {} has a malformed {what}",
                batch.id
            )))
        };
        let operator = B256::from(decode_hash(&batch.operator).ok_or_else(|| bad("operator"))?);
        let root = B256::from(decode_0x32(&batch.root).ok_or_else(|| bad("root"))?);
        // Anything but a batch this process made and never sent may already be on chain.
        if !self.fresh.remove(&batch.id) {
            if let Some(root_index) = self.find_on_chain(batch, operator, root).await? {
                tracing::info!(
                    batch = batch.id,
                    root_index,
                    "audit batch found on chain (sent before a restart or a failed attempt)"
                );
                return Ok(Anchored {
                    root_index,
                    block_number: None,
                    tx_hash: None,
                });
            }
        }
        let audit = self.chain.contracts().audit;
        let call = CredentialAudit::appendRootCall {
            operatorOmni: operator,
            root,
            count: batch.count,
        };
        let mined = self
            .chain
            .submit_own(audit, call.abi_encode().into())
            .await
            .map_err(chain_error)?;
        if !mined.success {
            return Err(AnchorError::Chain(format!(
                "appendRoot reverted in tx {}: {}",
                hex32(mined.tx_hash),
                describe_revert(&mined.revert_data)
            )));
        }
        let index = mined
            .logs
            .iter()
            .filter(|l| l.address == audit)
            .filter_map(|l| CredentialAudit::RootAppended::decode_log_data(&l.data).ok())
            .find(|e| e.operatorOmni == operator && e.root == root && e.count == batch.count)
            .map(|e| e.index)
            .ok_or_else(|| {
                AnchorError::Chain(format!(
                    "the receipt of tx {} has no RootAppended for this batch",
                    hex32(mined.tx_hash)
                ))
            })?;
        let a = Anchored {
            root_index: u64::try_from(index)
                .map_err(|_| AnchorError::Chain("root index out of range".into()))?,
            block_number: Some(mined.block_number),
            tx_hash: Some(hex32(mined.tx_hash)),
        };
        self.mined.insert(batch.id, a.clone());
        Ok(a)
    }

    /// The index of the batch's root among the operator's roots, looked for from the end
    /// down to just above the last root this relay recorded for the operator.
    async fn find_on_chain(
        &mut self,
        batch: &BatchRow,
        operator: B256,
        root: B256,
    ) -> Result<Option<u64>, AnchorError> {
        let audit = self.chain.contracts().audit;
        let count: U256 = self
            .call(
                audit,
                CredentialAudit::rootCountCall {
                    operatorOmni: operator,
                },
            )
            .await?;
        let count = count.saturating_to::<u64>();
        let op = batch.operator.clone();
        let floor = self
            .read(move |c| batches::last_root_index(c, &op))
            .await?
            .map_or(0, |i| i + 1)
            .max(count.saturating_sub(RECONCILE_SCAN_MAX));
        for index in (floor..count).rev() {
            let r = self
                .call(
                    audit,
                    CredentialAudit::getRootCall {
                        operatorOmni: operator,
                        index: U256::from(index),
                    },
                )
                .await?;
            if r.root == root && r.count == batch.count {
                return Ok(Some(index));
            }
        }
        Ok(None)
    }

    async fn call<C: SolCall>(
        &self,
        to: alloy::primitives::Address,
        call: C,
    ) -> Result<C::Return, AnchorError> {
        let out = self
            .chain
            .call(to, call.abi_encode().into())
            .await
            .map_err(chain_error)?;
        C::abi_decode_returns(&out)
            .map_err(|e| AnchorError::Chain(format!("undecodable answer from {to}: {e}")))
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

fn chain_error(e: ChainError) -> AnchorError {
    match e {
        ChainError::Reverted { data } => {
            AnchorError::Chain(format!("appendRoot reverted: {}", describe_revert(&data)))
        }
        other => AnchorError::Chain(other.to_string()),
    }
}

fn describe_revert(data: &Bytes) -> String {
    match CredentialAudit::CredentialAuditErrors::abi_decode(data) {
        Ok(e) => format!("{e:?}"),
        Err(_) if data.is_empty() => "no reason given".into(),
        Err(_) => format!("unknown error 0x{}", hex::encode(data)),
    }
}

/// Groups records into batches: per operator, in id order, at most [`MAX_BATCH_RECORDS`]
/// each; batches ordered by their first record.
fn plan_batches(rows: Vec<Unbatched>) -> Vec<NewBatch> {
    let mut order: Vec<String> = Vec::new();
    let mut by_operator: HashMap<String, Vec<Unbatched>> = HashMap::new();
    for r in rows {
        by_operator
            .entry(r.operator.clone())
            .or_insert_with(|| {
                order.push(r.operator.clone());
                Vec::new()
            })
            .push(r);
    }
    let mut out = Vec::new();
    for operator in order {
        let records = by_operator.remove(&operator).unwrap_or_default();
        for chunk in records.chunks(MAX_BATCH_RECORDS) {
            out.push(plan_one(&operator, chunk));
        }
    }
    out.sort_by_key(|b| b.records.first().copied());
    out
}

fn plan_one(operator: &str, chunk: &[Unbatched]) -> NewBatch {
    let records = chunk.iter().map(|r| r.id).collect();
    let hashes: Option<Vec<B256>> = chunk
        .iter()
        .map(|r| decode_hash(&r.hash).map(B256::from))
        .collect();
    let tree = hashes.and_then(|h| MerkleTree::new(&h).ok());
    match (decode_hash(operator), tree) {
        (Some(_), Some(tree)) => NewBatch {
            operator: operator.to_string(),
            root: format!("{:#x}", tree.root()),
            status: BatchStatus::Pending,
            records,
        },
        _ => {
            // Validation keeps such records out of the log; one written by an older build
            // is set aside rather than blocking every batch after it.
            tracing::warn!(
                operator,
                first = chunk.first().map(|r| r.id),
                count = chunk.len(),
                "audit records with a malformed operator or hash cannot be anchored"
            );
            NewBatch {
                operator: operator.to_string(),
                root: String::new(),
                status: BatchStatus::Skipped,
                records,
            }
        }
    }
}
