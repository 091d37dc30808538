//! Anchoring on a real chain (the embedded adapter: revm and the compiled contracts):
//! triggers, per-operator batches, one batch per record, crash recovery, and proofs checked
//! by the contracts crate, by core's copy of the verifier and by the contract itself.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use agentkeys_contracts::bindings::CredentialAudit;
use agentkeys_contracts::merkle;
use agentkeys_core::audit::root_from_proof;
use agentkeys_core::chain::{AdapterKind, AuditRootView, TxParams};
use agentkeys_core::identity::Omni;
use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::sol_types::SolCall;
use async_trait::async_trait;
use sha2::{Digest, Sha256};
use tokio::sync::{broadcast, watch};

use super::*;
use crate::chain::embedded::EmbeddedChain;
use crate::chain::{views, ChainAdapter, ChainError, ChainLog, Contracts, Mined, SignedTx};

const CHAIN_ID: u64 = 31_337;
const OP_A: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const OP_B: &str = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";

pub(super) fn event_for(operator: &str, n: u32) -> AuditEvent {
    AuditEvent {
        operator: operator.into(),
        device: format!("0x{}", "ab".repeat(20)),
        actor: operator.into(),
        service: format!("service-{n}"),
        op: "fetch".into(),
        data_class: "credentials".into(),
        outcome: "ok".into(),
        cap_jti_hash: hex::encode(Sha256::digest(format!("jti-{n}").as_bytes())),
    }
}

pub(super) struct Env {
    pub dir: tempfile::TempDir,
    pub db: PathBuf,
    pub log: AuditLog,
    pub chain: Arc<EmbeddedChain>,
    pub stop: watch::Sender<bool>,
}

pub(super) async fn env() -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("audit.sqlite");
    let log = AuditLog::open(&db).expect("open log");
    let chain_dir = dir.path().to_path_buf();
    let chain = tokio::task::spawn_blocking(move || EmbeddedChain::open(&chain_dir, CHAIN_ID))
        .await
        .expect("join")
        .expect("open embedded chain");
    let (stop, _) = watch::channel(false);
    Env {
        dir,
        db,
        log,
        chain,
        stop,
    }
}

impl Env {
    pub fn spawn(&self, policy: AnchorPolicy) -> Anchorer {
        self.spawn_on(self.chain.clone(), policy)
    }

    fn spawn_on(&self, chain: Arc<dyn ChainAdapter>, policy: AnchorPolicy) -> Anchorer {
        spawn_anchorer(self.log.clone(), chain, policy, self.stop.subscribe())
    }
}

const MANUAL: AnchorPolicy = AnchorPolicy {
    every_records: 0,
    every_secs: 0,
};

fn side(path: &Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).expect("side connection");
    conn.busy_timeout(Duration::from_secs(5)).expect("busy");
    conn
}

fn count(conn: &rusqlite::Connection, sql: &str) -> u64 {
    conn.query_row(sql, [], |r| r.get(0)).expect(sql)
}

async fn on_chain(chain: &dyn ChainAdapter, operator: &str, index: u64) -> AuditRootView {
    let op: Omni = operator.parse().expect("omni");
    views::audit_root(chain, &op, index)
        .await
        .expect("read root")
        .expect("root exists")
}

async fn root_count(chain: &dyn ChainAdapter, operator: &str) -> u64 {
    views::audit_root_count(chain, &operator.parse().expect("omni"))
        .await
        .expect("root count")
}

/// Checks the record's proof three ways: the contracts crate, core's verifier and
/// `CredentialAudit.verifyEntryInRoot` on chain; returns the anchor.
async fn assert_proven(log: &AuditLog, chain: &dyn ChainAdapter, id: u64) -> AnchorProof {
    let p = log.record_proof(id).expect("read").expect("record exists");
    let a = p.anchor.clone().expect("anchored");
    let hash = B256::from(super::chain::decode_hash(&p.record.hash).expect("hash"));
    assert!(merkle::verify(a.root, hash, &a.proof), "record {id}");
    let siblings: Vec<[u8; 32]> = a.proof.iter().map(|b| b.0).collect();
    assert_eq!(root_from_proof(&hash.0, &siblings), a.root.0, "record {id}");
    let root = on_chain(chain, &p.record.event.operator, a.root_index).await;
    assert_eq!(root.root, format!("{:#x}", a.root));
    assert_eq!(root.count, a.count);
    let call = CredentialAudit::verifyEntryInRootCall {
        operatorOmni: B256::from(super::chain::decode_hash(&p.record.event.operator).unwrap()),
        index: U256::from(a.root_index),
        recordHash: hash,
        proof: a.proof.clone(),
    };
    let out = chain
        .call(chain.contracts().audit, call.abi_encode().into())
        .await
        .expect("verifyEntryInRoot");
    assert!(
        CredentialAudit::verifyEntryInRootCall::abi_decode_returns(&out).expect("decode"),
        "the contract refuses record {id}"
    );
    a
}

async fn wait_anchored(log: &AuditLog, id: u64, within: Duration) -> AnchorProof {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let p = log.record_proof(id).expect("read").expect("record exists");
        if let Some(a) = p.anchor {
            return a;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "record {id} not anchored within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn is_anchored(log: &AuditLog, id: u64) -> bool {
    log.record_proof(id).unwrap().unwrap().anchor.is_some()
}

#[test]
fn core_verifier_matches_the_contracts_tree() {
    for n in 1..=33u8 {
        let hashes: Vec<B256> = (0..n)
            .map(|i| B256::from(<[u8; 32]>::from(Sha256::digest([n, i]))))
            .collect();
        let tree = merkle::MerkleTree::new(&hashes).unwrap();
        for (i, h) in hashes.iter().enumerate() {
            let proof = tree.proof(i).unwrap();
            assert_eq!(
                merkle::root_from_proof(*h, &proof).0,
                root_from_proof(&h.0, &proof.iter().map(|b| b.0).collect::<Vec<_>>()),
                "n={n} i={i}"
            );
            assert_eq!(
                merkle::leaf_hash(*h).0,
                agentkeys_core::audit::leaf_hash(&h.0)
            );
        }
    }
}

#[tokio::test]
async fn count_trigger_anchors_after_n_records() {
    let e = env().await;
    let anchorer = e.spawn(AnchorPolicy {
        every_records: 5,
        every_secs: 0,
    });
    for n in 1..=4 {
        e.log.append(event_for(OP_A, n)).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(!is_anchored(&e.log, 1), "anchored before 5 records");
    assert_eq!(root_count(&*e.chain, OP_A).await, 0);

    e.log.append(event_for(OP_A, 5)).await.unwrap();
    let a = wait_anchored(&e.log, 5, Duration::from_secs(10)).await;
    assert_eq!((a.root_index, a.count), (0, 5));
    assert!(a.block_number.is_some() && a.tx_hash.is_some());
    for id in 1..=5 {
        let p = assert_proven(&e.log, &*e.chain, id).await;
        assert_eq!(p.root, a.root);
    }
    assert_eq!(root_count(&*e.chain, OP_A).await, 1);

    e.stop.send_replace(true);
    tokio::time::timeout(Duration::from_secs(5), anchorer.join())
        .await
        .expect("anchorer stops");
}

#[tokio::test]
async fn time_trigger_anchors_after_t_seconds() {
    let e = env().await;
    let _anchorer = e.spawn(AnchorPolicy {
        every_records: 1000,
        every_secs: 1,
    });
    let started = tokio::time::Instant::now();
    e.log.append(event_for(OP_A, 1)).await.unwrap();
    e.log.append(event_for(OP_A, 2)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    if started.elapsed() < Duration::from_millis(900) {
        assert!(!is_anchored(&e.log, 1), "anchored before a second");
    }
    let a = wait_anchored(&e.log, 2, Duration::from_secs(10)).await;
    assert!(started.elapsed() >= Duration::from_millis(1000));
    assert_eq!(a.count, 2);
    assert_proven(&e.log, &*e.chain, 1).await;

    // The timer starts again with the next record.
    e.log.append(event_for(OP_A, 3)).await.unwrap();
    let a = wait_anchored(&e.log, 3, Duration::from_secs(10)).await;
    assert_eq!((a.root_index, a.count), (1, 1));
}

#[tokio::test]
async fn batches_are_per_operator() {
    let e = env().await;
    let anchorer = e.spawn(MANUAL);
    // Interleaved: A B A A B.
    for (n, op) in [OP_A, OP_B, OP_A, OP_A, OP_B].iter().enumerate() {
        e.log.append(event_for(op, n as u32)).await.unwrap();
    }
    let report = anchorer.anchor_now().await.unwrap();
    assert_eq!(
        report,
        AnchorReport {
            batches_created: 2,
            anchored: 2,
            pending: 0
        }
    );
    let a: Vec<_> = [1, 3, 4]
        .iter()
        .map(|id| e.log.record_proof(*id).unwrap().unwrap().anchor.unwrap())
        .collect();
    assert!(a
        .iter()
        .all(|x| x.root == a[0].root && x.count == 3 && x.root_index == 0));
    let b2 = assert_proven(&e.log, &*e.chain, 2).await;
    let b5 = assert_proven(&e.log, &*e.chain, 5).await;
    assert_eq!((b2.root, b2.count, b2.root_index), (b5.root, 2, 0));
    assert_ne!(a[0].root, b2.root);
    for id in 1..=5 {
        assert_proven(&e.log, &*e.chain, id).await;
    }
    assert_eq!(root_count(&*e.chain, OP_A).await, 1);
    assert_eq!(root_count(&*e.chain, OP_B).await, 1);

    // Nothing new: nothing to do.
    assert_eq!(
        anchorer.anchor_now().await.unwrap(),
        AnchorReport::default()
    );
}

#[tokio::test]
async fn every_record_is_in_exactly_one_batch() {
    let e = env().await;
    let anchorer = e.spawn(MANUAL);
    let mut n = 0;
    for round in 0..4 {
        for _ in 0..(round * 3 + 1) {
            n += 1;
            let op = if n % 3 == 0 { OP_B } else { OP_A };
            e.log.append(event_for(op, n)).await.unwrap();
        }
        anchorer.anchor_now().await.unwrap();
    }
    let conn = side(&e.db);
    let records = count(&conn, "SELECT count(*) FROM audit_log");
    assert_eq!(records, u64::from(n));
    assert_eq!(
        count(
            &conn,
            "SELECT count(DISTINCT record_id) FROM audit_batch_member"
        ),
        records
    );
    assert_eq!(
        count(&conn, "SELECT COALESCE(SUM(count), 0) FROM audit_batch"),
        records
    );
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM audit_batch WHERE status != 'anchored'"
        ),
        0
    );
    // Batches hold only their operator's records.
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM audit_batch_member m JOIN audit_batch b ON b.id = m.batch_id \
             JOIN audit_log l ON l.id = m.record_id WHERE l.operator != b.operator"
        ),
        0
    );
    // The schema itself refuses a second batch for a record.
    let err = conn
        .execute(
            "INSERT INTO audit_batch_member (record_id, batch_id, position) VALUES (1, 99, 0)",
            [],
        )
        .expect_err("a record in two batches");
    assert!(err.to_string().contains("UNIQUE"), "{err}");
    for id in 1..=u64::from(n) {
        assert_proven(&e.log, &*e.chain, id).await;
    }
}

/// Forwards to the real chain, but makes `submit_own` fail: before sending (`Lose::Request`)
/// or after the transaction was mined (`Lose::Receipt`, as if the relay died waiting).
struct Flaky {
    inner: Arc<dyn ChainAdapter>,
    lose: Lose,
    failures_left: AtomicUsize,
    submitted: AtomicUsize,
}

#[derive(Clone, Copy)]
enum Lose {
    Request,
    Receipt,
}

impl Flaky {
    fn new(inner: Arc<dyn ChainAdapter>, lose: Lose, failures: usize) -> Arc<Flaky> {
        Arc::new(Flaky {
            inner,
            lose,
            failures_left: AtomicUsize::new(failures),
            submitted: AtomicUsize::new(0),
        })
    }
}

#[async_trait]
impl ChainAdapter for Flaky {
    fn kind(&self) -> AdapterKind {
        self.inner.kind()
    }
    fn chain_id(&self) -> u64 {
        self.inner.chain_id()
    }
    fn contracts(&self) -> &Contracts {
        self.inner.contracts()
    }
    fn submitter(&self) -> Address {
        self.inner.submitter()
    }
    async fn block_number(&self) -> Result<u64, ChainError> {
        self.inner.block_number().await
    }
    async fn call(&self, to: Address, data: Bytes) -> Result<Bytes, ChainError> {
        self.inner.call(to, data).await
    }
    async fn tx_params(
        &self,
        from: Address,
        to: Address,
        data: Bytes,
    ) -> Result<TxParams, ChainError> {
        self.inner.tx_params(from, to, data).await
    }
    async fn submit_signed(&self, tx: SignedTx) -> Result<Mined, ChainError> {
        self.inner.submit_signed(tx).await
    }
    async fn submit_own(&self, to: Address, data: Bytes) -> Result<Mined, ChainError> {
        let fail = self
            .failures_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if !fail {
            self.submitted.fetch_add(1, Ordering::SeqCst);
            return self.inner.submit_own(to, data).await;
        }
        if let Lose::Receipt = self.lose {
            self.submitted.fetch_add(1, Ordering::SeqCst);
            self.inner.submit_own(to, data).await?;
        }
        Err(ChainError::Unavailable("injected failure".into()))
    }
    fn subscribe(&self) -> broadcast::Receiver<ChainLog> {
        self.inner.subscribe()
    }
}

/// The relay dies after writing a batch: reopen the log, start a new anchorer on the real
/// chain, and check what it does with the pending batch.
async fn restart(e: Env, anchorer: Anchorer) -> (Env, Anchorer) {
    e.stop.send_replace(true);
    anchorer.join().await;
    let Env {
        dir,
        db,
        log,
        chain,
        ..
    } = e;
    log.close().await;
    let log = AuditLog::open(&db).expect("reopen");
    let (stop, _) = watch::channel(false);
    let e = Env {
        dir,
        db,
        log,
        chain,
        stop,
    };
    let anchorer = e.spawn(MANUAL);
    (e, anchorer)
}

fn pending(db: &Path) -> u64 {
    count(
        &side(db),
        "SELECT count(*) FROM audit_batch WHERE status = 'pending'",
    )
}

#[tokio::test]
async fn a_mined_batch_whose_receipt_was_lost_is_found_not_resent() {
    let e = env().await;
    let flaky = Flaky::new(e.chain.clone(), Lose::Receipt, 1);
    let anchorer = e.spawn_on(flaky.clone(), MANUAL);
    for n in 1..=3 {
        e.log.append(event_for(OP_A, n)).await.unwrap();
    }
    let err = anchorer.anchor_now().await.expect_err("receipt lost");
    assert!(matches!(err, AnchorError::Chain(_)), "{err:?}");
    assert_eq!(pending(&e.db), 1);
    assert_eq!(root_count(&*e.chain, OP_A).await, 1, "the root did land");

    let (e, anchorer) = restart(e, anchorer).await;
    // The first run after a start settles pending batches on its own.
    let a = wait_anchored(&e.log, 1, Duration::from_secs(10)).await;
    assert_eq!((a.root_index, a.count), (0, 3));
    assert_eq!((a.block_number, a.tx_hash.as_deref()), (None, None));
    assert_eq!(root_count(&*e.chain, OP_A).await, 1, "sent twice");
    assert_eq!(pending(&e.db), 0);
    for id in 1..=3 {
        assert_proven(&e.log, &*e.chain, id).await;
    }
    assert_eq!(flaky.submitted.load(Ordering::SeqCst), 1);

    // Later batches go on normally, above the recovered one.
    e.log.append(event_for(OP_A, 4)).await.unwrap();
    anchorer.anchor_now().await.unwrap();
    let a = assert_proven(&e.log, &*e.chain, 4).await;
    assert_eq!(a.root_index, 1);
    assert!(a.block_number.is_some());
}

#[tokio::test]
async fn a_batch_never_sent_is_sent_after_a_restart() {
    let e = env().await;
    let flaky = Flaky::new(e.chain.clone(), Lose::Request, 1);
    let anchorer = e.spawn_on(flaky, MANUAL);
    e.log.append(event_for(OP_A, 1)).await.unwrap();
    e.log.append(event_for(OP_B, 2)).await.unwrap();
    anchorer.anchor_now().await.expect_err("request lost");
    assert_eq!(pending(&e.db), 2);
    assert_eq!(root_count(&*e.chain, OP_A).await, 0);

    let (e, _anchorer) = restart(e, anchorer).await;
    let a = wait_anchored(&e.log, 1, Duration::from_secs(10)).await;
    assert!(a.block_number.is_some());
    wait_anchored(&e.log, 2, Duration::from_secs(10)).await;
    assert_eq!(root_count(&*e.chain, OP_A).await, 1);
    assert_eq!(root_count(&*e.chain, OP_B).await, 1);
    assert_eq!(pending(&e.db), 0);
    assert_proven(&e.log, &*e.chain, 1).await;
    assert_proven(&e.log, &*e.chain, 2).await;
}

#[tokio::test]
async fn failed_submissions_are_retried_with_backoff() {
    let e = env().await;
    let flaky = Flaky::new(e.chain.clone(), Lose::Request, 2);
    let _anchorer = e.spawn_on(
        flaky.clone(),
        AnchorPolicy {
            every_records: 1,
            every_secs: 0,
        },
    );
    e.log.append(event_for(OP_A, 1)).await.unwrap();
    // 1 s then 2 s of backoff before the third attempt.
    let a = wait_anchored(&e.log, 1, Duration::from_secs(15)).await;
    assert_eq!(a.root_index, 0);
    assert_eq!(flaky.failures_left.load(Ordering::SeqCst), 0);
    assert_eq!(root_count(&*e.chain, OP_A).await, 1);
}

#[tokio::test]
async fn a_version_1_database_is_migrated_and_its_records_anchored() {
    let e = env().await;
    for n in 1..=3 {
        e.log.append(event_for(OP_A, n)).await.unwrap();
    }
    let Env {
        dir,
        db,
        log,
        chain,
        ..
    } = e;
    log.close().await;
    side(&db)
        .execute_batch(
            "DROP TABLE audit_batch; DROP TABLE audit_batch_member; \
             DROP INDEX audit_log_operator; PRAGMA user_version = 1;",
        )
        .unwrap();
    let log = AuditLog::open(&db).expect("open a version-1 file");
    assert_eq!(count(&side(&db), "PRAGMA user_version"), 2);
    assert_eq!(log.verify_chain().unwrap(), 3);
    let (stop, _) = watch::channel(false);
    let e = Env {
        dir,
        db,
        log,
        chain,
        stop,
    };
    let anchorer = e.spawn(MANUAL);
    assert!(!is_anchored(&e.log, 1));
    anchorer.anchor_now().await.unwrap();
    for id in 1..=3 {
        assert_proven(&e.log, &*e.chain, id).await;
    }
}

#[tokio::test]
async fn anchoring_shares_the_writer_and_keeps_the_chain_intact() {
    let e = env().await;
    let anchorer = e.spawn(AnchorPolicy {
        every_records: 7,
        every_secs: 0,
    });
    let mut tasks = Vec::new();
    for n in 0..200u32 {
        let log = e.log.clone();
        let op = if n % 2 == 0 { OP_A } else { OP_B };
        tasks.push(tokio::spawn(
            async move { log.append(event_for(op, n)).await },
        ));
    }
    for t in tasks {
        t.await
            .unwrap()
            .expect("appends never fail while anchoring");
    }
    anchorer.anchor_now().await.unwrap();
    assert_eq!(e.log.verify_chain().unwrap(), 200);
    assert_eq!(e.log.not_ready_reason(), None);
    for id in [1, 2, 99, 200] {
        assert_proven(&e.log, &*e.chain, id).await;
    }
    assert_eq!(pending(&e.db), 0);
}
