//! The audit trail from the user's side, end to end on the embedded stack: a secret read with
//! `agentkeys read` shows in `agentkeys audit log` and is later proven by `agentkeys audit
//! verify` against the root anchored on chain; before its batch is anchored, verify says so
//! with its own code.

use agentkeys_tests::stack::Stack;
use std::process::Output;
use std::time::{Duration, Instant};

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// `agentkeys up` with the relay's anchoring cadence set through its environment.
fn up(s: &Stack, every_secs: &str, every_records: &str) {
    let out = s
        .command(&["up"])
        .env("AGENTKEYS_AUDIT_ANCHOR_EVERY_SECS", every_secs)
        .env("AGENTKEYS_AUDIT_ANCHOR_EVERY_RECORDS", every_records)
        .output()
        .unwrap();
    assert!(out.status.success(), "up: {}", stderr(&out));
}

/// The id of the newest record with this service, op and outcome.
fn record_id(s: &Stack, service: &str, op: &str) -> u64 {
    let log: serde_json::Value =
        serde_json::from_str(&s.ok(&["audit", "log", "--json"], None)).unwrap();
    log["records"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|r| r["service"] == service && r["op"] == op && r["outcome"] == "ok")
        .unwrap_or_else(|| panic!("no {op} of {service} in {log}"))["id"]
        .as_u64()
        .unwrap()
}

#[test]
fn a_read_is_proven_on_chain() {
    let s = Stack::new();
    up(&s, "1", "1000");
    s.ok(&["init", "--no-passkey"], None);
    s.ok(&["store", "openrouter"], Some(b"sk-audited"));
    assert_eq!(s.ok(&["read", "openrouter"], None), "sk-audited\n");

    let table = s.ok(&["audit", "log"], None);
    assert!(table.lines().next().unwrap().contains("OUTCOME"), "{table}");
    assert!(table.contains("openrouter"), "{table}");
    let id = record_id(&s, "openrouter", "fetch");

    // The batch is anchored within a few seconds; until then verify exits 9.
    let deadline = Instant::now() + Duration::from_secs(20);
    let proven = loop {
        let out = s.run(&["audit", "verify", &id.to_string()], None);
        match out.status.code() {
            Some(0) => break stdout(&out),
            Some(9) => assert!(
                stderr(&out).contains("(audit_not_anchored)"),
                "{}",
                stderr(&out)
            ),
            other => panic!("verify exited {other:?}: {}", stderr(&out)),
        }
        assert!(Instant::now() < deadline, "record {id} never anchored");
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(
        proven.contains(&format!("record {id} is anchored: root #"))
            && proven.contains("proof checked against the chain"),
        "{proven}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&s.ok(&["audit", "verify", &id.to_string(), "--json"], None)).unwrap();
    assert_eq!(json["id"], id, "{json}");
    assert!(json["root"].as_str().unwrap().starts_with("0x"), "{json}");

    // The chain agrees: the root is readable through the chain status's contracts.
    let chain: serde_json::Value =
        serde_json::from_str(&s.ok(&["chain", "status", "--json"], None)).unwrap();
    assert!(
        chain["chain"]["block_number"].as_u64().unwrap() > 8,
        "{chain}"
    );

    // An id the operator does not have.
    let out = s.run(&["audit", "verify", "999999"], None);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(
        stderr(&out).trim().ends_with("(record_not_found)"),
        "{}",
        stderr(&out)
    );
    s.ok(&["down"], None);
}

#[test]
fn verify_says_when_a_record_is_not_anchored_yet() {
    let s = Stack::new();
    up(&s, "3600", "1000");
    s.ok(&["init", "--no-passkey"], None);
    s.ok(&["store", "anthropic"], Some(b"sk-later"));
    let id = record_id(&s, "anthropic", "store");
    let out = s.run(&["audit", "verify", &id.to_string()], None);
    assert_eq!(out.status.code(), Some(9), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.trim().ends_with("(audit_not_anchored)"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    s.ok(&["down"], None);
}
