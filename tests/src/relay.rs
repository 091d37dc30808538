//! The real `agentkeys-relay` binary in a temporary data directory.

use crate::process::{wait_until, Managed};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

pub struct RelayProc {
    pub data_dir: PathBuf,
    pub url: String,
    pub proc: Managed,
    env: Vec<(String, String)>,
    log: PathBuf,
}

fn spawn(data_dir: &Path, env: &[(String, String)], log: &Path, listen: &str) -> Managed {
    let _ = std::fs::remove_file(data_dir.join("relay.addr"));
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log file");
    let err = out.try_clone().expect("log file");
    let mut cmd = Command::new(crate::bin("agentkeys-relay"));
    cmd.args(["serve", "--listen", listen, "--data-dir"])
        .arg(data_dir)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .env("RUST_LOG", "info");
    for (k, v) in env {
        cmd.env(k, v);
    }
    Managed::new("agentkeys-relay", cmd.spawn().expect("spawn relay"))
}

fn wait_ready(data_dir: &Path, proc: &mut Managed, log: &Path) -> String {
    let addr_file = data_dir.join("relay.addr");
    let ok = wait_until(Duration::from_secs(30), || {
        addr_file.exists() || !proc.is_running()
    });
    let log_text = || std::fs::read_to_string(log).unwrap_or_default();
    assert!(
        ok && addr_file.exists(),
        "relay did not start:\n{}",
        log_text()
    );
    let addr = std::fs::read_to_string(&addr_file)
        .expect("addr")
        .trim()
        .to_string();
    format!("http://{addr}")
}

impl RelayProc {
    /// Starts a relay with all roles; `env` adds AGENTKEYS_* settings (e.g. S3 mode).
    pub fn start(data_dir: &Path, env: &[(&str, &str)]) -> RelayProc {
        Self::start_on(data_dir, env, "127.0.0.1:0")
    }

    /// The same on a given `listen` address (another relay taking a dead one's port).
    pub fn start_on(data_dir: &Path, env: &[(&str, &str)], listen: &str) -> RelayProc {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        std::fs::create_dir_all(data_dir).expect("data dir");
        let log = data_dir.parent().unwrap_or(data_dir).join(format!(
            "relay-{}.log",
            data_dir.file_name().and_then(|n| n.to_str()).unwrap_or("x")
        ));
        let mut proc = spawn(data_dir, &env, &log, listen);
        let url = wait_ready(data_dir, &mut proc, &log);
        RelayProc {
            data_dir: data_dir.to_path_buf(),
            url,
            proc,
            env,
            log,
        }
    }

    /// Starts again on the same data directory and the same port.
    pub fn restart(&mut self) {
        self.proc.stop(Duration::from_secs(10));
        let listen = self.url.trim_start_matches("http://").to_string();
        self.proc = spawn(&self.data_dir, &self.env, &self.log, &listen);
        self.url = wait_ready(&self.data_dir, &mut self.proc, &self.log);
    }

    /// SIGKILL, then start on the same data directory and port.
    pub fn crash_and_restart(&mut self) {
        self.proc.kill9();
        let listen = self.url.trim_start_matches("http://").to_string();
        self.proc = spawn(&self.data_dir, &self.env, &self.log, &listen);
        self.url = wait_ready(&self.data_dir, &mut self.proc, &self.log);
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}
