//! A Hardhat 2 node on 127.0.0.1 for the `rpc` chain adapter tests. Hardhat is pinned in
//! `tests/hardhat/package-lock.json` and installed by `npm ci` there (the README's test
//! command does it); a missing install fails the test.

use crate::process::Managed;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Hardhat's chain id.
pub const CHAIN_ID: u64 = 31337;
/// Hardhat's well-known funded account #0 (10 000 ETH): publicly known, tests only.
pub const ACCOUNT0_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
/// The address of [`ACCOUNT0_KEY`].
pub const ACCOUNT0_ADDRESS: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
/// Hardhat's well-known funded accounts #1 and #2, for processes that each need their own.
pub const ACCOUNT1_KEY: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
pub const ACCOUNT2_KEY: &str = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";

const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `hardhat node`, stopped when dropped.
pub struct HardhatNode {
    // Dropped first: the process stops before its log directory goes.
    proc: Managed,
    url: String,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

/// `tests/hardhat` in the source tree.
pub fn hardhat_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("hardhat")
}

impl HardhatNode {
    /// Starts `hardhat node` on a free port and waits until it answers JSON-RPC.
    pub fn start() -> HardhatNode {
        let dir = hardhat_dir();
        let bin = dir.join("node_modules/.bin/hardhat");
        assert!(
            bin.exists(),
            "Hardhat is not installed: run `npm ci` in {} (scripts/test.sh does it)",
            dir.display()
        );
        let tmp = tempfile::tempdir().expect("tempdir");
        let log = tmp.path().join("hardhat.log");
        let out = std::fs::File::create(&log).expect("hardhat log file");
        let err = out.try_clone().expect("hardhat log file");
        let port = crate::free_port();
        // `node <script>`, not npx: the child's pid is the node itself, so dropping stops it.
        let child = Command::new("node")
            .arg(&bin)
            .args([
                "node",
                "--hostname",
                "127.0.0.1",
                "--port",
                &port.to_string(),
            ])
            .current_dir(&dir)
            .env("HARDHAT_DISABLE_TELEMETRY_PROMPT", "true")
            .env("HARDHAT_TELEMETRY_DISABLED", "true")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("node (Node.js) must be installed to run Hardhat; see scripts/test.sh");
        let mut node = HardhatNode {
            proc: Managed::new("hardhat", child),
            url: format!("http://127.0.0.1:{port}"),
            port,
            log,
            _dir: tmp,
        };
        node.wait_ready();
        node
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if !self.proc.is_running() {
                panic!(
                    "hardhat node exited during startup; its log:\n{}",
                    self.log()
                );
            }
            if let Some(id) = self.rpc_chain_id() {
                assert_eq!(id, CHAIN_ID, "hardhat node serves an unexpected chain id");
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "hardhat node did not answer JSON-RPC on port {} within {} s; its log:\n{}",
            self.port,
            START_TIMEOUT.as_secs(),
            self.log()
        );
    }

    /// `eth_chainId` over a plain HTTP/1.1 request, so the readiness probe needs no runtime.
    fn rpc_chain_id(&self) -> Option<u64> {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        let body = r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}"#;
        let req = format!(
            "POST / HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        );
        s.write_all(req.as_bytes()).ok()?;
        let mut resp = String::new();
        s.read_to_string(&mut resp).ok()?;
        // The body, chunked or not: the one JSON object in it.
        let body = resp.split_once("\r\n\r\n")?.1;
        let json = &body[body.find('{')?..=body.rfind('}')?];
        let v: serde_json::Value = serde_json::from_str(json).ok()?;
        let hex = v.get("result")?.as_str()?.strip_prefix("0x")?;
        u64::from_str_radix(hex, 16).ok()
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn chain_id(&self) -> u64 {
        CHAIN_ID
    }

    /// The funded account #0 key, `0x` hex.
    pub fn funded_key(&self) -> &'static str {
        ACCOUNT0_KEY
    }

    /// What the node has printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }
}
