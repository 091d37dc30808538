//! Operating the relay: boot refusals, readiness that names the failing dependency, graceful
//! shutdown, and the roles run as separate processes.

use agentkeys_core::names::DataClass;
use agentkeys_tests::agents;
use agentkeys_tests::hardhat::{self, HardhatNode};
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

/// The `/readyz` check named `name`.
fn ready_check(v: &serde_json::Value, name: &str) -> serde_json::Value {
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {name} check in {v}"))
        .clone()
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
    let storage = ready_check(&v, "storage");
    assert_eq!(storage["ok"], false);
    assert!(
        storage["reason"].as_str().unwrap().contains("unreachable"),
        "{v}"
    );
    let chain = ready_check(&v, "chain");
    assert_eq!(chain["ok"], true, "the embedded chain is up: {v}");
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

    // Roles apart share one chain: a Hardhat node. Each process has its own funded account;
    // the audit process's is the deployer, which `CredentialAudit` authorises as audit relay.
    let node = HardhatNode::start();
    let key_file = |name: &str, key: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, key).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        path.to_str().unwrap().to_string()
    };
    let audit_key = key_file("audit.key", hardhat::ACCOUNT0_KEY);
    let broker_key = key_file("broker.key", hardhat::ACCOUNT1_KEY);
    let vault_key = key_file("vault.key", hardhat::ACCOUNT2_KEY);
    let deployer: alloy::signers::local::PrivateKeySigner = hardhat::ACCOUNT0_KEY.parse().unwrap();
    let contracts = agentkeys_relay::chain::rpc::deploy(node.url(), node.chain_id(), &deployer)
        .await
        .unwrap();
    let addresses: Vec<(String, String)> = agentkeys_relay::chain::rpc::contract_names(&contracts)
        .iter()
        .map(|(name, a)| (format!("AGENTKEYS_{}", name.to_uppercase()), a.to_string()))
        .collect();
    let chain_env = |key: &str| {
        let mut env: Vec<(String, String)> = vec![
            ("AGENTKEYS_CHAIN".into(), "rpc".into()),
            ("AGENTKEYS_CHAIN_RPC_URL".into(), node.url().to_string()),
            ("AGENTKEYS_CHAIN_SUBMITTER_KEY_FILE".into(), key.to_string()),
            ("AGENTKEYS_CHAIN_POLL_MS".into(), "100".into()),
            ("AGENTKEYS_INTERNAL_TOKEN_FILE".into(), token.clone()),
        ];
        env.extend(addresses.iter().cloned());
        env
    };
    let start = |name: &str, key: &str, extra: &[(&str, &str)]| {
        let mut env = chain_env(key);
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        RelayProc::start(&dir.path().join(name), &refs)
    };

    let signer_audit = start("signer", &audit_key, &[("AGENTKEYS_ROLES", "signer,audit")]);
    let broker = start(
        "broker",
        &broker_key,
        &[
            ("AGENTKEYS_ROLES", "broker"),
            ("AGENTKEYS_SIGNER_URL", &signer_audit.url),
        ],
    );
    let vault = start(
        "vault",
        &vault_key,
        &[
            ("AGENTKEYS_ROLES", "vault"),
            ("AGENTKEYS_BROKER_URL", &broker.url),
            ("AGENTKEYS_SIGNER_URL", &signer_audit.url),
            ("AGENTKEYS_AUDIT_URL", &signer_audit.url),
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

    // A device revoked on the node is refused by the vault process, which learns of it only
    // from the chain, within a second of the revocation block.
    c.url = broker.url.clone();
    let (mut agent, actor) = agents::register_agent(&c, "worker").await;
    let cap = agents::list_cap(&agent, c.operator(), actor).await;
    agent.url = vault.url.clone();
    let (s, v) = agents::list_with(&agent, &cap).await;
    assert_eq!(s, 200, "{v}");
    agents::revoke_agent(&c, &agent).await;
    agents::assert_revoked_within(&agent, &cap, Duration::from_secs(1)).await;

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

    // The node goes away: /readyz names the chain and why, promptly.
    drop(node);
    let resp = reqwest::get(format!("{}/readyz", broker.url))
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 503);
    let v: serde_json::Value = resp.json().await.unwrap();
    let chain = ready_check(&v, "chain");
    assert_eq!(chain["ok"], false, "{v}");
    assert!(!chain["reason"].as_str().unwrap().is_empty(), "{v}");
}

/// An audit relay whose chain key `CredentialAudit` does not accept as audit relay would
/// never anchor a root: it refuses to boot, naming the key, until the owner authorizes it.
#[tokio::test(flavor = "multi_thread")]
async fn an_audit_relay_must_be_authorized_to_anchor() {
    use agentkeys_contracts::bindings::CredentialAudit;
    use agentkeys_relay::chain::ChainAdapter;
    use alloy::signers::local::PrivateKeySigner;
    use alloy::sol_types::SolCall;

    let dir = tempfile::tempdir().unwrap();
    let node = HardhatNode::start();
    let owner: PrivateKeySigner = hardhat::ACCOUNT0_KEY.parse().unwrap();
    let contracts = agentkeys_relay::chain::rpc::deploy(node.url(), node.chain_id(), &owner)
        .await
        .unwrap();
    let key_file = dir.path().join("other.key");
    std::fs::write(&key_file, hardhat::ACCOUNT1_KEY).unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let other: PrivateKeySigner = hardhat::ACCOUNT1_KEY.parse().unwrap();
    let token = dir.path().join("internal.token");
    std::fs::write(&token, "0123456789abcdef0123456789abcdef-test-token").unwrap();
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut env: Vec<(String, String)> = vec![
        (
            "AGENTKEYS_INTERNAL_TOKEN_FILE".into(),
            token.to_str().unwrap().to_string(),
        ),
        ("AGENTKEYS_CHAIN".into(), "rpc".into()),
        ("AGENTKEYS_CHAIN_RPC_URL".into(), node.url().to_string()),
        (
            "AGENTKEYS_CHAIN_SUBMITTER_KEY_FILE".into(),
            key_file.to_str().unwrap().to_string(),
        ),
        ("AGENTKEYS_CHAIN_POLL_MS".into(), "100".into()),
        ("AGENTKEYS_ROLES".into(), "signer,audit".into()),
    ];
    env.extend(
        agentkeys_relay::chain::rpc::contract_names(&contracts)
            .iter()
            .map(|(name, a)| (format!("AGENTKEYS_{}", name.to_uppercase()), a.to_string())),
    );

    let data_dir = dir.path().join("relay");
    let out = Command::new(agentkeys_tests::bin("agentkeys-relay"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data_dir)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    let expected = format!(
        "BOOT_FAIL: chain_submitter_key_file: the submitter {} is not an audit relay of \
         CredentialAudit at {}",
        other.address(),
        contracts.audit
    );
    // Logging is on by then, so the refusal is the last line rather than the only one.
    let last = err.trim().lines().last().unwrap_or_default();
    assert!(last.starts_with(&expected), "{err}");

    // Once the owner authorizes that key, the same configuration boots.
    let chain = agentkeys_relay::chain::rpc::RpcChain::connect(
        node.url(),
        node.chain_id(),
        contracts,
        owner,
        Duration::from_millis(100),
    )
    .await
    .unwrap();
    let mined = chain
        .submit_own(
            contracts.audit,
            CredentialAudit::setAuditRelayCall {
                relay: other.address(),
                authorized: true,
            }
            .abi_encode()
            .into(),
        )
        .await
        .unwrap();
    assert!(mined.success);
    let refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let relay = RelayProc::start(&data_dir, &refs);
    let resp = reqwest::get(format!("{}/readyz", relay.url)).await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
}
