//! The `embedded` adapter: revm in this process.
//!
//! - First boot: an OSAKA [`Evm`] with the configured chain id; every contract deployed by
//!   [`deploy::deploy_all`] from the relay's submitter, with real signed transactions; the
//!   state saved once at the end, so a crash during first boot leaves no state at all.
//! - State: a snapshot and a journal under `<data dir>/chain/` (directory 0700, files 0600).
//!   The snapshot, `state.json`, is one JSON document written atomically (temp file, fsync,
//!   rename, fsync of the directory):
//!   `{"format":"agentkeys-embedded-chain-v1","chain_id":…,"submitter":"0x…",
//!     "contracts":{…},"evm":{"chain_id","spec","block_number","timestamp","db":<revm CacheDB>},
//!     "logs":[{"block_number","tx_hash","log":{"address","topics","data"}}…]}`.
//!   The CacheDB carries code, storage, balances and nonces. A state file for another chain id
//!   or another submitter key is refused. `<data dir>/chain/state.lock` is held (flock) while
//!   the chain is open, so two relays never write the same state.
//! - Every mined transaction appends one record to `journal` (format in `journal.rs`): its state
//!   changes ([`StateDiff`]), block, time and logs, fsync'd before it is reported mined, so a
//!   transaction costs the same whatever the history. Rewriting the whole snapshot after every
//!   transaction, as before, made each one cost more than the last.
//! - Opening replays the journal on the snapshot (a torn last record is dropped with a warning,
//!   any other damage refused with `chain_state_corrupt`) and, if it held records, compacts.
//!   Compaction (a new snapshot, then an empty journal after it) also runs once the journal
//!   is as large as the snapshot (at least 8 MiB) or holds 100,000 records: its amortised
//!   cost per transaction stays constant. A `state.json` from before the journal opens as a
//!   snapshot alone.
//! - Blocks: one per transaction, timestamp = max(previous, wall clock), basefee and gas price
//!   zero, so no sender needs a balance. Transactions must carry zero fees.
//! - Every EVM operation runs under one mutex inside `spawn_blocking`.

use super::deploy::{self, Deployer};
use super::journal;
use super::{
    submitter, ChainAdapter, ChainError, ChainLog, Contracts, Mined, SignedTx, LOG_CHANNEL_CAPACITY,
};
use crate::keys;
use agentkeys_contracts::evm::{Revert, StateDiff, TxRequest, TX_GAS_LIMIT};
use agentkeys_contracts::{Evm, SpecId};
use agentkeys_core::chain::{AdapterKind, TxParams};
use agentkeys_core::ErrorCode;
use alloy::consensus::{SignableTransaction, Transaction, TxEip1559, TxEnvelope};
use alloy::network::TxSignerSync;
use alloy::primitives::{Address, Bytes, Log, TxKind, B256, U256};
use alloy::signers::local::PrivateKeySigner;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::broadcast;

/// The snapshot, relative to the data directory.
pub const STATE_FILE: &str = "chain/state.json";
/// The journal of transactions mined after the snapshot, relative to the data directory.
pub const JOURNAL_FILE: &str = "chain/journal";
/// Held with `flock` while a chain is open on the data directory.
const LOCK_FILE: &str = "chain/state.lock";
const STATE_DIR: &str = "chain";
const FORMAT: &str = "agentkeys-embedded-chain-v1";
/// The refusal of a damaged state, at the head of the error.
const CORRUPT: ErrorCode = ErrorCode::ChainStateCorrupt;

/// A log as saved: where it was mined, and the log.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredLog {
    block_number: u64,
    tx_hash: B256,
    log: Log,
}

impl StoredLog {
    fn to_chain_log(&self) -> ChainLog {
        ChainLog {
            log: self.log.clone(),
            block_number: self.block_number,
            tx_hash: self.tx_hash,
        }
    }
}

/// How the chain keeps its state on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Persistence {
    /// A journal record per transaction; a new snapshot (and an empty journal) once the
    /// journal holds `max_records` records, or has grown to the snapshot's size and at least
    /// `min_bytes`. Tying compaction to the snapshot's size keeps its amortised cost per
    /// transaction constant however long the history.
    Journal { min_bytes: u64, max_records: u64 },
    /// The whole snapshot rewritten after every transaction, as before the journal: kept
    /// only to be measured against (the `embedded_chain` bench).
    FullRewrite,
}

impl Default for Persistence {
    fn default() -> Self {
        Persistence::Journal {
            min_bytes: 8 << 20,
            max_records: 100_000,
        }
    }
}

/// What the mutex guards: the EVM, every log so far in block order, and the open journal.
struct Inner {
    evm: Evm,
    logs: Vec<StoredLog>,
    journal: journal::Writer,
    /// Size of the last snapshot written or read, to pace compaction.
    snapshot_len: u64,
}

/// A journal record: one mined transaction.
#[derive(Serialize)]
struct RecordRef<'a> {
    tx_hash: B256,
    diff: &'a StateDiff,
    logs: &'a [Log],
}

#[derive(Deserialize)]
struct Record {
    tx_hash: B256,
    diff: StateDiff,
    logs: Vec<Log>,
}

/// A snapshot as read, before its journal is replayed.
struct Snapshot {
    evm: Evm,
    logs: Vec<StoredLog>,
    contracts: Contracts,
    len: u64,
}

#[derive(Serialize)]
struct StateRef<'a> {
    format: &'a str,
    chain_id: u64,
    submitter: Address,
    contracts: &'a Contracts,
    evm: &'a Evm,
    logs: &'a [StoredLog],
}

/// Read first, so a foreign or future file is refused with a clear reason before the rest
/// is parsed.
#[derive(Deserialize)]
struct StateHeader {
    format: String,
    chain_id: u64,
}

#[derive(Deserialize)]
struct StateFile {
    submitter: Address,
    contracts: Contracts,
    evm: Evm,
    logs: Vec<StoredLog>,
}

struct Shared {
    chain_id: u64,
    contracts: Contracts,
    signer: PrivateKeySigner,
    store: Store,
    persistence: Persistence,
    /// `None` once the state could neither be saved nor reloaded: the chain answers
    /// `Unavailable` until the relay restarts from what is on disk.
    state: Mutex<Option<Inner>>,
    /// The last block, readable without waiting for the mutex.
    block_number: AtomicU64,
    logs: broadcast::Sender<ChainLog>,
    /// Keeps the flock on [`LOCK_FILE`] for as long as anything uses the state.
    _lock: File,
}

/// The embedded chain; see the module documentation.
pub struct EmbeddedChain {
    shared: Arc<Shared>,
}

impl EmbeddedChain {
    /// Opens the chain kept under `data_dir/chain/`, or creates it (deploying every
    /// contract) when there is none. Blocking: it reads, and may write and fsync, the state
    /// files; from async code call it inside `spawn_blocking`.
    pub fn open(data_dir: &Path, chain_id: u64) -> Result<Arc<EmbeddedChain>, String> {
        Self::open_with(data_dir, chain_id, Persistence::default())
    }

    /// [`EmbeddedChain::open`] with the given persistence.
    pub fn open_with(
        data_dir: &Path,
        chain_id: u64,
        persistence: Persistence,
    ) -> Result<Arc<EmbeddedChain>, String> {
        keys::private_dir(&data_dir.join(STATE_DIR)).map_err(|e| e.to_string())?;
        let lock = lock_state(&data_dir.join(LOCK_FILE))?;
        let signer = submitter::load(&data_dir.join(submitter::SUBMITTER_FILE), true)?;
        let store = Store {
            state_path: data_dir.join(STATE_FILE),
            journal_path: data_dir.join(JOURNAL_FILE),
            chain_id,
            submitter: signer.address(),
        };
        let (inner, contracts) = match restore(&store, true)? {
            Some(found) => found,
            None => genesis(&store, &signer)?,
        };
        let (logs, _) = broadcast::channel(LOG_CHANNEL_CAPACITY);
        let block_number = AtomicU64::new(inner.evm.block_number());
        Ok(Arc::new(EmbeddedChain {
            shared: Arc::new(Shared {
                chain_id,
                contracts,
                signer,
                store,
                persistence,
                state: Mutex::new(Some(inner)),
                block_number,
                logs,
                _lock: lock,
            }),
        }))
    }

    /// Every log of blocks `from_block` and later, oldest first. Together with
    /// [`ChainAdapter::subscribe`] (subscribe first, then read) nothing is missed: logs are
    /// stored and broadcast under the same lock. Waits for a transaction in progress.
    pub fn logs_since(&self, from_block: u64) -> Vec<ChainLog> {
        // The logs are only appended after a successful save, so a poisoned lock still
        // guards a consistent list.
        let guard = self
            .shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(inner) = guard.as_ref() else {
            return Vec::new();
        };
        let start = inner.logs.partition_point(|l| l.block_number < from_block);
        inner.logs[start..]
            .iter()
            .map(StoredLog::to_chain_log)
            .collect()
    }

    /// Runs `f` on the state in a blocking thread.
    async fn with_state<T, F>(&self, f: F) -> Result<T, ChainError>
    where
        T: Send + 'static,
        F: FnOnce(&Shared, &mut Inner) -> Result<T, ChainError> + Send + 'static,
    {
        let shared = Arc::clone(&self.shared);
        tokio::task::spawn_blocking(move || {
            let mut guard = shared.lock()?;
            let inner = guard.as_mut().ok_or_else(lost)?;
            f(&shared, inner)
        })
        .await
        .map_err(|e| ChainError::Unavailable(format!("embedded chain task failed: {e}")))?
    }

    /// Runs `make` (which builds the transaction from the current state) and commits the
    /// transaction, all under one lock so that nonces cannot race.
    async fn commit<F>(&self, make: F) -> Result<Mined, ChainError>
    where
        F: FnOnce(&Shared, &mut Inner) -> Result<SignedTx, ChainError> + Send + 'static,
    {
        let shared = Arc::clone(&self.shared);
        tokio::task::spawn_blocking(move || shared.commit(make))
            .await
            .map_err(|e| ChainError::Unavailable(format!("embedded chain task failed: {e}")))?
    }
}

impl Shared {
    fn lock(&self) -> Result<MutexGuard<'_, Option<Inner>>, ChainError> {
        self.state.lock().map_err(|_| {
            ChainError::Unavailable("embedded chain state is poisoned by an earlier panic".into())
        })
    }

    fn commit(
        &self,
        make: impl FnOnce(&Shared, &mut Inner) -> Result<SignedTx, ChainError>,
    ) -> Result<Mined, ChainError> {
        let mut guard = self.lock()?;
        let inner = guard.as_mut().ok_or_else(lost)?;
        let tx = make(self, inner)?;
        let logs_before = inner.logs.len();
        let (mined, _, diff) = execute(&mut inner.evm, &mut inner.logs, &tx)?;
        if let Err(e) = self.persist(inner, &mined, &diff) {
            // Go back to what is on disk: a transaction that is not saved did not happen.
            tracing::error!(error = %e, "embedded chain: saving the state failed");
            // Without folding the journal into a new snapshot: if the disk is full, that
            // would fail too, and leave the chain unavailable until a restart.
            *guard = match restore(&self.store, false) {
                Ok(Some((restored, _))) => {
                    self.block_number
                        .store(restored.evm.block_number(), Ordering::Release);
                    Some(restored)
                }
                Ok(None) | Err(_) => None,
            };
            return Err(ChainError::Unavailable(format!(
                "embedded chain could not save its state: {e}"
            )));
        }
        self.block_number
            .store(mined.block_number, Ordering::Release);
        for log in &inner.logs[logs_before..] {
            // No subscriber is not an error.
            let _ = self.logs.send(log.to_chain_log());
        }
        if self.compaction_due(inner) {
            // The transaction is durable in the journal already; a failed compaction leaves
            // the snapshot and journal as they were, or the new snapshot with a journal
            // whose records it holds: both open to this same state.
            if let Err(e) = compact(&self.store, &self.contracts, inner) {
                tracing::warn!(error = %e, "embedded chain: compacting the journal failed");
            }
        }
        Ok(mined)
    }

    /// Makes the mined transaction durable: a journal record, fsync'd.
    fn persist(&self, inner: &mut Inner, mined: &Mined, diff: &StateDiff) -> Result<(), String> {
        match self.persistence {
            Persistence::Journal { .. } => {
                let record = serde_json::to_vec(&RecordRef {
                    tx_hash: mined.tx_hash,
                    diff,
                    logs: &mined.logs,
                })
                .map_err(|e| format!("encoding a journal record: {e}"))?;
                inner.journal.append(&record)
            }
            Persistence::FullRewrite => {
                inner.snapshot_len = save(&self.store, &self.contracts, &inner.evm, &inner.logs)?;
                Ok(())
            }
        }
    }

    fn compaction_due(&self, inner: &Inner) -> bool {
        match self.persistence {
            Persistence::Journal {
                min_bytes,
                max_records,
            } => {
                inner.journal.records() >= max_records
                    || inner.journal.len() >= min_bytes.max(inner.snapshot_len)
            }
            Persistence::FullRewrite => false,
        }
    }
}

/// Where the state is kept, and what it must belong to.
struct Store {
    state_path: PathBuf,
    journal_path: PathBuf,
    chain_id: u64,
    submitter: Address,
}

fn lost() -> ChainError {
    ChainError::Unavailable(
        "embedded chain state could not be saved nor reloaded; restart the relay".into(),
    )
}

#[async_trait]
impl ChainAdapter for EmbeddedChain {
    fn kind(&self) -> AdapterKind {
        AdapterKind::Embedded
    }

    fn chain_id(&self) -> u64 {
        self.shared.chain_id
    }

    fn contracts(&self) -> &Contracts {
        &self.shared.contracts
    }

    fn submitter(&self) -> Address {
        self.shared.signer.address()
    }

    async fn block_number(&self) -> Result<u64, ChainError> {
        Ok(self.shared.block_number.load(Ordering::Acquire))
    }

    async fn call(&self, to: Address, data: Bytes) -> Result<Bytes, ChainError> {
        self.with_state(move |_, inner| {
            inner
                .evm
                .call(Address::ZERO, to, data)
                .map_err(|e| match e {
                    Revert::Rejected(reason) => ChainError::Unavailable(reason),
                    other => reverted(other),
                })
        })
        .await
    }

    async fn tx_params(
        &self,
        from: Address,
        to: Address,
        data: Bytes,
    ) -> Result<TxParams, ChainError> {
        let (nonce, used) = self
            .with_state(move |_, inner| {
                let receipt = inner.evm.simulate(from, to, data).map_err(|e| match e {
                    Revert::Rejected(reason) => ChainError::InvalidTx(reason),
                    other => reverted(other),
                })?;
                let nonce = inner.evm.nonce(from).map_err(unavailable)?;
                Ok((nonce, receipt.gas_used))
            })
            .await?;
        Ok(TxParams {
            chain_id: self.shared.chain_id,
            nonce,
            gas_limit: gas_limit_for(used),
            max_fee_per_gas: "0".into(),
            max_priority_fee_per_gas: "0".into(),
        })
    }

    async fn submit_signed(&self, tx: SignedTx) -> Result<Mined, ChainError> {
        self.commit(move |_, _| Ok(tx)).await
    }

    async fn submit_own(&self, to: Address, data: Bytes) -> Result<Mined, ChainError> {
        self.commit(move |shared, inner| {
            let nonce = inner
                .evm
                .nonce(shared.signer.address())
                .map_err(unavailable)?;
            sign_own(
                &shared.signer,
                shared.chain_id,
                nonce,
                TxKind::Call(to),
                data,
            )
        })
        .await
    }

    fn subscribe(&self) -> broadcast::Receiver<ChainLog> {
        self.shared.logs.subscribe()
    }
}

/// A generous gas limit over what a dry run used: room for the 63/64 rule and for state
/// that changes between the dry run and the transaction, within the EIP-7825 cap.
fn gas_limit_for(used: u64) -> u64 {
    (used.saturating_mul(5) / 4)
        .saturating_add(30_000)
        .min(TX_GAS_LIMIT)
}

fn reverted(e: Revert) -> ChainError {
    match e {
        Revert::Reverted { data, .. } => ChainError::Reverted { data },
        // An exceptional halt has no revert data; a node reports it as a bare revert.
        Revert::Halted { .. } => ChainError::Reverted { data: Bytes::new() },
        Revert::Rejected(reason) => ChainError::InvalidTx(reason),
    }
}

fn unavailable(e: Revert) -> ChainError {
    ChainError::Unavailable(e.to_string())
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A real EIP-1559 transaction from the submitter: zero fees, the per-transaction gas cap.
fn sign_own(
    signer: &PrivateKeySigner,
    chain_id: u64,
    nonce: u64,
    to: TxKind,
    input: Bytes,
) -> Result<SignedTx, ChainError> {
    let mut tx = TxEip1559 {
        chain_id,
        nonce,
        gas_limit: TX_GAS_LIMIT,
        max_fee_per_gas: 0,
        max_priority_fee_per_gas: 0,
        to,
        value: U256::ZERO,
        access_list: Default::default(),
        input,
    };
    let signature = signer
        .sign_transaction_sync(&mut tx)
        .map_err(|e| ChainError::Unavailable(format!("signing with the submitter key: {e}")))?;
    Ok(SignedTx {
        envelope: TxEnvelope::from(tx.into_signed(signature)),
        sender: signer.address(),
    })
}

/// Mines `tx` in a block of its own and records its logs; the caller saves. Returns the
/// outcome, for a creation the new contract's address, and what the transaction changed.
fn execute(
    evm: &mut Evm,
    stored_logs: &mut Vec<StoredLog>,
    tx: &SignedTx,
) -> Result<(Mined, Option<Address>, StateDiff), ChainError> {
    let envelope = &tx.envelope;
    if matches!(envelope, TxEnvelope::Eip4844(_) | TxEnvelope::Eip7702(_)) {
        return Err(ChainError::InvalidTx(
            "blob and EIP-7702 transactions are not supported".into(),
        ));
    }
    if envelope.max_fee_per_gas() != 0 || envelope.max_priority_fee_per_gas().unwrap_or(0) != 0 {
        return Err(ChainError::InvalidTx(
            "fees must be zero: accounts hold no balance on the embedded chain".into(),
        ));
    }
    let expected = evm.nonce(tx.sender).map_err(unavailable)?;
    if envelope.nonce() != expected {
        return Err(ChainError::InvalidTx(format!(
            "nonce {} but the sender's next nonce is {expected}",
            envelope.nonce()
        )));
    }
    let access_list = envelope
        .access_list()
        .map(|list| {
            list.iter()
                .map(|item| (item.address, item.storage_keys.clone()))
                .collect()
        })
        .unwrap_or_default();
    evm.set_timestamp(now());
    let executed = evm.execute_recorded(TxRequest {
        from: tx.sender,
        kind: envelope.kind(),
        data: envelope.input().clone(),
        nonce: envelope.nonce(),
        gas_limit: envelope.gas_limit(),
        access_list,
    });
    let (outcome, diff) = match executed {
        Ok(executed) => executed,
        // Never ran: nothing changed, nothing to save.
        Err(e) => return Err(ChainError::InvalidTx(e.to_string())),
    };
    let tx_hash = tx.hash();
    let block_number = evm.block_number();
    let (success, gas_used, revert_data, logs, created) = match outcome {
        Ok(r) => (true, r.gas_used, Bytes::new(), r.logs, r.contract_address),
        Err(Revert::Reverted { data, gas_used }) => (false, gas_used, data, Vec::new(), None),
        Err(Revert::Halted { gas_used, .. }) => (false, gas_used, Bytes::new(), Vec::new(), None),
        // execute_recorded reports a rejection as its outer error only.
        Err(Revert::Rejected(reason)) => return Err(ChainError::InvalidTx(reason)),
    };
    stored_logs.extend(logs.iter().map(|log| StoredLog {
        block_number,
        tx_hash,
        log: log.clone(),
    }));
    Ok((
        Mined {
            tx_hash,
            block_number,
            success,
            gas_used,
            revert_data,
            logs,
        },
        created,
        diff,
    ))
}

/// Deploys the contracts on a fresh EVM, from the submitter, before anything is shared.
struct GenesisDeployer<'a> {
    evm: &'a mut Evm,
    logs: &'a mut Vec<StoredLog>,
    signer: &'a PrivateKeySigner,
    chain_id: u64,
}

impl GenesisDeployer<'_> {
    fn run(&mut self, to: TxKind, data: Bytes) -> Result<(Mined, Option<Address>), ChainError> {
        let nonce = self.evm.nonce(self.signer.address()).map_err(unavailable)?;
        let tx = sign_own(self.signer, self.chain_id, nonce, to, data)?;
        let (mined, created, _) = execute(self.evm, self.logs, &tx)?;
        if !mined.success {
            return Err(ChainError::Reverted {
                data: mined.revert_data,
            });
        }
        Ok((mined, created))
    }
}

#[async_trait]
impl<'a> Deployer for GenesisDeployer<'a> {
    async fn create(&mut self, init_code: Bytes) -> Result<Address, ChainError> {
        self.run(TxKind::Create, init_code)?
            .1
            .ok_or_else(|| ChainError::Unavailable("creation returned no address".into()))
    }

    async fn send(&mut self, to: Address, data: Bytes) -> Result<(), ChainError> {
        self.run(TxKind::Call(to), data).map(|_| ())
    }
}

fn genesis(store: &Store, signer: &PrivateKeySigner) -> Result<(Inner, Contracts), String> {
    let mut evm = Evm::new(store.chain_id, SpecId::OSAKA);
    let mut logs = Vec::new();
    let contracts = {
        let mut deployer = GenesisDeployer {
            evm: &mut evm,
            logs: &mut logs,
            signer,
            chain_id: store.chain_id,
        };
        // Nothing in the deployer awaits, so this completes without a runtime.
        futures::executor::block_on(deploy::deploy_all(&mut deployer, signer.address()))
            .map_err(|e| format!("deploying the contracts on the embedded chain: {e}"))?
    };
    // The snapshot first: a journal is only ever read next to the snapshot it continues.
    let snapshot_len = save(store, &contracts, &evm, &logs)?;
    let journal = journal::Writer::create(&store.journal_path, evm.block_number())?;
    tracing::info!(
        chain_id = store.chain_id,
        registry = %contracts.registry,
        "embedded chain created and contracts deployed"
    );
    Ok((
        Inner {
            evm,
            logs,
            journal,
            snapshot_len,
        },
        contracts,
    ))
}

/// Writes the whole state as the snapshot, atomically; returns its size.
fn save(
    store: &Store,
    contracts: &Contracts,
    evm: &Evm,
    logs: &[StoredLog],
) -> Result<u64, String> {
    let json = serde_json::to_vec(&StateRef {
        format: FORMAT,
        chain_id: store.chain_id,
        submitter: store.submitter,
        contracts,
        evm,
        logs,
    })
    .map_err(|e| format!("encoding the embedded chain state: {e}"))?;
    keys::write_secret_file(&store.state_path, &json).map_err(|e| e.to_string())?;
    Ok(json.len() as u64)
}

/// A new snapshot of the whole state, then an empty journal after it. A crash between the
/// two leaves the new snapshot next to the old journal, whose records it already holds:
/// replay skips them.
fn compact(store: &Store, contracts: &Contracts, inner: &mut Inner) -> Result<(), String> {
    inner.snapshot_len = save(store, contracts, &inner.evm, &inner.logs)?;
    inner.journal = journal::Writer::create(&store.journal_path, inner.evm.block_number())?;
    Ok(())
}

/// The chain as saved: the snapshot, brought forward by its journal. `None` when there is
/// no chain yet. A journal with a torn tail is compacted into a new snapshot, so appends
/// never follow a torn record; so is one with records when `fold` is set (at boot).
fn restore(store: &Store, fold: bool) -> Result<Option<(Inner, Contracts)>, String> {
    let path = &store.journal_path;
    let scan = journal::read(path)?;
    let Some(Snapshot {
        mut evm,
        mut logs,
        contracts,
        len,
    }) = load_snapshot(store)?
    else {
        if scan.is_some() {
            return Err(journal::corrupt(
                path,
                &format!("the snapshot it continues, {STATE_FILE}, is missing"),
            ));
        }
        return Ok(None);
    };
    let Some(scan) = scan else {
        // A snapshot alone: the chain as first deployed, or saved before the journal.
        let journal = journal::Writer::create(path, evm.block_number())?;
        let inner = Inner {
            evm,
            logs,
            journal,
            snapshot_len: len,
        };
        return Ok(Some((inner, contracts)));
    };
    let snapshot_block = evm.block_number();
    if scan.base > snapshot_block {
        return Err(journal::corrupt(
            path,
            &format!(
                "it continues block {}, but the snapshot is at block {snapshot_block}",
                scan.base
            ),
        ));
    }
    for ((n, payload), expected) in (1..).zip(&scan.records).zip(scan.base + 1..) {
        let record: Record = serde_json::from_slice(payload)
            .map_err(|e| journal::corrupt(path, &format!("record {n} does not decode: {e}")))?;
        let block = record.diff.block_number;
        if block != expected {
            return Err(journal::corrupt(
                path,
                &format!("record {n} is of block {block}, where block {expected} was due"),
            ));
        }
        // Already in the snapshot: a compaction stopped before it replaced the journal.
        if block <= snapshot_block {
            continue;
        }
        evm.apply(&record.diff)
            .map_err(|e| journal::corrupt(path, &format!("record {n}: {e}")))?;
        logs.extend(record.logs.into_iter().map(|log| StoredLog {
            block_number: block,
            tx_hash: record.tx_hash,
            log,
        }));
    }
    if let Some(torn) = &scan.torn {
        tracing::warn!(
            offset = torn.offset,
            bytes = torn.bytes,
            kept = scan.records.len(),
            "embedded chain: dropped a torn last journal record (a crash in the middle of an \
             append; that transaction was never reported mined)"
        );
    }
    let mut inner = Inner {
        journal: journal::reopen(path, &scan)?,
        evm,
        logs,
        snapshot_len: len,
    };
    if scan.torn.is_some() || (fold && !scan.records.is_empty()) {
        compact(store, &contracts, &mut inner)?;
    } else if scan.records.is_empty() && scan.base != snapshot_block {
        // An empty journal behind the snapshot (which was rewritten without it): records
        // appended to it would not follow its base.
        inner.journal = journal::Writer::create(path, snapshot_block)?;
    }
    Ok(Some((inner, contracts)))
}

/// The snapshot, `None` when there is none yet.
fn load_snapshot(store: &Store) -> Result<Option<Snapshot>, String> {
    let path = &store.state_path;
    let chain_id = store.chain_id;
    let submitter = store.submitter;
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let shown = path.display();
    let header: StateHeader = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{CORRUPT}: {shown} is not an embedded chain state: {e}"))?;
    if header.format != FORMAT {
        return Err(format!(
            "{shown} has format {:?}, this relay reads {FORMAT:?}",
            header.format
        ));
    }
    if header.chain_id != chain_id {
        return Err(format!(
            "{shown} holds the embedded chain with chain id {}, but chain id {chain_id} is \
             configured; configure chain id {} or use another data directory",
            header.chain_id, header.chain_id
        ));
    }
    let file: StateFile = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{CORRUPT}: {shown} is not an embedded chain state: {e}"))?;
    if file.evm.chain_id() != chain_id {
        return Err(format!(
            "{shown} is inconsistent: its EVM runs chain id {}",
            file.evm.chain_id()
        ));
    }
    if file.submitter != submitter {
        return Err(format!(
            "{shown} was deployed by submitter {}, but the submitter key is {submitter}; \
             restore {} or use another data directory",
            file.submitter,
            submitter::SUBMITTER_FILE
        ));
    }
    Ok(Some(Snapshot {
        evm: file.evm,
        logs: file.logs,
        contracts: file.contracts,
        len: bytes.len() as u64,
    }))
}

/// Takes an exclusive `flock` on `path` (created 0600), refusing a second holder.
fn lock_state(path: &Path) -> Result<File, String> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    // SAFETY: flock only reads the descriptor, which `file` owns and keeps open.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        let err = std::io::Error::last_os_error();
        return Err(if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
            format!(
                "{} is locked: another relay (or another chain in this process) uses this \
                 data directory's embedded chain",
                path.display()
            )
        } else {
            format!("{}: {err}", path.display())
        });
    }
    Ok(file)
}

#[cfg(test)]
#[path = "embedded_tests.rs"]
mod tests;
