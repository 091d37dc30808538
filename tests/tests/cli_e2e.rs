//! The user's path, end to end: the real `agentkeys` CLI starts the real daemon and embedded
//! relay in a temporary AGENTKEYS_HOME, and every command is checked for its output and exit
//! status.

use agentkeys_tests::dir_contains;
use agentkeys_tests::stack::Stack;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

fn one_line_error(out: &std::process::Output, exit: i32, code: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(exit), "stderr: {err}");
    assert!(
        err.trim().ends_with(&format!("({code})")),
        "expected ({code}): {err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "errors are one line: {err}");
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{err}"
    );
}

#[test]
fn store_read_run_and_refusals() {
    let s = Stack::new();

    // Before `up`: a clear one-line error and exit 3.
    let out = s.run(&["read", "openrouter"], None);
    one_line_error(&out, 3, "daemon_not_running");
    assert!(stderr(&out).contains("agentkeys up"));

    let first = s.ok(&["up"], None);
    assert!(
        first.contains("relay") && first.contains("daemon"),
        "{first}"
    );
    s.ok(&["up"], None); // idempotent

    let out = s.run(&["read", "openrouter"], None);
    one_line_error(&out, 8, "not_initialized");

    let init = s.ok(&["init", "--no-passkey"], None);
    assert!(init.contains("0x"), "init shows the device address: {init}");
    assert!(
        init.contains("registered on chain as the first master in block"),
        "init registers the device on chain: {init}"
    );
    let chain: serde_json::Value =
        serde_json::from_str(&s.ok(&["chain", "status", "--json"], None)).unwrap();
    assert_eq!(chain["chain"]["adapter"], "embedded", "{chain}");
    assert_eq!(chain["chain"]["chain_id"], 31337, "{chain}");
    assert_eq!(chain["device"]["roles"], 1, "{chain}");
    assert_eq!(chain["device"]["revoked"], false, "{chain}");
    let text = s.ok(&["chain", "status"], None);
    assert!(text.contains("adapter:        embedded"), "{text}");
    // A second init keeps the identity and does not register again.
    // Without a passkey: what a passkey approves, creating an agent included (it needs
    // SCOPE_MGMT), says how to add one.
    let out = s.run(&["agent", "create", "coder"], None);
    one_line_error(&out, 6, "passkey_required");
    assert!(stderr(&out).contains("agentkeys init"), "{}", stderr(&out));
    one_line_error(
        &s.run(&["recover", "threshold", "1"], None),
        6,
        "passkey_required",
    );
    let again = s.ok(&["init", "--no-passkey"], None);
    assert!(again.contains("already exists"), "{again}");
    assert!(!again.contains("registered on chain"), "{again}");

    s.ok(&["store", "openrouter"], Some(b"sk-test"));
    assert_eq!(s.ok(&["read", "openrouter"], None), "sk-test\n");
    let json: serde_json::Value =
        serde_json::from_str(&s.ok(&["read", "openrouter", "--json"], None)).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"service": "openrouter", "value": "sk-test"})
    );

    // A trailing newline from `echo` is not part of the value.
    s.ok(&["store", "anthropic"], Some(b"sk-ant-123\n"));
    assert_eq!(s.ok(&["read", "anthropic"], None), "sk-ant-123\n");

    // --value works but warns.
    let out = s.run(&["store", "github", "--value", "ghp-abcdef"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).to_lowercase().contains("warning"),
        "{}",
        stderr(&out)
    );

    let list = s.ok(&["list"], None);
    for name in ["anthropic", "github", "openrouter"] {
        assert!(list.lines().any(|l| l.trim() == name), "{list}");
    }

    // run: the child sees the value; output is masked unless asked otherwise.
    let out = s.run(
        &[
            "run",
            "--env",
            "OPENROUTER_API_KEY=openrouter",
            "--",
            "sh",
            "-c",
            "test \"$OPENROUTER_API_KEY\" = sk-test",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = s.run(
        &[
            "run",
            "--env",
            "K=openrouter",
            "--",
            "sh",
            "-c",
            "echo \"key=$K\"; echo \"$K\" >&2; exit 3",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "key=********\n");
    assert!(!stderr(&out).contains("sk-test"), "{}", stderr(&out));
    let out = s.run(
        &[
            "run",
            "--no-masking",
            "--env",
            "K=openrouter",
            "--",
            "sh",
            "-c",
            "echo \"$K\"",
        ],
        None,
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "sk-test\n");
    let out = s.run(&["run", "--env", "K=never-stored", "--", "true"], None);
    one_line_error(&out, 5, "secret_not_found");

    // Refusals with exact codes and exit statuses.
    one_line_error(
        &s.run(&["read", "unknown-service"], None),
        5,
        "secret_not_found",
    );
    one_line_error(
        &s.run(&["store", "Bad/Name"], Some(b"x")),
        7,
        "invalid_service_name",
    );
    one_line_error(&s.run(&["store", "empty"], Some(b"")), 7, "invalid_value");

    // Memory is its own class.
    s.ok(
        &["memory", "put", "coder-notes"],
        Some(b"remember the milk"),
    );
    assert_eq!(
        s.ok(&["memory", "get", "coder-notes"], None),
        "remember the milk\n"
    );
    one_line_error(
        &s.run(&["read", "coder-notes"], None),
        5,
        "secret_not_found",
    );

    // Nothing under the relay's data directory holds a plaintext.
    let data = s.relay_data_dir();
    assert!(
        data.join("s3").exists(),
        "embedded objects live under {}",
        data.display()
    );
    for plain in [
        &b"sk-test"[..],
        b"sk-ant-123",
        b"ghp-abcdef",
        b"remember the milk",
    ] {
        assert!(
            !dir_contains(&data, plain),
            "{} found in the relay data",
            String::from_utf8_lossy(plain)
        );
    }
    assert!(
        !dir_contains(s.home(), b"sk-test"),
        "plaintext found under AGENTKEYS_HOME"
    );

    s.ok(&["rm", "github"], None);
    one_line_error(&s.run(&["read", "github"], None), 5, "secret_not_found");
    one_line_error(&s.run(&["rm", "github"], None), 5, "secret_not_found");

    let status = s.ok(&["status"], None);
    assert!(status.contains("0x"), "{status}");

    // The relay gone while the daemon runs: exit 4, one line naming the relay.
    s.kill_relay();
    // The daemon caches its capability; a store needs a fresh one, so it must reach the relay.
    one_line_error(
        &s.run(&["store", "after-crash"], Some(b"v")),
        4,
        "relay_unreachable",
    );

    // Restart everything: identity and secrets persist.
    s.ok(&["down"], None);
    one_line_error(
        &s.run(&["read", "openrouter"], None),
        3,
        "daemon_not_running",
    );
    s.ok(&["down"], None); // idempotent
    s.ok(&["up"], None);
    assert_eq!(s.ok(&["read", "openrouter"], None), "sk-test\n");
    s.ok(&["down"], None);
}

#[test]
fn daemon_install_print_changes_nothing() {
    let s = Stack::new();
    let out = s
        .command(&["daemon", "install", "--print"])
        .env("XDG_CONFIG_HOME", s.home().join("xdg"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("agentkeys-daemon"), "{text}");
    assert!(!s.home().join("xdg").exists());
}
