//! A small in-process EVM on revm: deploy, call, transact, read logs and gas.
//!
//! Shaped like a chain without fees (ARCHITECTURE §8, the `embedded` adapter): gas price and
//! basefee are zero so senders need no balance, each transaction is its own block, and the
//! chain id is enforced on every transaction as a real node would.

use alloy::primitives::{Address, Bytes, Log, TxKind, U256};
use revm::context::result::{ExecutionResult, Output};
use revm::context::{BlockEnv, CfgEnv, Context, TxEnv};
use revm::database::{CacheDB, EmptyDB};
use revm::database_interface::Database;
use revm::{ExecuteCommitEvm, ExecuteEvm, Journal, MainBuilder, MainnetEvm};

pub use revm::primitives::hardfork::SpecId;

type Db = CacheDB<EmptyDB>;
type Ctx = Context<BlockEnv, TxEnv, CfgEnv, Db, Journal<Db>, ()>;

/// The EIP-7825 per-transaction cap, which Osaka enforces; generous for every contract here.
const TX_GAS_LIMIT: u64 = 1 << 24;
/// A fixed genesis time keeps block timestamps, and so stored anchoring times, reproducible.
const GENESIS_TIMESTAMP: u64 = 1_700_000_000;

/// Why a call or transaction produced no result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Revert {
    /// The contract executed `REVERT`; `data` is the ABI-encoded error, if any.
    #[error("execution reverted ({} bytes of revert data)", data.len())]
    Reverted { data: Bytes, gas_used: u64 },
    /// Exceptional halt: out of gas, invalid opcode, stack errors and the like.
    #[error("execution halted: {reason}")]
    Halted { reason: String, gas_used: u64 },
    /// The transaction never ran (bad nonce, chain id, gas limit) or the database failed.
    #[error("transaction rejected: {0}")]
    Rejected(String),
}

impl Revert {
    /// The raw revert data, when the contract reverted.
    pub fn data(&self) -> Option<&Bytes> {
        match self {
            Self::Reverted { data, .. } => Some(data),
            _ => None,
        }
    }

    /// The 4-byte selector of the custom error, when there is one.
    pub fn selector(&self) -> Option<[u8; 4]> {
        let data = self.data()?;
        data.get(..4)?.try_into().ok()
    }

    /// Decodes the revert data as the custom error `E`, validating the selector.
    pub fn decode<E: alloy::sol_types::SolError>(&self) -> Option<E> {
        E::abi_decode(self.data()?).ok()
    }
}

/// What a successful transaction left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub gas_used: u64,
    pub logs: Vec<Log>,
    /// Set for contract creations.
    pub contract_address: Option<Address>,
    /// Return data of a call (empty for creations).
    pub output: Bytes,
    pub block_number: u64,
}

pub struct Evm {
    inner: MainnetEvm<Ctx>,
    chain_id: u64,
    block_number: u64,
    timestamp: u64,
}

impl Evm {
    pub fn new(chain_id: u64, spec: SpecId) -> Self {
        // new_with_spec also picks that spec's mainnet gas parameters.
        let mut cfg = CfgEnv::new_with_spec(spec);
        cfg.chain_id = chain_id;
        let ctx: Ctx = Ctx::new(CacheDB::new(EmptyDB::new()), spec)
            .with_cfg(cfg)
            .with_block(BlockEnv {
                timestamp: U256::from(GENESIS_TIMESTAMP),
                ..BlockEnv::default()
            });
        Self {
            inner: ctx.build_mainnet(),
            chain_id,
            block_number: 0,
            timestamp: GENESIS_TIMESTAMP,
        }
    }

    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The number of the last block, i.e. of the last committed transaction.
    pub fn block_number(&self) -> u64 {
        self.block_number
    }

    pub fn timestamp(&self) -> u64 {
        self.timestamp
    }

    /// Moves the clock; the next block carries this time. It never goes backwards, as on a
    /// real chain.
    pub fn set_timestamp(&mut self, timestamp: u64) {
        self.timestamp = self.timestamp.max(timestamp);
    }

    /// The runtime code at `address` (empty for an account without code).
    pub fn code(&mut self, address: Address) -> Result<Bytes, Revert> {
        let db = &mut self.inner.ctx.journaled_state.database;
        let Some(info) = db
            .basic(address)
            .map_err(|e| Revert::Rejected(e.to_string()))?
        else {
            return Ok(Bytes::new());
        };
        let code = match info.code {
            Some(code) => code,
            None => db
                .code_by_hash(info.code_hash)
                .map_err(|e| Revert::Rejected(e.to_string()))?,
        };
        Ok(code.original_bytes())
    }

    /// Deploys `init_code` (creation bytecode followed by ABI-encoded constructor arguments).
    pub fn deploy(&mut self, from: Address, init_code: Bytes) -> Result<Address, Revert> {
        let receipt = self.deploy_receipt(from, init_code)?;
        receipt
            .contract_address
            .ok_or_else(|| Revert::Rejected("creation returned no address".into()))
    }

    /// Like [`Evm::deploy`], with the receipt (for the creation's gas).
    pub fn deploy_receipt(&mut self, from: Address, init_code: Bytes) -> Result<Receipt, Revert> {
        self.commit(from, TxKind::Create, init_code)
    }

    /// Runs a call against the current state and discards every change: a `view` read, or a
    /// dry run of a transaction.
    pub fn call(&mut self, from: Address, to: Address, data: Bytes) -> Result<Bytes, Revert> {
        let tx = self.tx(from, TxKind::Call(to), data, self.block_number + 1)?;
        let result = self
            .inner
            .transact(tx)
            .map_err(|e| Revert::Rejected(e.to_string()))?
            .result;
        Ok(outcome(result, self.block_number + 1)?.output)
    }

    /// Sends a transaction in a block of its own and commits its state changes.
    pub fn transact(&mut self, from: Address, to: Address, data: Bytes) -> Result<Receipt, Revert> {
        self.commit(from, TxKind::Call(to), data)
    }

    fn commit(&mut self, from: Address, kind: TxKind, data: Bytes) -> Result<Receipt, Revert> {
        let number = self.block_number + 1;
        let tx = self.tx(from, kind, data, number)?;
        let result = self
            .inner
            .transact_commit(tx)
            .map_err(|e| Revert::Rejected(e.to_string()))?;
        // A reverted transaction is still mined (and bumps the nonce), so the block advances
        // whether or not it succeeded.
        self.block_number = number;
        outcome(result, number)
    }

    /// Builds the transaction and points the EVM at the block it will be in.
    fn tx(
        &mut self,
        from: Address,
        kind: TxKind,
        data: Bytes,
        number: u64,
    ) -> Result<TxEnv, Revert> {
        self.inner.ctx.block.number = U256::from(number);
        self.inner.ctx.block.timestamp = U256::from(self.timestamp);
        let nonce = self
            .inner
            .ctx
            .journaled_state
            .database
            .basic(from)
            .map_err(|e| Revert::Rejected(e.to_string()))?
            .map_or(0, |account| account.nonce);
        TxEnv::builder()
            .caller(from)
            .kind(kind)
            .data(data)
            .nonce(nonce)
            .chain_id(Some(self.chain_id))
            .gas_limit(TX_GAS_LIMIT)
            .gas_price(0)
            .build()
            .map_err(|e| Revert::Rejected(format!("{e:?}")))
    }
}

fn outcome(result: ExecutionResult, block_number: u64) -> Result<Receipt, Revert> {
    let gas_used = result.tx_gas_used();
    match result {
        ExecutionResult::Success { logs, output, .. } => {
            let (output, contract_address) = match output {
                Output::Call(bytes) => (bytes, None),
                Output::Create(_, address) => (Bytes::new(), address),
            };
            Ok(Receipt {
                gas_used,
                logs,
                contract_address,
                output,
                block_number,
            })
        }
        ExecutionResult::Revert { output, .. } => Err(Revert::Reverted {
            data: output,
            gas_used,
        }),
        ExecutionResult::Halt { reason, .. } => Err(Revert::Halted {
            reason: format!("{reason:?}"),
            gas_used,
        }),
    }
}
