//! Tests of the embedded adapter with real signed transactions.

use super::*;
use crate::chain::{events, views};
use agentkeys_contracts::bindings::{CredentialAudit, SidecarRegistry};
use alloy::eips::eip2718::Encodable2718;
use alloy::primitives::keccak256;
use alloy::sol_types::{SolCall, SolError};

const CHAIN_ID: u64 = 31_337;

fn open(dir: &Path) -> Arc<EmbeddedChain> {
    EmbeddedChain::open(dir, CHAIN_ID).expect("open embedded chain")
}

/// A device's transaction, signed as a wallet would with the relay's parameters.
fn sign(device: &PrivateKeySigner, p: &TxParams, to: Address, data: &Bytes) -> Vec<u8> {
    let mut tx = TxEip1559 {
        chain_id: p.chain_id,
        nonce: p.nonce,
        gas_limit: p.gas_limit,
        max_fee_per_gas: p.max_fee_per_gas.parse().unwrap(),
        max_priority_fee_per_gas: p.max_priority_fee_per_gas.parse().unwrap(),
        to: TxKind::Call(to),
        value: U256::ZERO,
        access_list: Default::default(),
        input: data.clone(),
    };
    let sig = device.sign_transaction_sync(&mut tx).unwrap();
    TxEnvelope::from(tx.into_signed(sig)).encoded_2718()
}

fn register_call() -> Bytes {
    SidecarRegistry::registerFirstMasterDeviceWithoutPasskeyCall {}
        .abi_encode()
        .into()
}

fn code(chain: &EmbeddedChain, address: Address) -> Bytes {
    let mut guard = chain.shared.state.lock().unwrap();
    guard.as_mut().unwrap().evm.code(address).unwrap()
}

#[tokio::test]
async fn first_boot_deploys_every_contract() {
    let dir = tempfile::tempdir().unwrap();
    let chain = open(dir.path());
    assert_eq!(chain.kind(), AdapterKind::Embedded);
    assert_eq!(chain.chain_id(), CHAIN_ID);
    let all = chain.contracts().all();
    for address in all {
        assert!(!code(&chain, address).is_empty(), "no code at {address}");
    }
    let mut distinct = all.to_vec();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 6);
    // Six creations and setAuditRelay, one block each.
    assert_eq!(chain.block_number().await.unwrap(), 7);
    assert_eq!(views::epoch(&*chain).await.unwrap(), 1);
    assert!(views::is_audit_relay(&*chain, chain.submitter())
        .await
        .unwrap());
    assert!(!views::is_audit_relay(&*chain, Address::repeat_byte(7))
        .await
        .unwrap());
    // The submitter key and the state are private files in a private directory.
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir.path().join("chain")), 0o700);
    assert_eq!(mode(&dir.path().join(STATE_FILE)), 0o600);
    assert_eq!(mode(&dir.path().join(submitter::SUBMITTER_FILE)), 0o600);
    // The AuditRelaySet and GovernanceTransferred logs of the deployment are kept, and
    // neither is a device event.
    let logs = chain.logs_since(0);
    for contract in [chain.contracts().audit, chain.contracts().epoch] {
        let of: Vec<_> = logs.iter().filter(|l| l.log.address == contract).collect();
        assert_eq!(of.len(), 1, "{contract}");
        assert!(events::decode_log(chain.contracts(), of[0]).is_none());
    }
}

#[tokio::test]
async fn second_open_of_a_live_chain_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let chain = open(dir.path());
    let err = EmbeddedChain::open(dir.path(), CHAIN_ID).err().unwrap();
    assert!(err.contains("locked"), "{err}");
    drop(chain);
    open(dir.path());
}

#[tokio::test]
async fn devices_transact_and_the_chain_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let chain = open(dir.path());
    let registry = chain.contracts().registry;
    let device = PrivateKeySigner::random();
    let device_hash = keccak256(device.address());
    let mut logs = chain.subscribe();

    // Register through tx-params and a signed transaction.
    let data = register_call();
    let params = chain
        .tx_params(device.address(), registry, data.clone())
        .await
        .unwrap();
    assert_eq!(params.chain_id, CHAIN_ID);
    assert_eq!(params.nonce, 0);
    assert_eq!(params.max_fee_per_gas, "0");
    assert_eq!(params.max_priority_fee_per_gas, "0");
    assert!(params.gas_limit > 21_000 && params.gas_limit <= TX_GAS_LIMIT);
    let raw = sign(&device, &params, registry, &data);
    let tx = SignedTx::decode(&raw, CHAIN_ID).unwrap();
    assert_eq!(tx.sender, device.address());
    let expected_hash = tx.hash();
    let mined = chain.submit_signed(tx).await.unwrap();
    assert!(mined.success);
    assert_eq!(mined.tx_hash, expected_hash);
    assert_eq!(mined.block_number, 8);
    assert_eq!(chain.block_number().await.unwrap(), 8);
    assert_eq!(mined.logs.len(), 2);

    let d = views::device(&*chain, device_hash).await.unwrap().unwrap();
    assert!(!d.revoked);
    assert_eq!(d.roles, 1);
    assert_eq!(d.tier, agentkeys_core::chain::Tier::Master);
    assert_eq!(d.device.0, device.address().into_array());

    // The logs reach subscribers and decode as events.
    let mut kinds = Vec::new();
    for _ in 0..2 {
        let log = logs.recv().await.unwrap();
        assert_eq!(log.block_number, 8);
        assert_eq!(log.tx_hash, expected_hash);
        let event = events::decode_log(chain.contracts(), &log).unwrap();
        assert_eq!(
            event.device_key_hash.is_some(),
            event.kind != "OperatorRegistered"
        );
        kinds.push(event.kind);
    }
    assert_eq!(kinds, ["OperatorRegistered", "MasterDeviceRegistered"]);

    // Replaying the same transaction is refused; nothing is mined.
    let replay = SignedTx::decode(&raw, CHAIN_ID).unwrap();
    let err = chain.submit_signed(replay).await.unwrap_err();
    assert!(
        matches!(&err, ChainError::InvalidTx(m) if m.contains("nonce")),
        "{err}"
    );
    assert_eq!(chain.block_number().await.unwrap(), 8);

    // A transaction for another chain is refused at decoding.
    let foreign = TxParams {
        chain_id: CHAIN_ID + 1,
        nonce: 1,
        ..params.clone()
    };
    let err = SignedTx::decode(&sign(&device, &foreign, registry, &data), CHAIN_ID).unwrap_err();
    assert!(matches!(err, ChainError::InvalidTx(_)));

    // A transaction with fees is refused: nobody holds a balance here.
    let mut priced = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce: 1,
        gas_limit: 100_000,
        max_fee_per_gas: 1,
        max_priority_fee_per_gas: 0,
        to: TxKind::Call(registry),
        value: U256::ZERO,
        access_list: Default::default(),
        input: data.clone(),
    };
    let sig = device.sign_transaction_sync(&mut priced).unwrap();
    let priced = TxEnvelope::from(priced.into_signed(sig)).encoded_2718();
    let err = chain
        .submit_signed(SignedTx::decode(&priced, CHAIN_ID).unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ChainError::InvalidTx(m) if m.contains("fees")),
        "{err}"
    );

    // Registering twice reverts in the dry run with the contract's error…
    let err = chain
        .tx_params(device.address(), registry, data.clone())
        .await
        .unwrap_err();
    let ChainError::Reverted { data: revert } = err else {
        panic!("expected a revert, got {err}");
    };
    let decoded = SidecarRegistry::OperatorAlreadyRegistered::abi_decode(&revert).unwrap();
    assert_eq!(decoded.operatorOmni, views::b256(&d.operator));
    // …and, signed anyway, is mined as a failure that spends the nonce.
    let anyway = TxParams {
        nonce: 1,
        gas_limit: 200_000,
        ..params.clone()
    };
    let raw_fail = sign(&device, &anyway, registry, &data);
    let mined_fail = chain
        .submit_signed(SignedTx::decode(&raw_fail, CHAIN_ID).unwrap())
        .await
        .unwrap();
    assert!(!mined_fail.success);
    assert_eq!(mined_fail.block_number, 9);
    assert!(mined_fail.logs.is_empty());
    assert!(mined_fail.gas_used > 21_000);
    assert!(
        SidecarRegistry::OperatorAlreadyRegistered::abi_decode(&mined_fail.revert_data).is_ok()
    );

    // The relay anchors an audit root with its own, really signed, transaction.
    let root = B256::repeat_byte(0xab);
    let own = chain
        .submit_own(
            chain.contracts().audit,
            CredentialAudit::appendRootCall {
                operatorOmni: views::b256(&d.operator),
                root,
                count: 3,
            }
            .abi_encode()
            .into(),
        )
        .await
        .unwrap();
    assert!(own.success);
    assert_eq!(own.block_number, 10);
    assert_ne!(own.tx_hash, B256::ZERO);
    let log = logs.recv().await.unwrap();
    assert_eq!(log.tx_hash, own.tx_hash);
    let event = events::decode_log(chain.contracts(), &log).unwrap();
    assert_eq!(event.kind, "RootAppended");
    let anchored = views::audit_root(&*chain, &d.operator, 0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(anchored.count, 3);
    assert_eq!(anchored.root, views::hex32(root));
    assert!(anchored.anchored_at >= 1_700_000_000);

    let contracts = *chain.contracts();
    let submitter = chain.submitter();
    let logs_before = chain.logs_since(0);
    assert_eq!(
        chain.logs_since(8).len(),
        3,
        "two registration logs and RootAppended"
    );
    assert!(chain.logs_since(11).is_empty());

    // Restart: everything is where it was.
    drop(logs);
    drop(chain);
    let chain = open(dir.path());
    assert_eq!(*chain.contracts(), contracts);
    assert_eq!(chain.submitter(), submitter);
    assert_eq!(chain.block_number().await.unwrap(), 10);
    let again = views::device(&*chain, device_hash).await.unwrap().unwrap();
    assert_eq!(again, d);
    assert_eq!(logs_before, chain.logs_since(0));
    let kinds: Vec<String> = chain
        .logs_since(8)
        .iter()
        .filter_map(|l| events::decode_log(chain.contracts(), l))
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            "OperatorRegistered",
            "MasterDeviceRegistered",
            "RootAppended"
        ]
    );
    // Nonces are kept: the old transactions stay spent, and the submitter goes on.
    let err = chain
        .submit_signed(SignedTx::decode(&raw_fail, CHAIN_ID).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, ChainError::InvalidTx(_)));
    let own = chain
        .submit_own(
            chain.contracts().audit,
            CredentialAudit::appendRootCall {
                operatorOmni: views::b256(&d.operator),
                root,
                count: 4,
            }
            .abi_encode()
            .into(),
        )
        .await
        .unwrap();
    assert!(own.success);
    assert_eq!(own.block_number, 11);
    assert_eq!(
        views::audit_root_count(&*chain, &d.operator).await.unwrap(),
        2
    );
    {
        let mut guard = chain.shared.state.lock().unwrap();
        let evm = &mut guard.as_mut().unwrap().evm;
        assert_eq!(evm.nonce(device.address()).unwrap(), 2);
        assert_eq!(evm.nonce(submitter).unwrap(), 9);
    }

    // A state file for another chain id is refused.
    drop(chain);
    let err = EmbeddedChain::open(dir.path(), CHAIN_ID + 1).err().unwrap();
    assert!(err.contains("chain id"), "{err}");
    // And the right chain id still opens it.
    assert_eq!(open(dir.path()).block_number().await.unwrap(), 11);
}

#[tokio::test]
async fn a_state_file_of_another_submitter_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path()));
    std::fs::remove_file(dir.path().join(submitter::SUBMITTER_FILE)).unwrap();
    let err = EmbeddedChain::open(dir.path(), CHAIN_ID).err().unwrap();
    assert!(err.contains("submitter"), "{err}");
}

#[tokio::test]
async fn a_corrupt_state_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path()));
    keys::write_secret_file(&dir.path().join(STATE_FILE), b"{\"format\":").unwrap();
    let err = EmbeddedChain::open(dir.path(), CHAIN_ID).err().unwrap();
    assert!(
        err.starts_with("chain_state_corrupt: ") && err.contains("not an embedded chain state"),
        "{err}"
    );
}

#[test]
fn gas_limit_is_generous_and_capped() {
    assert_eq!(gas_limit_for(100_000), 155_000);
    assert_eq!(gas_limit_for(u64::MAX), TX_GAS_LIMIT);
}

/// What a caller can observe of the chain: its state, block and logs.
fn observed(chain: &EmbeddedChain) -> (B256, u64, Vec<ChainLog>) {
    let guard = chain.shared.state.lock().unwrap();
    let inner = guard.as_ref().unwrap();
    let logs = inner.logs.iter().map(StoredLog::to_chain_log).collect();
    (inner.evm.state_digest(), inner.evm.block_number(), logs)
}

fn journal_records(dir: &Path) -> usize {
    journal::read(&dir.join(JOURNAL_FILE))
        .unwrap()
        .unwrap()
        .records
        .len()
}

/// Registers an operator (its first master device) and returns its omni.
async fn operator(chain: &EmbeddedChain) -> B256 {
    let device = PrivateKeySigner::random();
    let registry = chain.contracts().registry;
    let data = register_call();
    let params = chain
        .tx_params(device.address(), registry, data.clone())
        .await
        .unwrap();
    let raw = sign(&device, &params, registry, &data);
    let mined = chain
        .submit_signed(SignedTx::decode(&raw, CHAIN_ID).unwrap())
        .await
        .unwrap();
    assert!(mined.success);
    let d = views::device(chain, keccak256(device.address()))
        .await
        .unwrap()
        .unwrap();
    views::b256(&d.operator)
}

/// The relay's own transaction: anchors an audit root (a new storage slot and a log).
async fn anchor(chain: &EmbeddedChain, operator: B256, count: u64) -> Mined {
    let call = CredentialAudit::appendRootCall {
        operatorOmni: operator,
        root: keccak256(count.to_be_bytes()),
        count,
    };
    let mined = chain
        .submit_own(chain.contracts().audit, call.abi_encode().into())
        .await
        .unwrap();
    assert!(mined.success);
    mined
}

#[tokio::test]
async fn a_restart_after_many_transactions_restores_the_same_state() {
    let dir = tempfile::tempdir().unwrap();
    let chain = open(dir.path());
    let snapshot = std::fs::read(dir.path().join(STATE_FILE)).unwrap();
    let operator = operator(&chain).await;
    for count in 1..=30 {
        anchor(&chain, operator, count).await;
    }
    // A reverted transaction is mined too: it spends its sender's nonce.
    let device = PrivateKeySigner::random();
    let registry = chain.contracts().registry;
    let data = register_call();
    let first = chain
        .tx_params(device.address(), registry, data.clone())
        .await
        .unwrap();
    chain
        .submit_signed(SignedTx::decode(&sign(&device, &first, registry, &data), CHAIN_ID).unwrap())
        .await
        .unwrap();
    let again = TxParams {
        nonce: 1,
        gas_limit: 200_000,
        ..first
    };
    let failed = chain
        .submit_signed(SignedTx::decode(&sign(&device, &again, registry, &data), CHAIN_ID).unwrap())
        .await
        .unwrap();
    assert!(!failed.success);

    // 33 transactions, each a journal record; the snapshot was never rewritten.
    assert_eq!(journal_records(dir.path()), 33);
    assert_eq!(
        std::fs::read(dir.path().join(STATE_FILE)).unwrap(),
        snapshot
    );
    let before = observed(&chain);
    assert_eq!(before.1, 7 + 33);
    let submitter = chain.submitter();
    drop(chain);

    let chain = open(dir.path());
    assert_eq!(observed(&chain), before);
    assert_eq!(chain.block_number().await.unwrap(), 40);
    assert_eq!(
        views::audit_root_count(&*chain, &views::omni(operator))
            .await
            .unwrap(),
        30
    );
    {
        let mut guard = chain.shared.state.lock().unwrap();
        let evm = &mut guard.as_mut().unwrap().evm;
        assert_eq!(evm.nonce(device.address()).unwrap(), 2);
        assert_eq!(evm.nonce(submitter).unwrap(), 7 + 30);
    }
    // Opening folded the journal into a new snapshot; the chain goes on from there.
    assert_eq!(journal_records(dir.path()), 0);
    anchor(&chain, operator, 31).await;
    let after = observed(&chain);
    drop(chain);
    let chain = open(dir.path());
    assert_eq!(observed(&chain), after);
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir.path().join(JOURNAL_FILE)), 0o600);
    assert_eq!(mode(&dir.path().join(STATE_FILE)), 0o600);
}

#[tokio::test]
async fn a_torn_last_record_is_dropped_and_the_earlier_ones_kept() {
    let dir = tempfile::tempdir().unwrap();
    let chain = open(dir.path());
    let operator = operator(&chain).await;
    anchor(&chain, operator, 1).await;
    let kept = observed(&chain);
    let lost = anchor(&chain, operator, 2).await;
    drop(chain);
    // A crash in the middle of the last append: its record is cut short.
    let path = dir.path().join(JOURNAL_FILE);
    let len = std::fs::metadata(&path).unwrap().len();
    let file = OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(len - 5).unwrap();
    drop(file);

    let chain = open(dir.path());
    assert_eq!(observed(&chain), kept);
    assert!(chain
        .logs_since(0)
        .iter()
        .all(|l| l.tx_hash != lost.tx_hash));
    // The torn record is gone for good (the journal was compacted), and the submitter's
    // nonce it had spent is free again.
    assert_eq!(journal_records(dir.path()), 0);
    let again = anchor(&chain, operator, 2).await;
    assert_eq!(again.block_number, lost.block_number);
    let after = observed(&chain);
    drop(chain);
    assert_eq!(observed(&open(dir.path())), after);
}

#[tokio::test]
async fn a_damaged_record_before_the_last_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let chain = open(dir.path());
    let operator = operator(&chain).await;
    anchor(&chain, operator, 1).await;
    drop(chain);
    let path = dir.path().join(JOURNAL_FILE);
    let mut bytes = std::fs::read(&path).unwrap();
    // The first record's payload starts after the 24-byte header and 8-byte length.
    bytes[24 + 8 + 10] ^= 0x20;
    std::fs::write(&path, &bytes).unwrap();
    let err = EmbeddedChain::open(dir.path(), CHAIN_ID).err().unwrap();
    assert!(
        err.starts_with("chain_state_corrupt: ")
            && err.contains("chain/journal: record 1 at byte 24 fails its checksum"),
        "{err}"
    );
    // Refused again, and nothing was rewritten on the way.
    let err = EmbeddedChain::open(dir.path(), CHAIN_ID).err().unwrap();
    assert!(err.contains("record 1 at byte 24"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), bytes);

    // A journal whose snapshot is gone is refused, not started over.
    bytes[24 + 8 + 10] ^= 0x20;
    std::fs::write(&path, &bytes).unwrap();
    std::fs::remove_file(dir.path().join(STATE_FILE)).unwrap();
    let err = EmbeddedChain::open(dir.path(), CHAIN_ID).err().unwrap();
    assert!(
        err.starts_with("chain_state_corrupt: ") && err.contains("state.json, is missing"),
        "{err}"
    );
}

#[tokio::test]
async fn compaction_then_restart_and_a_compaction_cut_short() {
    let dir = tempfile::tempdir().unwrap();
    let every_three = Persistence::Journal {
        min_bytes: u64::MAX,
        max_records: 3,
    };
    let chain = EmbeddedChain::open_with(dir.path(), CHAIN_ID, every_three).unwrap();
    let operator = operator(&chain).await;
    anchor(&chain, operator, 1).await;
    let journal_path = dir.path().join(JOURNAL_FILE);
    let old_snapshot = std::fs::read(dir.path().join(STATE_FILE)).unwrap();
    assert_eq!(journal_records(dir.path()), 2);
    // The third record makes three: a new snapshot, an empty journal after it.
    anchor(&chain, operator, 2).await;
    assert_eq!(journal_records(dir.path()), 0);
    assert_ne!(
        std::fs::read(dir.path().join(STATE_FILE)).unwrap(),
        old_snapshot
    );
    anchor(&chain, operator, 3).await;
    anchor(&chain, operator, 4).await;
    assert_eq!(journal_records(dir.path()), 2);
    let before = observed(&chain);
    drop(chain);
    assert_eq!(observed(&open(dir.path())), before);

    // A journal continuing a snapshot that is not there (an older snapshot put back):
    // refused.
    std::fs::write(dir.path().join(STATE_FILE), &old_snapshot).unwrap();
    drop(journal::Writer::create(&journal_path, 11).unwrap());
    let err = EmbeddedChain::open(dir.path(), CHAIN_ID).err().unwrap();
    assert!(
        err.starts_with("chain_state_corrupt: ")
            && err.contains("it continues block 11, but the snapshot is at block 7"),
        "{err}"
    );

    // A crash after the new snapshot but before the new journal: the old journal's records
    // are all in the snapshot, and are skipped.
    let dir = tempfile::tempdir().unwrap();
    let chain = EmbeddedChain::open_with(dir.path(), CHAIN_ID, every_three).unwrap();
    let operator = self::operator(&chain).await;
    anchor(&chain, operator, 1).await;
    let stale = std::fs::read(dir.path().join(JOURNAL_FILE)).unwrap();
    anchor(&chain, operator, 2).await;
    let state = observed(&chain);
    drop(chain);
    std::fs::write(dir.path().join(JOURNAL_FILE), &stale).unwrap();
    assert_eq!(journal_records(dir.path()), 2);
    let chain = open(dir.path());
    assert_eq!(observed(&chain), state);
}

#[tokio::test]
async fn a_state_file_saved_before_the_journal_opens() {
    let dir = tempfile::tempdir().unwrap();
    // The full rewrite is what every chain did before the journal: state.json only.
    let chain = EmbeddedChain::open_with(dir.path(), CHAIN_ID, Persistence::FullRewrite).unwrap();
    let operator = operator(&chain).await;
    anchor(&chain, operator, 1).await;
    let before = observed(&chain);
    drop(chain);
    std::fs::remove_file(dir.path().join(JOURNAL_FILE)).unwrap();
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join(STATE_FILE)).unwrap()).unwrap();
    assert_eq!(saved["format"], "agentkeys-embedded-chain-v1");
    let mut keys: Vec<_> = saved.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "chain_id",
            "contracts",
            "evm",
            "format",
            "logs",
            "submitter"
        ]
    );

    let chain = open(dir.path());
    assert_eq!(observed(&chain), before);
    assert_eq!(journal_records(dir.path()), 0);
    anchor(&chain, operator, 2).await;
    assert_eq!(journal_records(dir.path()), 1);
    let after = observed(&chain);
    drop(chain);
    assert_eq!(observed(&open(dir.path())), after);

    // The snapshot rewritten without the journal, which stays behind, empty: the chain goes
    // on with a journal that follows the snapshot.
    let chain = EmbeddedChain::open_with(dir.path(), CHAIN_ID, Persistence::FullRewrite).unwrap();
    anchor(&chain, operator, 3).await;
    drop(chain);
    let chain = open(dir.path());
    anchor(&chain, operator, 4).await;
    let after = observed(&chain);
    drop(chain);
    assert_eq!(observed(&open(dir.path())), after);
}

#[tokio::test]
async fn reloading_after_a_failed_save_keeps_the_journal_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let chain = open(dir.path());
    let operator = operator(&chain).await;
    anchor(&chain, operator, 1).await;
    let before = observed(&chain);
    let store = Store {
        state_path: dir.path().join(STATE_FILE),
        journal_path: dir.path().join(JOURNAL_FILE),
        chain_id: CHAIN_ID,
        submitter: chain.submitter(),
    };
    let snapshot = std::fs::read(&store.state_path).unwrap();
    // What a failed append falls back on: the state on disk, without writing a snapshot
    // (on a full disk that would fail as well).
    let (mut inner, _) = restore(&store, false).unwrap().unwrap();
    assert_eq!(inner.evm.state_digest(), before.0);
    assert_eq!(inner.logs.len(), before.2.len());
    assert_eq!(std::fs::read(&store.state_path).unwrap(), snapshot);
    assert_eq!(journal_records(dir.path()), 2);
    assert_eq!(inner.journal.records(), 2);
    // Its writer appends after the records it found.
    inner.journal.append(b"{}").unwrap();
    assert_eq!(journal_records(dir.path()), 3);
}
