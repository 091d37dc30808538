//! What one committed transaction changed, so that a saved [`Evm`] can be brought forward
//! without running the transaction again.
//!
//! A [`StateDiff`] holds every account the transaction touched, in the form revm's
//! `CacheDB::commit` consumes: the account's new balance, nonce and code hash, its changed
//! storage slots (new values), and whether it was created (storage cleared first) or
//! destroyed. [`Evm::apply`] hands exactly that back to `CacheDB::commit`, so replaying a diff
//! follows revm's own commit rules instead of a copy of them. Bytecode is carried only when
//! the state does not hold it yet (a creation); otherwise the diff names it by hash.

use super::{Db, Evm};
use alloy::primitives::{Address, Keccak256, B256, U256};
use revm::bytecode::Bytecode;
use revm::database_interface::DatabaseCommit;
use revm::state::{Account, AccountInfo, AccountStatus, EvmState, EvmStorageSlot, TransactionId};
use serde::{Deserialize, Serialize};

/// The state changes of one mined transaction, and the block it was mined in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateDiff {
    pub block_number: u64,
    pub timestamp: u64,
    accounts: Vec<AccountDiff>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct AccountDiff {
    address: Address,
    /// Balance, nonce and code hash; the code itself is in `code`.
    info: AccountInfo,
    code: Code,
    created: bool,
    destroyed: bool,
    /// Changed slots and their new values, by slot.
    storage: Vec<(U256, U256)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Code {
    /// The account info carried no code (revm loads it by hash when needed).
    Absent,
    /// Code the state already holds under the info's code hash.
    Known,
    /// Code the state did not hold before this transaction.
    New(Bytecode),
}

impl StateDiff {
    /// The diff of `state` (what revm returned for one transaction) against `db`, the state
    /// before it is committed.
    pub(super) fn record(db: &Db, state: &EvmState, block_number: u64, timestamp: u64) -> Self {
        let mut accounts: Vec<AccountDiff> = state
            .iter()
            // Commit skips untouched accounts (only read); so does the diff.
            .filter(|(_, account)| account.is_touched())
            .map(|(address, account)| {
                let mut info = account.info.clone();
                let code = match info.code.take() {
                    None => Code::Absent,
                    Some(code) if db.cache.contracts.get(&info.code_hash) == Some(&code) => {
                        Code::Known
                    }
                    Some(code) => Code::New(code),
                };
                let mut storage: Vec<(U256, U256)> = account
                    .storage
                    .iter()
                    .filter(|(_, slot)| slot.is_changed())
                    .map(|(key, slot)| (*key, slot.present_value()))
                    .collect();
                storage.sort_unstable_by_key(|(key, _)| *key);
                AccountDiff {
                    address: *address,
                    info,
                    code,
                    created: account.is_created(),
                    destroyed: account.is_selfdestructed(),
                    storage,
                }
            })
            .collect();
        accounts.sort_unstable_by_key(|a| a.address);
        StateDiff {
            block_number,
            timestamp,
            accounts,
        }
    }
}

impl Evm {
    /// Brings the state forward by one mined transaction. The diff must be of the next block;
    /// on an error nothing has changed.
    pub fn apply(&mut self, diff: &StateDiff) -> Result<(), String> {
        if diff.block_number != self.block_number + 1 {
            return Err(format!(
                "the changes are of block {}, but the state is at block {}",
                diff.block_number, self.block_number
            ));
        }
        // Resolve every account before committing any, so that a bad diff changes nothing.
        let mut accounts = Vec::with_capacity(diff.accounts.len());
        for change in &diff.accounts {
            let mut info = change.info.clone();
            info.code = match &change.code {
                Code::Absent => None,
                Code::New(code) => Some(code.clone()),
                Code::Known => Some(
                    self.db
                        .cache
                        .contracts
                        .get(&info.code_hash)
                        .cloned()
                        .ok_or_else(|| {
                            format!(
                                "account {} names code {} that the state does not hold",
                                change.address, info.code_hash
                            )
                        })?,
                ),
            };
            let mut account = Account::default();
            account.info = info;
            account.status = AccountStatus::Touched;
            if change.created {
                account.status |= AccountStatus::Created;
            }
            if change.destroyed {
                account.status |= AccountStatus::SelfDestructed;
            }
            account.storage = change
                .storage
                .iter()
                .map(|(key, value)| {
                    let slot = EvmStorageSlot::new_changed(U256::ZERO, *value, TX_ID);
                    (*key, slot)
                })
                .collect();
            accounts.push((change.address, account));
        }
        self.db.commit_iter(&mut accounts.into_iter());
        self.block_number = diff.block_number;
        self.timestamp = diff.timestamp;
        Ok(())
    }

    /// A hash of everything a contract or a caller can observe: chain id, block number, clock,
    /// and every existing account's balance, nonce, code hash and non-zero storage. Two states
    /// with the same digest answer every call alike; what revm merely cached (accounts read
    /// and found empty) does not count.
    pub fn state_digest(&self) -> B256 {
        let mut accounts: Vec<_> = self
            .db
            .cache
            .accounts
            .iter()
            .filter(|(_, a)| !(a.info.is_empty() && a.storage.values().all(U256::is_zero)))
            .collect();
        accounts.sort_unstable_by_key(|(address, _)| **address);
        let mut hasher = Keccak256::new();
        hasher.update(self.chain_id.to_be_bytes());
        hasher.update(self.block_number.to_be_bytes());
        hasher.update(self.timestamp.to_be_bytes());
        for (address, account) in accounts {
            hasher.update(address);
            hasher.update(account.info.balance.to_be_bytes::<32>());
            hasher.update(account.info.nonce.to_be_bytes());
            hasher.update(account.info.code_hash);
            let mut slots: Vec<_> = account
                .storage
                .iter()
                .filter(|(_, value)| !value.is_zero())
                .collect();
            slots.sort_unstable_by_key(|(key, _)| **key);
            hasher.update((slots.len() as u64).to_be_bytes());
            for (key, value) in slots {
                hasher.update(key.to_be_bytes::<32>());
                hasher.update(value.to_be_bytes::<32>());
            }
        }
        hasher.finalize()
    }
}

/// Commit reads only the slots' present values; the transaction id is not looked at.
const TX_ID: TransactionId = TransactionId::ZERO;
