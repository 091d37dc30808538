//! The daemon checks the relay: the relay's session key is pinned at `init`, and another relay
//! answering at the pinned relay's address after it died (its own data folder, so its own
//! keys) gets no value and stores nothing; every `store`, `read` and `run` is refused with
//! `relay_signature_invalid`. The real relay back, everything works again. A daemon whose
//! state predates pinning trusts the relay it meets first, and says so in its log.

use agentkeys_tests::dir_contains;
use agentkeys_tests::passkey_flow::relay_url;
use agentkeys_tests::process::wait_until;
use agentkeys_tests::relay::RelayProc;
use agentkeys_tests::stack::Stack;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

fn refused(out: &Output, exit: i32, code: &str) -> String {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(exit), "stderr: {err}");
    assert!(
        err.trim().ends_with(&format!("({code})")),
        "expected ({code}): {err}"
    );
    err
}

fn kill_embedded_relay(s: &Stack) {
    let pid: i32 = std::fs::read_to_string(s.home().join("state/relay.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    kill(Pid::from_raw(pid), Signal::SIGKILL).unwrap();
    assert!(wait_until(Duration::from_secs(5), || kill(
        Pid::from_raw(pid),
        None
    )
    .is_err()));
}

/// Files under the relay's object store (none when it stored nothing).
fn objects(data_dir: &Path) -> usize {
    let mut stack = vec![data_dir.join("s3/objects")];
    let mut n = 0;
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                n += 1;
            }
        }
    }
    n
}

#[test]
fn another_relay_at_the_pinned_address_gets_nothing() {
    let s = Stack::new();
    s.ok(&["up"], None);
    let init = s.ok(&["init", "--no-passkey"], None);
    assert!(init.contains("relay key pinned: SHA256:"), "{init}");
    assert!(init.contains("on chain 31337"), "{init}");
    let pinned = init
        .lines()
        .find_map(|l| l.strip_prefix("relay key pinned: "))
        .and_then(|l| l.split(' ').next())
        .unwrap()
        .to_string();
    let relay_log = std::fs::read_to_string(s.home().join("state/relay.log")).unwrap();
    assert!(
        relay_log.contains(&pinned),
        "the relay logs the key the daemon pinned ({pinned})"
    );
    s.ok(&["store", "openrouter"], Some(b"sk-pinned-1"));
    assert_eq!(s.ok(&["read", "openrouter"], None), "sk-pinned-1\n");

    // The relay dies; another one, with its own keys, takes its address.
    let url = relay_url(&s);
    kill_embedded_relay(&s);
    let other = tempfile::tempdir().unwrap();
    let listen = url.trim_start_matches("http://");
    let mut squatter = RelayProc::start_on(&other.path().join("relay"), &[], listen);
    assert_eq!(squatter.url, url);

    for (args, stdin) in [
        (&["store", "openrouter"][..], Some(&b"sk-squatted-1"[..])),
        (&["store", "brand-new"][..], Some(&b"sk-squatted-2"[..])),
        (&["read", "openrouter"][..], None),
        (
            &["run", "--env", "K=openrouter", "--", "sh", "-c", "echo ran"][..],
            None,
        ),
    ] {
        let out = s.run(args, stdin);
        let err = refused(&out, 10, "relay_signature_invalid");
        assert!(err.contains("init --repin"), "{err}");
        assert!(!String::from_utf8_lossy(&out.stdout).contains("ran"));
    }
    // Re-running init does not silently accept the new key; it shows both.
    let out = s.run(&["init", "--no-passkey"], None);
    let err = refused(&out, 6, "relay_key_changed");
    assert!(err.contains(&pinned), "{err}");

    squatter.proc.stop(Duration::from_secs(10));
    let log = squatter.log();
    assert!(
        !log.contains("sk-squatted") && !log.contains("sk-pinned"),
        "{log}"
    );
    assert!(
        !dir_contains(&squatter.data_dir, b"sk-squatted"),
        "a value reached the other relay"
    );
    assert_eq!(
        objects(&squatter.data_dir),
        0,
        "the other relay stored an object"
    );

    // The real relay back (a new port, the same keys): everything works again.
    s.ok(&["up"], None);
    assert_eq!(s.ok(&["read", "openrouter"], None), "sk-pinned-1\n");
    s.ok(&["store", "brand-new"], Some(b"sk-real-2"));
    assert_eq!(
        s.ok(
            &[
                "run",
                "--no-masking",
                "--env",
                "K=brand-new",
                "--",
                "sh",
                "-c",
                "printf %s \"$K\""
            ],
            None
        ),
        "sk-real-2"
    );
    let again = s.ok(&["init", "--no-passkey"], None);
    assert!(
        again.contains(&format!("relay key matches the pin: {pinned}")),
        "{again}"
    );

    // A daemon state from before pinning: trust on first use, loudly.
    s.ok(&["down"], None);
    std::fs::remove_file(s.home().join("data/daemon/relay_pin.json")).unwrap();
    s.ok(&["up"], None);
    assert_eq!(s.ok(&["read", "openrouter"], None), "sk-pinned-1\n");
    let daemon_log = std::fs::read_to_string(s.home().join("state/daemon.log")).unwrap();
    assert!(
        daemon_log.contains("RELAY PINNED ON FIRST USE"),
        "{daemon_log}"
    );
    assert!(daemon_log.contains(&pinned), "{daemon_log}");
    assert!(s.home().join("data/daemon/relay_pin.json").exists());
    s.ok(&["down"], None);
}
