//! A whole user stack in one temporary `AGENTKEYS_HOME`: the real `agentkeys` CLI starting the
//! real daemon and embedded relay, isolated from the user's own files and keychain entries.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub struct Stack {
    pub home: tempfile::TempDir,
    /// Added to every command's environment (and so to the daemon `up` starts).
    pub env: Vec<(String, std::ffi::OsString)>,
}

impl Stack {
    pub fn new() -> Stack {
        Stack {
            home: tempfile::Builder::new()
                .prefix("ak")
                .tempdir_in("/tmp")
                .expect("tempdir"),
            env: Vec::new(),
        }
    }

    pub fn with_env(mut self, name: &str, value: impl Into<std::ffi::OsString>) -> Stack {
        self.env.push((name.to_string(), value.into()));
        self
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// `kill -9` of the embedded relay `up` started, as a crash would; returns once it is gone.
    pub fn kill_relay(&self) {
        let pid: i32 = std::fs::read_to_string(self.home().join("state/relay.pid"))
            .expect("relay.pid")
            .trim()
            .parse()
            .expect("a pid");
        let pid = nix::unistd::Pid::from_raw(pid);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).expect("kill the relay");
        assert!(
            crate::process::wait_until(std::time::Duration::from_secs(5), || {
                nix::sys::signal::kill(pid, None).is_err()
            }),
            "the relay outlived SIGKILL"
        );
    }

    pub fn relay_data_dir(&self) -> PathBuf {
        self.home().join("data/relay")
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(crate::bin("agentkeys"));
        cmd.args(args)
            .env("AGENTKEYS_HOME", self.home())
            .env("AGENTKEYS_RELAY_LISTEN", "127.0.0.1:0")
            .env_remove("AGENTKEYS_SOCKET")
            .env_remove("AGENTKEYS_RELAY_URL")
            .env("RUST_LOG", "info");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs the CLI with `stdin` piped in (empty when None).
    pub fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn agentkeys");
        if let Some(mut w) = child.stdin.take() {
            if let Some(data) = stdin {
                let _ = w.write_all(data);
            }
        }
        child.wait_with_output().expect("agentkeys output")
    }

    /// Runs and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str], stdin: Option<&[u8]>) -> String {
        let out = self.run(args, stdin);
        assert!(
            out.status.success(),
            "agentkeys {args:?} failed ({:?}):\nstdout: {}\nstderr: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    }
}

impl Default for Stack {
    fn default() -> Self {
        Stack::new()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self.run(&["down"], None);
    }
}
