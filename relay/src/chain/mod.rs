//! The chain as the relay sees it (ARCHITECTURE §8): one interface, two adapters.
//!
//! - [`embedded`]: revm inside this process, the committed contracts deployed at first boot,
//!   state and logs persisted under the data directory, one block per transaction, no fees.
//! - [`rpc`]: any EVM JSON-RPC node through alloy, with addresses and a funded submitter key
//!   from configuration.
//!
//! Everything above the adapters ([`views`], [`events`], [`authz`], [`routes`]) speaks only
//! [`ChainAdapter`], so both adapters run the same code and the same tests.

pub mod authz;
pub mod connect;
pub mod contracts;
pub mod deploy;
pub mod embedded;
pub mod events;
mod journal;
pub mod revert;
pub mod routes;
pub mod rpc;
pub mod sponsor;
pub mod submitter;
pub mod tx;
pub mod views;

use agentkeys_core::chain::{AdapterKind, TxParams};
use agentkeys_core::ErrorCode;
use alloy::primitives::{Address, Bytes, Log, B256};
use async_trait::async_trait;
use tokio::sync::broadcast;

pub use contracts::Contracts;
pub use tx::SignedTx;

/// Why the chain gave no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// The node (or the embedded store) cannot be reached or failed.
    #[error("chain unavailable: {0}")]
    Unavailable(String),
    /// A call or a dry run reverted; `data` is the ABI-encoded error.
    #[error("execution reverted ({} bytes of revert data)", data.len())]
    Reverted { data: Bytes },
    /// The transaction is malformed, unsigned, for another chain, or has a stale nonce.
    #[error("invalid transaction: {0}")]
    InvalidTx(String),
}

impl ChainError {
    pub fn code(&self) -> ErrorCode {
        match self {
            ChainError::Unavailable(_) => ErrorCode::ChainUnavailable,
            ChainError::Reverted { .. } => ErrorCode::ChainReverted,
            ChainError::InvalidTx(_) => ErrorCode::TxInvalid,
        }
    }
}

/// A log of one of our contracts, with where it was mined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainLog {
    pub log: Log,
    pub block_number: u64,
    pub tx_hash: B256,
}

/// A mined transaction. A reverted transaction is mined too (its nonce is spent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mined {
    pub tx_hash: B256,
    pub block_number: u64,
    pub success: bool,
    pub gas_used: u64,
    /// Revert data of a failed transaction, when the adapter can know it.
    pub revert_data: Bytes,
    pub logs: Vec<Log>,
}

/// Capacity of the log broadcast; a subscriber that lags this far behind is told so and
/// clears its caches (see [`authz`]).
pub const LOG_CHANNEL_CAPACITY: usize = 1024;

#[async_trait]
pub trait ChainAdapter: Send + Sync + 'static {
    fn kind(&self) -> AdapterKind;
    fn chain_id(&self) -> u64;
    fn contracts(&self) -> &Contracts;
    /// The relay's own account: deployer of the embedded contracts, audit relay, funder.
    fn submitter(&self) -> Address;

    async fn block_number(&self) -> Result<u64, ChainError>;

    /// A read-only call against the latest block.
    async fn call(&self, to: Address, data: Bytes) -> Result<Bytes, ChainError>;

    /// Nonce, gas and fees for `from` calling `to` with `data`, after a dry run that must
    /// succeed ([`ChainError::Reverted`] otherwise).
    async fn tx_params(
        &self,
        from: Address,
        to: Address,
        data: Bytes,
    ) -> Result<TxParams, ChainError>;

    /// Submits a transaction signed by a device and waits until it is mined.
    async fn submit_signed(&self, tx: SignedTx) -> Result<Mined, ChainError>;

    /// Sends a transaction from the relay's submitter and waits until it is mined.
    async fn submit_own(&self, to: Address, data: Bytes) -> Result<Mined, ChainError>;

    /// Logs of the AgentKeys contracts as blocks are mined, from the time of the call on.
    fn subscribe(&self) -> broadcast::Receiver<ChainLog>;
}
