//! `agentkeys chain status` and `agentkeys audit verify` read the chain itself through
//! `--rpc-url` instead of taking the relay's word: against the Hardhat node the relay uses,
//! they agree; against a fresh chain (same chain id, no AgentKeys contracts) they are refused
//! with `chain_view_mismatch` and a nonzero exit.

use agentkeys_tests::hardhat::{self, HardhatNode};
use agentkeys_tests::stack::Stack;
use std::os::unix::fs::PermissionsExt;
use std::process::Output;
use std::time::{Duration, Instant};

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

fn refused(out: &Output, exit: i32, code: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(exit), "stderr: {err}");
    assert!(err.trim().ends_with(&format!("({code})")), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn chain_status_and_audit_verify_read_the_chain_itself() {
    let node = HardhatNode::start();
    let deployer: alloy::signers::local::PrivateKeySigner = hardhat::ACCOUNT0_KEY.parse().unwrap();
    let contracts = agentkeys_relay::chain::rpc::deploy(node.url(), node.chain_id(), &deployer)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("submitter.key");
    std::fs::write(&key_file, hardhat::ACCOUNT0_KEY).unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();

    // The embedded relay on the Hardhat chain, anchoring audit batches every second.
    let mut s = Stack::new()
        .with_env("AGENTKEYS_CHAIN", "rpc")
        .with_env("AGENTKEYS_CHAIN_RPC_URL", node.url())
        .with_env("AGENTKEYS_CHAIN_SUBMITTER_KEY_FILE", key_file.clone())
        .with_env("AGENTKEYS_CHAIN_POLL_MS", "100")
        .with_env("AGENTKEYS_AUDIT_ANCHOR_EVERY_SECS", "1")
        .with_env("AGENTKEYS_AUDIT_ANCHOR_EVERY_RECORDS", "1000");
    for (name, a) in agentkeys_relay::chain::rpc::contract_names(&contracts) {
        s = s.with_env(&format!("AGENTKEYS_{}", name.to_uppercase()), a.to_string());
    }
    s.ok(&["up"], None);
    s.ok(&["init", "--no-passkey"], None);
    s.ok(&["store", "openrouter"], Some(b"sk-on-hardhat"));
    assert_eq!(s.ok(&["read", "openrouter"], None), "sk-on-hardhat\n");

    // The relay's account and the chain's agree.
    let text = s.ok(&["chain", "status", "--rpc-url", node.url()], None);
    assert!(text.contains("adapter:        rpc"), "{text}");
    assert!(
        text.contains("this device's record matches; its operator has 1 device(s)"),
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_str(&s.ok(
        &["chain", "status", "--rpc-url", node.url(), "--json"],
        None,
    ))
    .unwrap();
    assert_eq!(json["checked"]["device"], json["device"], "{json}");
    assert_eq!(json["checked"]["chain_id"], 31337, "{json}");

    let log: serde_json::Value =
        serde_json::from_str(&s.ok(&["audit", "log", "--json"], None)).unwrap();
    let id = log["records"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|r| r["service"] == "openrouter" && r["op"] == "fetch")
        .unwrap()["id"]
        .as_u64()
        .unwrap()
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    let proven = loop {
        let out = s.run(&["audit", "verify", &id, "--rpc-url", node.url()], None);
        match out.status.code() {
            Some(0) => break String::from_utf8_lossy(&out.stdout).to_string(),
            Some(9) => assert!(stderr(&out).contains("(audit_not_anchored)")),
            other => panic!("verify exited {other:?}: {}", stderr(&out)),
        }
        assert!(Instant::now() < deadline, "record {id} never anchored");
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(
        proven.contains("proof checked against the chain"),
        "{proven}"
    );

    // A fresh chain with the same chain id: no AgentKeys contracts where the relay says.
    let fresh = HardhatNode::start();
    let out = s.run(&["chain", "status", "--rpc-url", fresh.url()], None);
    refused(&out, 10, "chain_view_mismatch");
    assert!(
        stderr(&out).contains("no registry contract"),
        "{}",
        stderr(&out)
    );
    refused(
        &s.run(&["audit", "verify", &id, "--rpc-url", fresh.url()], None),
        10,
        "chain_view_mismatch",
    );
    // Plain http beyond this machine is refused before anything is read.
    refused(
        &s.run(
            &["chain", "status", "--rpc-url", "http://node.example:8545"],
            None,
        ),
        7,
        "bad_request",
    );
    s.ok(&["down"], None);
}
