//! Durability: every store acknowledged before a `kill -9` of the relay is readable after a
//! restart, and the audit chain is intact.

use agentkeys_core::names::DataClass;
use agentkeys_tests::relay::RelayProc;
use agentkeys_tests::relay_client::RelayClient;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_stores_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut relay = RelayProc::start(&dir.path().join("relay"), &[]);
    let mut client = RelayClient::new(&relay.url);
    client.sign_in().await;
    let client = Arc::new(client);

    // Writers keep storing while the relay is killed; only acknowledged stores count.
    let mut tasks = Vec::new();
    for w in 0..4 {
        let c = client.clone();
        tasks.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for i in 0..400 {
                let name = format!("svc-{w}-{i}");
                let value = format!("value-{w}-{i}");
                match tokio::time::timeout(
                    std::time::Duration::from_secs(5),
                    c.try_store(DataClass::Credentials, &name, value.as_bytes()),
                )
                .await
                {
                    Ok(200) => acked.push((name, value)),
                    _ => break,
                }
            }
            acked
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    relay.proc.kill9();
    let mut acked = Vec::new();
    for t in tasks {
        acked.extend(t.await.unwrap_or_default());
    }
    assert!(
        acked.len() > 10,
        "too few stores before the crash: {}",
        acked.len()
    );

    relay.crash_and_restart();
    // Same port and the same broker key after restart, so the same client and session work.
    for (name, value) in &acked {
        assert_eq!(
            client.fetch_value(DataClass::Credentials, name).await,
            value.as_bytes(),
            "{name} lost after kill -9"
        );
    }
    let log = agentkeys_relay_audit_ok(&relay.data_dir);
    assert!(
        log >= acked.len() as u64,
        "audit has {log} records for {} acknowledged stores",
        acked.len()
    );
}

/// Counts audit records with outcome ok, read-only from the SQLite file.
fn agentkeys_relay_audit_ok(data_dir: &std::path::Path) -> u64 {
    let conn = rusqlite::Connection::open_with_flags(
        data_dir.join("audit/audit.sqlite"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("audit db");
    conn.query_row(
        "SELECT count(*) FROM audit_log WHERE outcome = 'ok' AND op = 'store'",
        [],
        |r| r.get::<_, i64>(0),
    )
    .expect("count") as u64
}
