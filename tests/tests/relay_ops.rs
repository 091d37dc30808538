//! Operating the relay: boot refusals, readiness that names the failing dependency, graceful
//! shutdown, and the roles run as separate processes.

use agentkeys_core::names::DataClass;
use agentkeys_tests::relay::RelayProc;
use agentkeys_tests::relay_client::RelayClient;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::Duration;

#[test]
fn bad_configuration_is_one_boot_fail_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(agentkeys_tests::bin("agentkeys-relay"))
        .args(["serve", "--listen", "not-an-address", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "BOOT_FAIL: listen: 'not-an-address' is not an IP:port address"
    );

    let out = Command::new(agentkeys_tests::bin("agentkeys-relay"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--roles",
            "vault",
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.trim().starts_with("BOOT_FAIL: broker_url: "), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn readyz_names_the_dependency_that_is_down_and_sigterm_drains() {
    let dir = tempfile::tempdir().unwrap();
    let dead = format!("http://127.0.0.1:{}", agentkeys_tests::free_port());
    let mut relay = RelayProc::start(
        &dir.path().join("relay"),
        &[
            ("AGENTKEYS_STORAGE", "s3"),
            ("AGENTKEYS_S3_ENDPOINT", &dead),
            ("AGENTKEYS_S3_ACCESS_KEY_ID", "test"),
            ("AGENTKEYS_S3_SECRET_ACCESS_KEY", "test"),
            ("AGENTKEYS_S3_CREATE_BUCKETS", "false"),
        ],
    );
    let resp = reqwest::get(format!("{}/readyz", relay.url)).await.unwrap();
    assert_eq!(resp.status().as_u16(), 503);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["ready"], false);
    let storage = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "storage")
        .unwrap()
        .clone();
    assert_eq!(storage["ok"], false);
    assert!(
        storage["reason"].as_str().unwrap().contains("unreachable"),
        "{v}"
    );
    let health = reqwest::get(format!("{}/healthz", relay.url))
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);

    // A store while storage is down is refused with 503, not hung and not acknowledged.
    let mut c = RelayClient::new(&relay.url);
    c.sign_in().await;
    let (s, v) = c.store(DataClass::Credentials, "openrouter", b"sk").await;
    assert_eq!(
        (s, agentkeys_tests::relay_client::code(&v).as_str()),
        (503, "storage_unavailable")
    );

    assert_eq!(
        relay.proc.stop(Duration::from_secs(20)),
        Some(0),
        "SIGTERM must end the relay cleanly:\n{}",
        relay.log()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn roles_in_separate_processes() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("internal.token");
    std::fs::write(&token, "0123456789abcdef0123456789abcdef-test-token").unwrap();
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
    let token = token.to_str().unwrap().to_string();

    let signer_audit = RelayProc::start(
        &dir.path().join("signer"),
        &[
            ("AGENTKEYS_ROLES", "signer,audit"),
            ("AGENTKEYS_INTERNAL_TOKEN_FILE", &token),
        ],
    );
    let broker = RelayProc::start(
        &dir.path().join("broker"),
        &[
            ("AGENTKEYS_ROLES", "broker"),
            ("AGENTKEYS_SIGNER_URL", &signer_audit.url),
            ("AGENTKEYS_INTERNAL_TOKEN_FILE", &token),
        ],
    );
    let vault = RelayProc::start(
        &dir.path().join("vault"),
        &[
            ("AGENTKEYS_ROLES", "vault"),
            ("AGENTKEYS_BROKER_URL", &broker.url),
            ("AGENTKEYS_SIGNER_URL", &signer_audit.url),
            ("AGENTKEYS_AUDIT_URL", &signer_audit.url),
            ("AGENTKEYS_INTERNAL_TOKEN_FILE", &token),
        ],
    );

    let mut c = RelayClient::new(&broker.url);
    c.sign_in().await;
    let cap = c
        .cap(
            DataClass::Credentials,
            agentkeys_core::names::Op::Store,
            "openrouter",
        )
        .await;
    c.url = vault.url.clone();
    let body = serde_json::to_vec(&agentkeys_core::wire::PutRequest {
        name: "openrouter".into(),
        value: agentkeys_core::wire::SecretValue::from_bytes(b"sk-split"),
    })
    .unwrap();
    let (s, v) = c
        .vault(
            DataClass::Credentials,
            agentkeys_core::names::Op::Store,
            Some(&cap),
            body,
            agentkeys_tests::relay_client::Pop::Valid,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    c.url = broker.url.clone();
    let cap = c
        .cap(
            DataClass::Credentials,
            agentkeys_core::names::Op::Fetch,
            "openrouter",
        )
        .await;
    c.url = vault.url.clone();
    let (s, v) = c
        .vault(
            DataClass::Credentials,
            agentkeys_core::names::Op::Fetch,
            Some(&cap),
            br#"{"name":"openrouter"}"#.to_vec(),
            agentkeys_tests::relay_client::Pop::Valid,
        )
        .await;
    assert_eq!(s, 200, "{v}");

    // K3 and the audit log live only with the signer/audit process.
    assert!(signer_audit.data_dir.join("signer/k3/epoch-1.key").exists());
    assert!(!vault.data_dir.join("signer").exists());
    assert!(signer_audit.data_dir.join("audit/audit.sqlite").exists());

    // The signer API refuses callers without the internal token.
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/signer/unwrap", signer_audit.url))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "signer_unauthorized");
}
