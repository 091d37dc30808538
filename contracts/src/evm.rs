//! A small in-process EVM on revm: deploy, call, transact, read logs and gas.
//!
//! Shaped like a chain without fees (ARCHITECTURE §8, the `embedded` adapter): gas price and
//! basefee are zero so senders need no balance, each transaction is its own block, and the
//! chain id is enforced on every transaction as a real node would.
//!
//! An [`Evm`] is serde-serialisable (chain id, spec, block number, clock and the whole revm
//! `CacheDB`), so a chain can be saved and brought back exactly where it was.

use alloy::primitives::{Address, Bytes, Log, TxKind, B256, U256};
use revm::context::result::{ExecutionResult, Output};
use revm::context::{BlockEnv, CfgEnv, Context, TxEnv};
use revm::context_interface::transaction::{AccessList, AccessListItem};
use revm::database::{CacheDB, EmptyDB};
use revm::database_interface::{Database, DatabaseCommit};
use revm::{ExecuteEvm, Journal, MainBuilder, MainnetEvm};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

mod diff;

pub use diff::StateDiff;
pub use revm::primitives::hardfork::SpecId;

type Db = CacheDB<EmptyDB>;
type Ctx = Context<BlockEnv, TxEnv, CfgEnv, Db, Journal<Db>, ()>;

/// The EIP-7825 per-transaction cap, which Osaka enforces; generous for every contract here.
/// Calls, dry runs and the harness's own transactions run with this gas limit.
pub const TX_GAS_LIMIT: u64 = 1 << 24;
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

/// A transaction as a node receives it: the sender, nonce and gas limit are the signer's,
/// not filled in by the harness. Gas price is always zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxRequest {
    pub from: Address,
    pub kind: TxKind,
    pub data: Bytes,
    /// Must be the sender's next nonce, or the transaction is rejected.
    pub nonce: u64,
    /// At most [`TX_GAS_LIMIT`] (EIP-7825) and at least the intrinsic gas.
    pub gas_limit: u64,
    /// EIP-2930 access list: addresses and their storage keys.
    pub access_list: Vec<(Address, Vec<B256>)>,
}

/// The chain: its state and its clock. The revm machine itself (which is not `Send`) is
/// built around the state for each call or transaction, so an `Evm` can move between
/// threads, e.g. behind a mutex.
pub struct Evm {
    db: Db,
    spec: SpecId,
    chain_id: u64,
    block_number: u64,
    timestamp: u64,
}

impl Evm {
    pub fn new(chain_id: u64, spec: SpecId) -> Self {
        Self {
            db: CacheDB::new(EmptyDB::new()),
            spec,
            chain_id,
            block_number: 0,
            timestamp: GENESIS_TIMESTAMP,
        }
    }

    /// Builds the machine over the state, pointed at block `number`, runs `f` and takes the
    /// state back.
    fn with_machine<T>(&mut self, number: u64, f: impl FnOnce(&mut MainnetEvm<Ctx>) -> T) -> T {
        // new_with_spec also picks that spec's mainnet gas parameters.
        let mut cfg = CfgEnv::new_with_spec(self.spec);
        cfg.chain_id = self.chain_id;
        let db = std::mem::replace(&mut self.db, CacheDB::new(EmptyDB::new()));
        let ctx: Ctx = Ctx::new(db, self.spec).with_cfg(cfg).with_block(BlockEnv {
            number: U256::from(number),
            timestamp: U256::from(self.timestamp),
            ..BlockEnv::default()
        });
        let mut machine = ctx.build_mainnet();
        let out = f(&mut machine);
        self.db = std::mem::replace(
            &mut machine.ctx.journaled_state.database,
            CacheDB::new(EmptyDB::new()),
        );
        out
    }

    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    pub fn spec(&self) -> SpecId {
        self.spec
    }

    /// The nonce of `address`: the nonce its next transaction must carry.
    pub fn nonce(&mut self, address: Address) -> Result<u64, Revert> {
        Ok(self
            .db
            .basic(address)
            .map_err(|e| Revert::Rejected(e.to_string()))?
            .map_or(0, |account| account.nonce))
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
        let db = &mut self.db;
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

    /// Puts `runtime` at `address` outside any transaction, as a node's `hardhat_setCode`
    /// does: tests use it to stand up what a hostile or broken chain could hold at an address
    /// a contract trusts. The account keeps its balance and nonce.
    pub fn set_code(&mut self, address: Address, runtime: Bytes) -> Result<(), Revert> {
        let mut info = self
            .db
            .basic(address)
            .map_err(|e| Revert::Rejected(e.to_string()))?
            .unwrap_or_default();
        info.set_code(revm::bytecode::Bytecode::new_raw(runtime));
        self.db.insert_account_info(address, info);
        Ok(())
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
        Ok(self.simulate(from, to, data)?.output)
    }

    /// Like [`Evm::call`], with the whole receipt: the gas a transaction would use (with
    /// [`TX_GAS_LIMIT`] available) and the logs it would emit. Nothing is committed; the
    /// receipt's block number is the block the transaction would be in.
    pub fn simulate(&mut self, from: Address, to: Address, data: Bytes) -> Result<Receipt, Revert> {
        let number = self.block_number + 1;
        let tx = self.tx(from, TxKind::Call(to), data)?;
        let result = self
            .with_machine(number, |machine| machine.transact(tx))
            .map_err(|e| Revert::Rejected(e.to_string()))?
            .result;
        outcome(result, number)
    }

    /// Runs a transaction exactly as signed (sender, nonce, gas limit, access list) in a
    /// block of its own and commits it.
    ///
    /// [`Revert::Rejected`] means the transaction never ran and nothing changed (wrong
    /// nonce, gas limit under the intrinsic gas or over the cap, a sender with code). A
    /// [`Revert::Reverted`] or [`Revert::Halted`] transaction was mined all the same: the
    /// block advanced and the sender's nonce is spent.
    pub fn execute(&mut self, request: TxRequest) -> Result<Receipt, Revert> {
        self.execute_recorded(request)?.0
    }

    /// Like [`Evm::execute`], and also returns what the transaction changed, for a journal.
    /// The outer error is [`Revert::Rejected`] only: nothing ran, nothing changed. A
    /// reverted or halted transaction was mined, so it has a diff too (its nonce at least).
    #[allow(clippy::type_complexity)]
    pub fn execute_recorded(
        &mut self,
        request: TxRequest,
    ) -> Result<(Result<Receipt, Revert>, StateDiff), Revert> {
        let number = self.block_number + 1;
        let access_list = AccessList(
            request
                .access_list
                .into_iter()
                .map(|(address, storage_keys)| AccessListItem {
                    address,
                    storage_keys,
                })
                .collect(),
        );
        let tx = TxEnv::builder()
            .caller(request.from)
            .kind(request.kind)
            .data(request.data)
            .nonce(request.nonce)
            .chain_id(Some(self.chain_id))
            .gas_limit(request.gas_limit)
            .gas_price(0)
            .access_list(access_list)
            .build()
            .map_err(|e| Revert::Rejected(format!("{e:?}")))?;
        self.commit_recorded(tx, number)
    }

    /// Sends a transaction in a block of its own and commits its state changes.
    pub fn transact(&mut self, from: Address, to: Address, data: Bytes) -> Result<Receipt, Revert> {
        self.commit(from, TxKind::Call(to), data)
    }

    fn commit(&mut self, from: Address, kind: TxKind, data: Bytes) -> Result<Receipt, Revert> {
        let number = self.block_number + 1;
        let tx = self.tx(from, kind, data)?;
        self.commit_tx(tx, number)
    }

    fn commit_tx(&mut self, tx: TxEnv, number: u64) -> Result<Receipt, Revert> {
        self.commit_recorded(tx, number)?.0
    }

    /// `transact_commit`, split in two (run, then commit) so that the changes can be
    /// recorded on the way.
    fn commit_recorded(
        &mut self,
        tx: TxEnv,
        number: u64,
    ) -> Result<(Result<Receipt, Revert>, StateDiff), Revert> {
        let executed = self
            .with_machine(number, |machine| machine.transact(tx))
            .map_err(|e| Revert::Rejected(e.to_string()))?;
        let diff = StateDiff::record(&self.db, &executed.state, number, self.timestamp);
        self.db.commit(executed.state);
        // A reverted transaction is still mined (and bumps the nonce), so the block advances
        // whether or not it succeeded.
        self.block_number = number;
        Ok((outcome(executed.result, number), diff))
    }

    /// Builds the harness's own transaction: the sender's next nonce, the full gas cap.
    fn tx(&mut self, from: Address, kind: TxKind, data: Bytes) -> Result<TxEnv, Revert> {
        let nonce = self.nonce(from)?;
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

/// The saved form of an [`Evm`]: everything that is not rebuilt from the spec.
#[derive(Serialize)]
struct SavedRef<'a> {
    chain_id: u64,
    spec: SpecId,
    block_number: u64,
    timestamp: u64,
    db: &'a Db,
}

#[derive(Deserialize)]
struct Saved {
    chain_id: u64,
    spec: SpecId,
    block_number: u64,
    timestamp: u64,
    db: Db,
}

impl Serialize for Evm {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        SavedRef {
            chain_id: self.chain_id,
            spec: self.spec(),
            block_number: self.block_number,
            timestamp: self.timestamp,
            db: &self.db,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Evm {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let saved = Saved::deserialize(deserializer)?;
        Ok(Self {
            db: saved.db,
            spec: saved.spec,
            chain_id: saved.chain_id,
            block_number: saved.block_number,
            timestamp: saved.timestamp,
        })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::K3EpochCounter;
    use alloy::sol_types::{SolCall, SolConstructor};

    fn addr(n: u8) -> Address {
        Address::repeat_byte(n)
    }

    fn deploy_epoch(evm: &mut Evm) -> Address {
        let init: Bytes = [
            K3EpochCounter::BYTECODE.as_ref(),
            &K3EpochCounter::constructorCall {
                governance: addr(9),
            }
            .abi_encode(),
        ]
        .concat()
        .into();
        evm.deploy(addr(1), init).unwrap()
    }

    #[test]
    fn evm_is_send() {
        fn send<T: Send + Sync>() {}
        send::<Evm>();
    }

    #[test]
    fn serde_roundtrip_keeps_state() {
        let mut evm = Evm::new(5, SpecId::OSAKA);
        evm.set_timestamp(1_800_000_000);
        let epoch = deploy_epoch(&mut evm);
        let json = serde_json::to_vec(&evm).unwrap();
        let mut back: Evm = serde_json::from_slice(&json).unwrap();
        assert_eq!(back.chain_id(), 5);
        assert_eq!(back.spec(), SpecId::OSAKA);
        assert_eq!(back.block_number(), 1);
        assert_eq!(back.timestamp(), 1_800_000_000);
        assert_eq!(back.nonce(addr(1)).unwrap(), 1);
        assert_eq!(back.code(epoch).unwrap(), evm.code(epoch).unwrap());
        let data: Bytes = K3EpochCounter::currentEpochCall {}.abi_encode().into();
        assert_eq!(
            back.call(addr(2), epoch, data.clone()).unwrap(),
            evm.call(addr(2), epoch, data).unwrap()
        );
    }

    #[test]
    fn execute_checks_nonce_and_spends_it_on_revert() {
        let mut evm = Evm::new(5, SpecId::OSAKA);
        let epoch = deploy_epoch(&mut evm);
        let advance = |n| -> Bytes {
            K3EpochCounter::advanceEpochCall { newEpoch: n }
                .abi_encode()
                .into()
        };
        let request = |nonce| TxRequest {
            from: addr(3),
            kind: TxKind::Call(epoch),
            data: advance(2),
            nonce,
            gas_limit: 100_000,
            access_list: vec![(epoch, vec![B256::ZERO])],
        };
        // Wrong nonce: never runs, nothing changes.
        assert!(matches!(evm.execute(request(1)), Err(Revert::Rejected(_))));
        assert_eq!(evm.block_number(), 1);
        // Not governance: reverts, but is mined.
        let err = evm.execute(request(0)).unwrap_err();
        assert!(matches!(err, Revert::Reverted { gas_used, .. } if gas_used > 21_000));
        assert_eq!(evm.block_number(), 2);
        assert_eq!(evm.nonce(addr(3)).unwrap(), 1);
        // Over the EIP-7825 cap.
        let mut big = request(1);
        big.gas_limit = TX_GAS_LIMIT + 1;
        assert!(matches!(evm.execute(big), Err(Revert::Rejected(_))));
        // Governance may advance.
        let ok = evm
            .execute(TxRequest {
                from: addr(9),
                ..request(0)
            })
            .unwrap();
        assert_eq!(ok.block_number, 3);
        assert_eq!(ok.logs.len(), 1);
        let sim = evm.simulate(addr(9), epoch, advance(3)).unwrap();
        assert_eq!(sim.block_number, 4);
        assert_eq!(evm.block_number(), 3, "simulate commits nothing");
    }

    #[test]
    fn diffs_replayed_on_a_saved_state_give_the_same_state() {
        let mut evm = Evm::new(5, SpecId::OSAKA);
        let saved = serde_json::to_vec(&evm).unwrap();
        let mut diffs = Vec::new();
        let mut run = |evm: &mut Evm, request: TxRequest| {
            let (outcome, diff) = evm.execute_recorded(request).unwrap();
            diffs.push(serde_json::to_vec(&diff).unwrap());
            outcome
        };
        let init: Bytes = [
            K3EpochCounter::BYTECODE.as_ref(),
            &K3EpochCounter::constructorCall {
                governance: addr(9),
            }
            .abi_encode(),
        ]
        .concat()
        .into();
        let created = run(
            &mut evm,
            TxRequest {
                from: addr(1),
                kind: TxKind::Create,
                data: init,
                nonce: 0,
                gas_limit: TX_GAS_LIMIT,
                access_list: Vec::new(),
            },
        )
        .unwrap();
        let epoch = created.contract_address.unwrap();
        evm.set_timestamp(1_900_000_000);
        let advance = |from, nonce, n| TxRequest {
            from,
            kind: TxKind::Call(epoch),
            data: K3EpochCounter::advanceEpochCall { newEpoch: n }
                .abi_encode()
                .into(),
            nonce,
            gas_limit: 100_000,
            access_list: Vec::new(),
        };
        assert!(run(&mut evm, advance(addr(9), 0, 2)).is_ok());
        // A reverted transaction is mined: its diff spends the nonce.
        assert!(run(&mut evm, advance(addr(3), 0, 3)).is_err());
        assert!(run(&mut evm, advance(addr(9), 1, 3)).is_ok());
        // Only the creation carries bytecode; later diffs name it by hash.
        assert!(diffs[0].len() > 2_000, "{}", diffs[0].len());
        assert!(
            diffs[1..].iter().all(|d| d.len() < 2_000),
            "{}",
            diffs[1].len()
        );

        let mut back: Evm = serde_json::from_slice(&saved).unwrap();
        let parsed: Vec<StateDiff> = diffs
            .iter()
            .map(|d| serde_json::from_slice(d).unwrap())
            .collect();
        // Out of order: refused, nothing changes.
        assert!(back.apply(&parsed[1]).unwrap_err().contains("block 2"));
        assert_eq!(back.block_number(), 0);
        for diff in &parsed {
            back.apply(diff).unwrap();
        }
        assert_eq!(back.state_digest(), evm.state_digest());
        assert_eq!(back.block_number(), 4);
        assert_eq!(back.timestamp(), 1_900_000_000);
        assert_eq!(back.nonce(addr(3)).unwrap(), 1);
        assert_eq!(back.nonce(addr(9)).unwrap(), 2);
        let current: Bytes = K3EpochCounter::currentEpochCall {}.abi_encode().into();
        assert_eq!(
            back.call(addr(2), epoch, current.clone()).unwrap(),
            evm.call(addr(2), epoch, current).unwrap()
        );
    }
}
