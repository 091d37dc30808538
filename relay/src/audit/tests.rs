use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::chain::{decode_hash, record_hash, GENESIS_PREV_HASH};
use super::*;

fn jti_hash(jti: &str) -> String {
    hex::encode(Sha256::digest(jti.as_bytes()))
}

fn event(n: u32) -> AuditEvent {
    AuditEvent {
        operator: "0123456789abcdef".repeat(4),
        device: format!("0x{}", "ab".repeat(20)),
        actor: "fedcba9876543210".repeat(4),
        service: format!("service-{n}"),
        op: ["fetch", "store"][n as usize % 2].into(),
        data_class: "credentials".into(),
        outcome: ["ok", "pop_replayed", "pop_replayed"][n as usize % 3].into(),
        cap_jti_hash: jti_hash(&format!("jti-{n}")),
    }
}

fn temp_db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("audit.sqlite");
    (dir, path)
}

/// A second, independent connection, standing in for someone editing the file.
fn side_connection(path: &Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).expect("open side connection");
    conn.busy_timeout(Duration::from_secs(5))
        .expect("busy timeout");
    conn
}

async fn append_n(log: &AuditLog, n: u32) -> Vec<AuditRecord> {
    let mut out = Vec::new();
    for i in 1..=n {
        out.push(log.append(event(i)).await.expect("append"));
    }
    out
}

fn assert_broken_at(result: Result<u64, AuditError>, expected_id: u64) {
    match result {
        Err(AuditError::ChainBroken { id, .. }) => assert_eq!(id, expected_id, "{result:?}"),
        other => panic!("expected ChainBroken at {expected_id}, got {other:?}"),
    }
}

#[test]
fn hash_known_answer() {
    let ev = AuditEvent {
        operator: "0123456789abcdef".repeat(4),
        device: format!("0x{}", "ab".repeat(20)),
        actor: "fedcba9876543210".repeat(4),
        service: "github".into(),
        op: "fetch".into(),
        data_class: "credentials".into(),
        outcome: "ok".into(),
        cap_jti_hash: "5964da055ae31cf8eb7230e190a504899c6f60f07f9f1cd3cade9fbf226e8c28".into(),
    };
    assert_eq!(ev.cap_jti_hash, jti_hash("jti-1"));
    let genesis = decode_hash(GENESIS_PREV_HASH).expect("genesis decodes");
    assert_eq!(genesis, [0u8; 32]);
    let h1 = record_hash(&genesis, 1, 1_700_000_000_000, &ev);
    assert_eq!(
        h1,
        "76638dc3979d85836471333feb597b1c11d51f6e8c9aac0236015b87d9235dd7"
    );

    // Second record: non-genesis prev_hash and a negative time exercise the other paths.
    let ev2 = AuditEvent {
        op: "store".into(),
        outcome: "pop_replayed".into(),
        ..ev
    };
    let prev = decode_hash(&h1).expect("h1 decodes");
    assert_eq!(
        record_hash(&prev, 2, -5, &ev2),
        "ba39b1906d851bf460a35ff34095a4f3c2d64f20b56a1d944b68521b0de15e0f"
    );
}

#[test]
fn length_prefixes_keep_adjacent_fields_apart() {
    let a = AuditEvent {
        service: "ab".into(),
        op: "c".into(),
        ..event(1)
    };
    let b = AuditEvent {
        service: "a".into(),
        op: "bc".into(),
        ..event(1)
    };
    let g = [0u8; 32];
    assert_ne!(record_hash(&g, 1, 0, &a), record_hash(&g, 1, 0, &b));
}

#[test]
fn decode_hash_accepts_only_lowercase_hex() {
    assert!(decode_hash(&"ab".repeat(32)).is_some());
    assert!(decode_hash(&"AB".repeat(32)).is_none());
    assert!(decode_hash(&"ab".repeat(31)).is_none());
    assert!(decode_hash(&"zz".repeat(32)).is_none());
}

#[tokio::test]
async fn invalid_events_are_rejected() {
    let (_dir, path) = temp_db();
    let log = AuditLog::open(&path).expect("open");
    let cases: Vec<AuditEvent> = vec![
        AuditEvent {
            service: String::new(),
            ..event(1)
        },
        AuditEvent {
            op: "x".repeat(MAX_FIELD_BYTES + 1),
            ..event(1)
        },
        AuditEvent {
            outcome: "ok\nforged line".into(),
            ..event(1)
        },
        AuditEvent {
            actor: "a\u{1b}[31m".into(),
            ..event(1)
        },
        // Batches are anchored under the operator's omni.
        AuditEvent {
            operator: "operator-1".into(),
            ..event(1)
        },
        AuditEvent {
            operator: "0123456789ABCDEF".repeat(4),
            ..event(1)
        },
        // A raw jti where its hash belongs.
        AuditEvent {
            cap_jti_hash: "jti-1".into(),
            ..event(1)
        },
        AuditEvent {
            cap_jti_hash: jti_hash("jti-1").to_uppercase(),
            ..event(1)
        },
    ];
    for ev in cases {
        let err = log.append(ev.clone()).await.expect_err("must be rejected");
        assert!(matches!(err, AuditError::Invalid(_)), "{ev:?} gave {err:?}");
    }
    let at_limit = AuditEvent {
        service: "s".repeat(MAX_FIELD_BYTES),
        ..event(1)
    };
    log.append(at_limit)
        .await
        .expect("field at the limit is fine");
    assert_eq!(log.stats().records, 1);
    assert_eq!(log.not_ready_reason(), None);
}

#[tokio::test]
async fn append_and_list_roundtrip() {
    let (_dir, path) = temp_db();
    let log = AuditLog::open(&path).expect("open");
    assert_eq!(log.list(0, 10).expect("list"), vec![]);
    let written = append_n(&log, 5).await;
    for (i, rec) in written.iter().enumerate() {
        assert_eq!(rec.id, i as u64 + 1);
        assert_eq!(rec.event, event(i as u32 + 1));
    }

    // Committed means visible to any other connection as soon as append returns.
    let count: i64 = side_connection(&path)
        .query_row("SELECT count(*) FROM audit_log", [], |r| r.get(0))
        .expect("count");
    assert_eq!(count, 5);

    assert_eq!(log.list(0, 100).expect("list"), written);
    assert_eq!(log.list(2, 2).expect("list"), written[2..4].to_vec());
    assert_eq!(log.list(5, 10).expect("list"), vec![]);
    assert_eq!(log.list(0, 0).expect("list"), vec![]);

    let json = serde_json::to_string(&written[0]).expect("serialize");
    let back: AuditRecord = serde_json::from_str(&json).expect("deserialize");
    assert_eq!(back, written[0]);
}

#[tokio::test]
async fn records_link_into_a_chain() {
    let (_dir, path) = temp_db();
    let log = AuditLog::open(&path).expect("open");
    let written = append_n(&log, 4).await;
    assert_eq!(written[0].prev_hash, GENESIS_PREV_HASH);
    for pair in written.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash);
        assert!(pair[1].time_ms >= pair[0].time_ms);
    }
    for rec in &written {
        let prev = decode_hash(&rec.prev_hash).expect("prev decodes");
        assert_eq!(
            record_hash(&prev, rec.id, rec.time_ms, &rec.event),
            rec.hash
        );
    }
    assert_eq!(log.verify_chain().expect("intact"), 4);
}

#[tokio::test]
async fn verify_chain_detects_modified_field() {
    let (_dir, path) = temp_db();
    let log = AuditLog::open(&path).expect("open");
    append_n(&log, 4).await;
    // Turn a refusal into a success, the edit an attacker would want.
    side_connection(&path)
        .execute_batch("UPDATE audit_log SET outcome = 'ok' WHERE id = 2")
        .expect("tamper");
    assert_broken_at(log.verify_chain(), 2);
}

#[tokio::test]
async fn verify_chain_detects_deleted_middle_row() {
    let (_dir, path) = temp_db();
    let log = AuditLog::open(&path).expect("open");
    append_n(&log, 5).await;
    side_connection(&path)
        .execute_batch("DELETE FROM audit_log WHERE id = 3")
        .expect("tamper");
    // Record 4 shows up where record 3 belongs.
    assert_broken_at(log.verify_chain(), 4);
}

#[tokio::test]
async fn verify_chain_detects_swapped_rows() {
    let (_dir, path) = temp_db();
    let log = AuditLog::open(&path).expect("open");
    append_n(&log, 5).await;
    side_connection(&path)
        .execute_batch(
            "UPDATE audit_log SET id = 1000 WHERE id = 2;
             UPDATE audit_log SET id = 2 WHERE id = 3;
             UPDATE audit_log SET id = 3 WHERE id = 1000;",
        )
        .expect("tamper");
    assert_broken_at(log.verify_chain(), 2);
}

#[tokio::test]
async fn verify_chain_detects_truncated_tail() {
    let (_dir, path) = temp_db();
    let log = AuditLog::open(&path).expect("open");
    append_n(&log, 4).await;
    // Dropping the newest row leaves a self-consistent chain; only the committed head
    // remembered by the running log reveals it.
    side_connection(&path)
        .execute_batch("DELETE FROM audit_log WHERE id = 4")
        .expect("tamper");
    assert_broken_at(log.verify_chain(), 4);
}

#[tokio::test]
async fn verify_chain_detects_rehashed_edit_of_newest_row() {
    let (_dir, path) = temp_db();
    let log = AuditLog::open(&path).expect("open");
    let written = append_n(&log, 4).await;
    // An editor who also recomputes the hash keeps the chain self-consistent.
    let last = &written[3];
    let forged = AuditEvent {
        outcome: "ok".into(),
        ..last.event.clone()
    };
    assert_ne!(forged, last.event);
    let prev = decode_hash(&last.prev_hash).expect("prev decodes");
    let forged_hash = record_hash(&prev, last.id, last.time_ms, &forged);
    side_connection(&path)
        .execute(
            "UPDATE audit_log SET outcome = 'ok', hash = ?1 WHERE id = 4",
            [&forged_hash],
        )
        .expect("tamper");
    assert_broken_at(log.verify_chain(), 4);
}

#[tokio::test]
async fn open_rejects_tampered_tail() {
    let (_dir, path) = temp_db();
    let log = AuditLog::open(&path).expect("open");
    append_n(&log, 3).await;
    log.close().await;
    side_connection(&path)
        .execute_batch("UPDATE audit_log SET service = 'other' WHERE id = 3")
        .expect("tamper");
    match AuditLog::open(&path) {
        Err(AuditError::ChainBroken { id: 3, .. }) => {}
        Err(e) => panic!("wrong error: {e:?}"),
        Ok(_) => panic!("open accepted a tampered tail"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_share_commits() {
    const N: usize = 200;
    let (_dir, path) = temp_db();
    let log = AuditLog::open(&path).expect("open");
    let barrier = Arc::new(tokio::sync::Barrier::new(N));
    let mut tasks = Vec::new();
    for i in 0..N {
        let log = log.clone();
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            log.append(event(i as u32)).await
        }));
    }
    let mut ids = Vec::new();
    for task in tasks {
        ids.push(task.await.expect("join").expect("append").id);
    }
    ids.sort_unstable();
    assert_eq!(ids, (1..=N as u64).collect::<Vec<_>>());
    let stats = log.stats();
    assert_eq!(stats.records, N as u64);
    assert!(
        stats.commits <= (N / 4) as u64,
        "group commit expected, got {} commits for {N} records",
        stats.commits
    );
    assert_eq!(log.verify_chain().expect("intact"), N as u64);
}

#[tokio::test]
async fn reopen_continues_chain() {
    let (_dir, path) = temp_db();
    let log = AuditLog::open(&path).expect("open");
    let first = append_n(&log, 3).await;
    log.close().await;

    let log = AuditLog::open(&path).expect("reopen");
    assert_eq!(log.list(0, 10).expect("list"), first);
    let next = log.append(event(4)).await.expect("append");
    assert_eq!(next.id, 4);
    assert_eq!(next.prev_hash, first[2].hash);
    assert!(next.time_ms >= first[2].time_ms);
    assert_eq!(log.verify_chain().expect("intact"), 4);
    assert_eq!(
        log.stats(),
        AuditStats {
            records: 1,
            commits: 1
        }
    );
}

#[tokio::test]
async fn failing_store_is_unavailable_and_recovers() {
    let (_dir, path) = temp_db();
    let log = AuditLog::open(&path).expect("open");
    let before = log.append(event(1)).await.expect("append");

    // Root ignores file permissions, so fail writes from inside SQLite instead.
    let side = side_connection(&path);
    side.execute_batch(
        "CREATE TRIGGER fail_insert BEFORE INSERT ON audit_log
         BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
    )
    .expect("create trigger");

    let started = Instant::now();
    let err = log.append(event(2)).await.expect_err("store cannot write");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    match &err {
        AuditError::Unavailable(reason) => assert!(reason.contains("disk full"), "{reason}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    let reason = log.not_ready_reason().expect("not ready");
    assert!(reason.contains("disk full"), "{reason}");
    assert_eq!(
        log.stats(),
        AuditStats {
            records: 1,
            commits: 1
        }
    );
    assert_eq!(log.list(0, 10).expect("list"), vec![before.clone()]);

    side.execute_batch("DROP TRIGGER fail_insert")
        .expect("drop trigger");
    let after = log.append(event(3)).await.expect("append after recovery");
    // The failed batch did not advance the chain.
    assert_eq!(after.id, 2);
    assert_eq!(after.prev_hash, before.hash);
    assert_eq!(log.not_ready_reason(), None);
    assert_eq!(log.verify_chain().expect("intact"), 2);
}

#[tokio::test]
async fn locked_store_fails_fast() {
    let (_dir, path) = temp_db();
    let options = AuditOptions {
        append_timeout: Duration::from_secs(5),
        busy_timeout: Duration::from_millis(200),
    };
    let log = AuditLog::open_with(&path, options).expect("open");
    let side = side_connection(&path);
    side.execute_batch("BEGIN IMMEDIATE")
        .expect("take write lock");

    let started = Instant::now();
    let err = log.append(event(1)).await.expect_err("locked");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(err, AuditError::Unavailable(_)), "{err:?}");
    assert!(log.not_ready_reason().is_some());

    side.execute_batch("COMMIT").expect("release lock");
    assert_eq!(log.append(event(2)).await.expect("append").id, 1);
    assert_eq!(log.not_ready_reason(), None);
}

#[tokio::test]
async fn stuck_writer_times_out_and_reports_stall() {
    let (_dir, path) = temp_db();
    let options = AuditOptions {
        append_timeout: Duration::from_millis(300),
        busy_timeout: Duration::from_secs(3),
    };
    let log = AuditLog::open_with(&path, options).expect("open");
    let side = side_connection(&path);
    side.execute_batch("BEGIN IMMEDIATE")
        .expect("take write lock");

    let started = Instant::now();
    let err = log.append(event(1)).await.expect_err("writer is stuck");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(err, AuditError::Unavailable(_)), "{err:?}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let reason = log.not_ready_reason().expect("stall is reported");
    assert!(reason.contains("stalled"), "{reason}");

    side.execute_batch("COMMIT").expect("release lock");
    let deadline = Instant::now() + Duration::from_secs(5);
    while log.not_ready_reason().is_some() {
        assert!(Instant::now() < deadline, "writer never recovered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The caller that timed out refused its operation, so its event was not recorded.
    let rec = log.append(event(2)).await.expect("append");
    assert_eq!(rec.id, 1);
    assert_eq!(rec.event, event(2));
}

#[tokio::test]
async fn close_flushes_and_stops_other_handles() {
    let (_dir, path) = temp_db();
    let log = AuditLog::open(&path).expect("open");
    let other = log.clone();
    append_n(&log, 2).await;
    log.close().await;

    let err = other.append(event(3)).await.expect_err("closed");
    assert!(matches!(err, AuditError::Unavailable(_)), "{err:?}");
    let reason = other.not_ready_reason().expect("closed is not ready");
    assert!(reason.contains("closed"), "{reason}");
    assert_eq!(other.list(0, 10).expect("reads still work").len(), 2);
}

#[test]
fn handle_and_append_future_are_send() {
    // Request handlers hold the log across awaits on a multi-threaded runtime.
    fn assert_send_sync<T: Send + Sync>(_: &T) {}
    fn assert_send<T: Send>(_: &T) {}
    let (_dir, path) = temp_db();
    let log = AuditLog::open(&path).expect("open");
    assert_send_sync(&log);
    let fut = log.append(event(1));
    assert_send(&fut);
}
