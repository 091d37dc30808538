//! The `embedded` adapter: revm in this process.
//!
//! - First boot: an OSAKA [`Evm`] with the configured chain id; every contract deployed by
//!   [`deploy::deploy_all`] from the relay's submitter, with real signed transactions; the
//!   state saved once at the end, so a crash during first boot leaves no state at all.
//! - State: one JSON document at `<data dir>/chain/state.json` (directory 0700, file 0600),
//!   rewritten atomically (temp file, fsync, rename, fsync of the directory) after every
//!   committed transaction. It holds:
//!   `{"format":"agentkeys-embedded-chain-v1","chain_id":…,"submitter":"0x…",
//!     "contracts":{…},"evm":{"chain_id","spec","block_number","timestamp","db":<revm CacheDB>},
//!     "logs":[{"block_number","tx_hash","log":{"address","topics","data"}}…]}`.
//!   The CacheDB carries code, storage, balances and nonces. A state file for another chain id
//!   or another submitter key is refused. `<data dir>/chain/state.lock` is held (flock) while
//!   the chain is open, so two relays never write the same state.
//! - Blocks: one per transaction, timestamp = max(previous, wall clock), basefee and gas price
//!   zero, so no sender needs a balance. Transactions must carry zero fees.
//! - Every EVM operation runs under one mutex inside `spawn_blocking`.

use super::deploy::{self, Deployer};
use super::{
    submitter, ChainAdapter, ChainError, ChainLog, Contracts, Mined, SignedTx, LOG_CHANNEL_CAPACITY,
};
use crate::keys;
use agentkeys_contracts::evm::{Revert, TxRequest, TX_GAS_LIMIT};
use agentkeys_contracts::{Evm, SpecId};
use agentkeys_core::chain::{AdapterKind, TxParams};
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

/// The state file, relative to the data directory.
pub const STATE_FILE: &str = "chain/state.json";
/// Held with `flock` while a chain is open on the data directory.
const LOCK_FILE: &str = "chain/state.lock";
const STATE_DIR: &str = "chain";
const FORMAT: &str = "agentkeys-embedded-chain-v1";

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

/// What the mutex guards: the EVM and every log so far, in block order.
struct Inner {
    evm: Evm,
    logs: Vec<StoredLog>,
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
    state_path: PathBuf,
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
    /// file; from async code call it inside `spawn_blocking`.
    pub fn open(data_dir: &Path, chain_id: u64) -> Result<Arc<EmbeddedChain>, String> {
        keys::private_dir(&data_dir.join(STATE_DIR)).map_err(|e| e.to_string())?;
        let lock = lock_state(&data_dir.join(LOCK_FILE))?;
        let signer = submitter::load(&data_dir.join(submitter::SUBMITTER_FILE), true)?;
        let state_path = data_dir.join(STATE_FILE);
        let (inner, contracts) = match load_state(&state_path, chain_id, signer.address())? {
            Some(found) => found,
            None => genesis(&state_path, chain_id, &signer)?,
        };
        let (logs, _) = broadcast::channel(LOG_CHANNEL_CAPACITY);
        let block_number = AtomicU64::new(inner.evm.block_number());
        Ok(Arc::new(EmbeddedChain {
            shared: Arc::new(Shared {
                chain_id,
                contracts,
                signer,
                state_path,
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
        let (mined, _) = execute(inner, &tx)?;
        if let Err(e) = save(
            &self.state_path,
            self.chain_id,
            self.signer.address(),
            &self.contracts,
            inner,
        ) {
            // Go back to what is on disk: a transaction that is not saved did not happen.
            tracing::error!(error = %e, "embedded chain: saving the state failed");
            *guard = match load_state(&self.state_path, self.chain_id, self.signer.address()) {
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
        Ok(mined)
    }
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
/// outcome and, for a creation, the new contract's address.
fn execute(inner: &mut Inner, tx: &SignedTx) -> Result<(Mined, Option<Address>), ChainError> {
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
    let expected = inner.evm.nonce(tx.sender).map_err(unavailable)?;
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
    inner.evm.set_timestamp(now());
    let outcome = inner.evm.execute(TxRequest {
        from: tx.sender,
        kind: envelope.kind(),
        data: envelope.input().clone(),
        nonce: envelope.nonce(),
        gas_limit: envelope.gas_limit(),
        access_list,
    });
    let tx_hash = tx.hash();
    let block_number = inner.evm.block_number();
    let (success, gas_used, revert_data, logs, created) = match outcome {
        Ok(r) => (true, r.gas_used, Bytes::new(), r.logs, r.contract_address),
        Err(Revert::Reverted { data, gas_used }) => (false, gas_used, data, Vec::new(), None),
        Err(Revert::Halted { gas_used, .. }) => (false, gas_used, Bytes::new(), Vec::new(), None),
        // Never ran: nothing changed, nothing to save.
        Err(Revert::Rejected(reason)) => return Err(ChainError::InvalidTx(reason)),
    };
    inner.logs.extend(logs.iter().map(|log| StoredLog {
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
    ))
}

/// Deploys the contracts on a fresh EVM, from the submitter, before anything is shared.
struct GenesisDeployer<'a> {
    inner: &'a mut Inner,
    signer: &'a PrivateKeySigner,
    chain_id: u64,
}

impl GenesisDeployer<'_> {
    fn run(&mut self, to: TxKind, data: Bytes) -> Result<(Mined, Option<Address>), ChainError> {
        let nonce = self
            .inner
            .evm
            .nonce(self.signer.address())
            .map_err(unavailable)?;
        let tx = sign_own(self.signer, self.chain_id, nonce, to, data)?;
        let (mined, created) = execute(self.inner, &tx)?;
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

fn genesis(
    path: &Path,
    chain_id: u64,
    signer: &PrivateKeySigner,
) -> Result<(Inner, Contracts), String> {
    let mut inner = Inner {
        evm: Evm::new(chain_id, SpecId::OSAKA),
        logs: Vec::new(),
    };
    let contracts = {
        let mut deployer = GenesisDeployer {
            inner: &mut inner,
            signer,
            chain_id,
        };
        // Nothing in the deployer awaits, so this completes without a runtime.
        futures::executor::block_on(deploy::deploy_all(&mut deployer, signer.address()))
            .map_err(|e| format!("deploying the contracts on the embedded chain: {e}"))?
    };
    save(path, chain_id, signer.address(), &contracts, &inner)?;
    tracing::info!(
        chain_id,
        registry = %contracts.registry,
        "embedded chain created and contracts deployed"
    );
    Ok((inner, contracts))
}

fn save(
    path: &Path,
    chain_id: u64,
    submitter: Address,
    contracts: &Contracts,
    inner: &Inner,
) -> Result<(), String> {
    let json = serde_json::to_vec(&StateRef {
        format: FORMAT,
        chain_id,
        submitter,
        contracts,
        evm: &inner.evm,
        logs: &inner.logs,
    })
    .map_err(|e| format!("encoding the embedded chain state: {e}"))?;
    keys::write_secret_file(path, &json).map_err(|e| e.to_string())
}

/// The saved chain at `path`, `None` when there is none yet.
fn load_state(
    path: &Path,
    chain_id: u64,
    submitter: Address,
) -> Result<Option<(Inner, Contracts)>, String> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let shown = path.display();
    let header: StateHeader = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{shown} is not an embedded chain state: {e}"))?;
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
        .map_err(|e| format!("{shown} is not an embedded chain state: {e}"))?;
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
    Ok(Some((
        Inner {
            evm: file.evm,
            logs: file.logs,
        },
        file.contracts,
    )))
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
