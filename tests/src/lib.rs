//! Harness for end-to-end tests: starts the real `agentkeys-relay`, `agentkeys-daemon` and
//! `agentkeys` binaries, `moto_server` and headless Chromium in temporary directories, and
//! stops what it started.

pub mod agents;
pub mod browser;
pub mod hardhat;
pub mod moto;
pub mod passkey_flow;
pub mod process;
pub mod relay;
pub mod relay_client;
pub mod socket;
pub mod stack;
pub mod storage;
/// Software passkeys: P-256 keys that answer WebAuthn assertions as an authenticator does,
/// shared with the contract tests.
#[path = "../../contracts/tests/common/webauthn.rs"]
pub mod webauthn;

use std::path::PathBuf;

/// The directory holding the workspace's binaries (`target/<profile>`), found from the test
/// executable's own path (`target/<profile>/deps/<test>`), so a custom CARGO_TARGET_DIR works.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let deps = exe.parent().expect("deps dir");
    let dir = if deps.ends_with("deps") {
        deps.parent().expect("profile dir")
    } else {
        deps
    };
    dir.to_path_buf()
}

pub fn bin(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: build the workspace binaries first (`cargo build --workspace --bins`)",
        path.display()
    );
    path
}

/// A free TCP port on 127.0.0.1 (bound and released; a tiny race is acceptable in tests).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// True when `needle` occurs in any file under `dir`.
pub fn dir_contains(dir: &std::path::Path, needle: &[u8]) -> bool {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p) {
                if bytes.windows(needle.len()).any(|w| w == needle) {
                    return true;
                }
            }
        }
    }
    false
}
