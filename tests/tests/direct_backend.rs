//! The direct credential backend: a daemon that seals objects itself (with a data key the vault
//! wraps through the signer) and moves them with its own actor-scoped storage credentials
//! writes the same envelope as the vault, so each backend reads what the other wrote. Real CLI,
//! two daemons of one device (one per backend) and the embedded relay.

use agentkeys_tests::passkey_flow::{extra_daemon, ok, refused, relay_url, text};
use agentkeys_tests::stack::Stack;

#[test]
fn objects_written_by_one_backend_are_read_by_the_other() {
    let s = Stack::new();
    s.ok(&["up"], None);
    s.ok(&["init", "--no-passkey"], None);
    let socket = s.home().join("run/direct.sock");
    let _direct = extra_daemon(
        s.home(),
        &relay_url(&s),
        &socket,
        &["--credential-backend", "direct"],
    );
    let direct = |args: &[&str], stdin: Option<&[u8]>| {
        let mut cmd = s.command(args);
        cmd.env("AGENTKEYS_SOCKET", &socket)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        if let (Some(data), Some(mut w)) = (stdin, child.stdin.take()) {
            use std::io::Write;
            w.write_all(data).unwrap();
        }
        child.wait_with_output().unwrap()
    };

    // Written through the vault, read directly.
    s.ok(&["store", "openrouter"], Some(b"sk-via-relay"));
    let out = direct(&["read", "openrouter"], None);
    assert_eq!(ok(&out).trim(), "sk-via-relay", "{}", text(&out));

    // Written directly, read through the vault.
    ok(&direct(&["store", "anthropic"], Some(b"sk-via-direct")));
    assert_eq!(s.ok(&["read", "anthropic"], None).trim(), "sk-via-direct");
    assert_eq!(s.ok(&["list"], None).trim(), "anthropic\nopenrouter");

    // Memory too, both ways.
    ok(&direct(&["memory", "put", "notes"], Some(b"short answers")));
    assert_eq!(
        s.ok(&["memory", "get", "notes"], None).trim(),
        "short answers"
    );
    s.ok(&["memory", "put", "style"], Some(b"terse"));
    assert_eq!(
        ok(&direct(&["memory", "get", "style"], None)).trim(),
        "terse"
    );

    // A missing object, with its code.
    refused(&direct(&["read", "github"], None), 5, "secret_not_found");

    // The vault wrapped and unwrapped the data keys, and audited both.
    let log: serde_json::Value =
        serde_json::from_str(&s.ok(&["audit", "log", "--json", "--limit", "1000"], None)).unwrap();
    let ops: Vec<&str> = log["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["op"].as_str())
        .collect();
    assert!(
        ops.contains(&"dek-wrap") && ops.contains(&"dek-unwrap"),
        "{ops:?}"
    );
}
