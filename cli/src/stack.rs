//! Process management for `agentkeys up` and `down`: finding the binaries, starting them
//! detached with their output in a log file, pid files, and stopping them safely.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use agentkeys_core::wire::MAX_BODY_BYTES;
use bytes::Bytes;
use http::Method;
use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio::net::TcpStream;

use crate::http1;

pub const RELAY_BIN: &str = "agentkeys-relay";
pub const DAEMON_BIN: &str = "agentkeys-daemon";
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The binary beside the running `agentkeys` (one build or release folder stays
/// consistent), else the first executable one in an absolute PATH entry.
pub fn find_binary(name: &str) -> Option<PathBuf> {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(name)));
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    let on_path = std::env::split_paths(&path_var)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(name));
    beside.into_iter().chain(on_path).find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

pub fn private_dir(dir: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

fn open_log(path: &Path) -> io::Result<File> {
    if let Some(dir) = path.parent() {
        private_dir(dir)?;
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
}

/// Starts `bin args` in its own session (so closing the terminal does not stop it), stdin
/// from /dev/null, stdout and stderr appended to `log`.
pub fn spawn_detached(bin: &Path, args: &[&std::ffi::OsStr], log: &Path) -> io::Result<Child> {
    let out = open_log(log)?;
    let err = out.try_clone()?;
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err));
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent, which is all
    // that is allowed between fork and exec.
    unsafe {
        cmd.pre_exec(|| nix::unistd::setsid().map(|_| ()).map_err(io::Error::from));
    }
    cmd.spawn()
}

pub fn write_pid(path: &Path, pid: u32) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        private_dir(dir)?;
    }
    std::fs::write(path, format!("{pid}\n"))
}

pub fn read_pid(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path)
        .ok()?
        .trim()
        .parse::<i32>()
        .ok()
        .filter(|pid| *pid > 1)
}

pub fn remove_file_quietly(path: &Path) {
    let _ = std::fs::remove_file(path);
}

fn is_alive(pid: i32) -> bool {
    // EPERM: it exists but belongs to someone else.
    matches!(kill(Pid::from_raw(pid), None), Ok(()) | Err(Errno::EPERM))
}

/// Whether `pid` runs as this process's effective user (Linux: the owner of `/proc/PID`;
/// elsewhere, that it can be signalled without EPERM, which for a non-root user means the
/// same uid).
pub fn owned_by_us(pid: i32) -> bool {
    use std::os::unix::fs::MetadataExt;
    match std::fs::metadata(format!("/proc/{pid}")) {
        Ok(m) => m.uid() == nix::unistd::geteuid().as_raw(),
        Err(_) => kill(Pid::from_raw(pid), None).is_ok(),
    }
}

/// The process's executable name, to make sure a pid file's pid was not reused by an
/// unrelated process before signalling it.
fn process_name(pid: i32) -> Option<String> {
    if let Ok(comm) = std::fs::read_to_string(format!("/proc/{pid}/comm")) {
        return Some(comm.trim_end().to_string());
    }
    let out = Command::new("ps")
        .args(["-p", &pid.to_string(), "-o", "comm="])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let base = Path::new(&text).file_name()?.to_string_lossy().to_string();
    Some(base)
}

/// Linux cuts `comm` to 15 bytes ("agentkeys-daemon" shows as "agentkeys-daemo").
fn name_matches(actual: &str, expected: &str) -> bool {
    let cut = &expected[..expected.len().min(15)];
    actual == expected || actual == cut
}

/// The pid in `pid_file` if it is alive and is `bin`.
pub fn running_pid(pid_file: &Path, bin: &str) -> Option<i32> {
    let pid = read_pid(pid_file)?;
    let name = process_name(pid)?;
    (is_alive(pid) && name_matches(&name, bin)).then_some(pid)
}

pub enum Stopped {
    Terminated,
    Killed,
}

/// SIGTERM, then wait for the process to go; SIGKILL if it outlives `grace`.
pub async fn stop(pid: i32, grace: Duration) -> io::Result<Stopped> {
    let target = Pid::from_raw(pid);
    match kill(target, Signal::SIGTERM) {
        Ok(()) => {}
        Err(Errno::ESRCH) => return Ok(Stopped::Terminated),
        Err(e) => return Err(io::Error::from(e)),
    }
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if !is_alive(pid) {
            return Ok(Stopped::Terminated);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    match kill(target, Signal::SIGKILL) {
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(e) => return Err(io::Error::from(e)),
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    Ok(Stopped::Killed)
}

/// `host:port` of an `http://host:port[/...]` URL; `None` for anything else.
pub fn http_authority(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("http://")?;
    let authority = rest.split('/').next()?;
    (!authority.is_empty()).then_some(authority)
}

/// GET `path` on the relay at `authority`; the status and body, or `None` when nothing
/// answers in time.
pub async fn relay_get(authority: &str, path: &str) -> Option<http1::Reply> {
    let work = async {
        let stream = TcpStream::connect(authority).await.ok()?;
        http1::exchange(
            stream,
            Method::GET,
            authority,
            path,
            Bytes::new(),
            &[],
            MAX_BODY_BYTES,
        )
        .await
        .ok()
    };
    tokio::time::timeout(PROBE_TIMEOUT, work)
        .await
        .ok()
        .flatten()
}

pub async fn relay_is_healthy(authority: &str) -> bool {
    relay_get(authority, agentkeys_core::routes::HEALTHZ)
        .await
        .is_some_and(|r| r.status == 200)
}

/// The embedded relay's address from `relay.addr`, trusted only while the relay process
/// recorded in `relay.pid` is alive, is the relay binary and runs as this user: after a crash
/// the port may belong to anyone on the machine, so a stale file is removed, not followed.
pub fn own_relay_addr(paths: &agentkeys_core::paths::Paths) -> Option<String> {
    if running_pid(&paths.relay_pid(), RELAY_BIN).is_none_or(|pid| !owned_by_us(pid)) {
        remove_file_quietly(&paths.relay_addr_file());
        return None;
    }
    read_relay_addr(&paths.relay_addr_file())
}

/// The address the embedded relay wrote once it was listening.
pub fn read_relay_addr(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let addr = text.trim();
    (!addr.is_empty()).then(|| addr.to_string())
}

/// The last non-empty line of a log, shortened, to say why a component did not start.
pub fn last_log_line(path: &Path) -> Option<String> {
    let text = std::fs::read(path).ok()?;
    let tail = &text[text.len().saturating_sub(4096)..];
    let line = String::from_utf8_lossy(tail)
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())?
        .trim()
        .to_string();
    Some(line.chars().take(300).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comm_names_are_compared_with_the_kernel_cut() {
        assert!(name_matches("agentkeys-daemo", DAEMON_BIN));
        assert!(name_matches("agentkeys-daemon", DAEMON_BIN));
        assert!(name_matches("agentkeys-relay", RELAY_BIN));
        assert!(!name_matches("bash", RELAY_BIN));
        assert!(!name_matches("agentkeys-rela", RELAY_BIN));
    }

    #[test]
    fn authorities() {
        assert_eq!(
            http_authority("http://127.0.0.1:8787"),
            Some("127.0.0.1:8787")
        );
        assert_eq!(http_authority("http://h:1/x"), Some("h:1"));
        assert_eq!(http_authority("https://h:1"), None);
        assert_eq!(http_authority("http://"), None);
    }

    #[test]
    fn our_own_pid_is_recognised_and_a_dead_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x.pid");
        write_pid(&file, std::process::id()).unwrap();
        let me = process_name(std::process::id() as i32).unwrap();
        assert!(running_pid(&file, &me).is_some());
        assert!(running_pid(&file, RELAY_BIN).is_none());
        std::fs::write(&file, "999999999\n").unwrap();
        assert!(running_pid(&file, &me).is_none());
        std::fs::write(&file, "garbage").unwrap();
        assert_eq!(read_pid(&file), None);
    }

    #[test]
    fn last_log_line_skips_blank_lines() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("x.log");
        std::fs::write(&log, "first\nsecond: why\n\n").unwrap();
        assert_eq!(last_log_line(&log).as_deref(), Some("second: why"));
    }
}
