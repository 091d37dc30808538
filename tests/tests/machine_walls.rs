//! Another user on the same machine, and a `run` that dies without cleaning up.
//!
//! The attacker runs as `nobody` (through `setpriv`); the victim is the test's own user, root
//! in CI, since only root can start a process as another uid. Running the victim as root is
//! the harder case for the checks: root may open, follow and chmod anything, so every refusal
//! below comes from the checks themselves, not from the kernel's permissions. The tests that
//! need a second uid fail when not run as root (the README says how to leave them out).
//!
//! - The per-uid runtime fallback pre-created by the attacker, or a link planted at it (to the
//!   attacker's folder or to one of the victim's own): the CLI and the daemon refuse with
//!   `runtime_dir_insecure`, no link target changes mode, and the attacker's fake
//!   `daemon.sock` receives nothing, not even a connection.
//! - A daemon socket whose listener runs as another uid: the CLI refuses with
//!   `daemon_peer_foreign` and sends it nothing.
//! - `kill -9` of `agentkeys run`: the child's token is refused (`agent_token_invalid`) within
//!   a second, while the child itself still runs.
//! - The embedded relay killed, and its port taken by another uid answering `/healthz`: `up`
//!   drops the stale address instead of adopting the listener, and no value reaches it.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use agentkeys_tests::browser::{AuthenticatorOptions, Browser};
use agentkeys_tests::passkey_flow::{finish, ok, refused, spawn, text, with_passkey, Recorder};
use agentkeys_tests::process::{wait_until, Managed};
use agentkeys_tests::stack::Stack;

const NOBODY: u32 = 65534;
const SECRET: &[u8] = b"sk-victim-value-4242";

/// A fake daemon: listens on a Unix socket and appends `connect` per connection, then every
/// byte received, to a log. Started as root with `drop`, it binds as root and listens as
/// nobody, so the socket sits in a folder of the victim's while its peer is another uid.
const SQUATTER: &str = r#"
import os, socket, sys
path, log_path, flags = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
if "mkdir" in flags:
    os.mkdir(os.path.dirname(path))
    os.chmod(os.path.dirname(path), 0o777)
log = open(log_path, "ab", buffering=0)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
os.chmod(path, 0o777)
if "drop" in flags:
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)
s.listen(16)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    log.write(b"connect\n")
    c.settimeout(2)
    try:
        while True:
            data = c.recv(65536)
            if not data:
                break
            log.write(data)
    except OSError:
        pass
    c.close()
"#;

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// A Python the other uid can run: a per-user install (pyenv under root's home) is out of
/// its reach, so only system-wide ones are tried.
fn system_python() -> &'static str {
    ["/usr/bin/python3", "/usr/local/bin/python3"]
        .into_iter()
        .find(|p| {
            as_nobody(p)
                .args(["-c", "pass"])
                .status()
                .is_ok_and(|s| s.success())
        })
        .expect("a system-wide python3 that nobody can run, for the attacker's listener")
}

/// Numeric ids: the group is `nogroup` on Debian and `nobody` elsewhere.
fn as_nobody(program: &str) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--",
        program,
    ]);
    cmd
}

/// Starts the fake daemon (as nobody unless `drop`, which starts it as root) and waits until
/// it listens.
fn squatter(socket: &Path, log: &Path, flags: &str) -> Managed {
    let mut cmd = if flags.contains("drop") {
        Command::new(system_python())
    } else {
        as_nobody(system_python())
    };
    let mut child = cmd
        .args(["-c", SQUATTER])
        .arg(socket)
        .arg(log)
        .arg(flags)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the squatter");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the squatter's first line");
    assert_eq!(line.trim(), "ready", "the squatter did not start");
    Managed::new("squatter", child)
}

fn received(log: &Path) -> Vec<u8> {
    std::fs::read(log).unwrap_or_default()
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).expect("stat").mode() & 0o7777
}

/// The victim's CLI and daemon without a session runtime directory (as under `su`, cron or
/// ssh without pam_systemd), so the socket folder is the per-uid fallback in `TMPDIR`.
struct Victim {
    home: PathBuf,
    tmpdir: PathBuf,
}

impl Victim {
    fn env(&self, cmd: &mut Command) {
        cmd.env("HOME", &self.home)
            .env("TMPDIR", &self.tmpdir)
            .env("AGENTKEYS_RELAY_LISTEN", "127.0.0.1:0")
            .env("RUST_LOG", "info");
        for name in [
            "AGENTKEYS_HOME",
            "AGENTKEYS_SOCKET",
            "AGENTKEYS_RELAY_URL",
            "XDG_RUNTIME_DIR",
            "XDG_CONFIG_HOME",
            "XDG_DATA_HOME",
            "XDG_STATE_HOME",
        ] {
            cmd.env_remove(name);
        }
    }

    fn fallback(&self) -> PathBuf {
        self.tmpdir
            .join(format!("agentkeys-{}", nix::unistd::geteuid().as_raw()))
    }

    fn cli(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut cmd = Command::new(agentkeys_tests::bin("agentkeys"));
        cmd.args(args);
        self.env(&mut cmd);
        run(cmd, stdin)
    }

    /// `agentkeys-daemon serve` in the foreground; it must refuse, so it returns.
    fn daemon(&self) -> Output {
        let mut cmd = Command::new(agentkeys_tests::bin("agentkeys-daemon"));
        cmd.args(["serve", "--relay-url", "http://127.0.0.1:9"]);
        self.env(&mut cmd);
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the daemon");
        let started = Instant::now();
        while child.try_wait().expect("wait").is_none() {
            if started.elapsed() > Duration::from_secs(20) {
                let _ = child.kill();
                let out = child.wait_with_output().expect("output");
                panic!("the daemon did not refuse: {}", text(&out));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        child.wait_with_output().expect("output")
    }
}

impl Drop for Victim {
    fn drop(&mut self) {
        let _ = self.cli(&["down"], None);
    }
}

fn run(mut cmd: Command, stdin: Option<&[u8]>) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    if let (Some(data), Some(mut w)) = (stdin, child.stdin.take()) {
        let _ = w.write_all(data);
    }
    child.wait_with_output().expect("output")
}

fn daemon_refused(out: &Output, why: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{}", text(out));
    assert!(err.contains("(runtime_dir_insecure)"), "{}", text(out));
    assert!(err.contains(why), "{}", text(out));
}

fn cli_refused(out: &Output, path: &Path, why: &str) {
    refused(out, 6, "runtime_dir_insecure");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&path.display().to_string()), "{}", text(out));
    assert!(err.contains(why), "{}", text(out));
}

#[test]
fn a_squatted_runtime_fallback_is_refused_and_gets_nothing() {
    assert!(
        is_root(),
        "starting the attacker as another uid needs root (README: tests as another user)"
    );
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    // A temp folder every user may write to, like /tmp.
    let shared = tmp.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir(&home).unwrap();
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
    let victim = Victim {
        home: home.clone(),
        tmpdir: shared.clone(),
    };
    let fallback = victim.fallback();

    // 1. The attacker makes the victim's fallback folder first, world-writable, with a fake
    //    daemon socket in it.
    let log = shared.join("squat-folder.log");
    let mut fake = squatter(&fallback.join("daemon.sock"), &log, "mkdir");
    assert_eq!(std::fs::metadata(&fallback).unwrap().uid(), NOBODY);
    let owner = format!("belongs to uid {NOBODY}");
    cli_refused(
        &victim.cli(&["store", "openrouter"], Some(SECRET)),
        &fallback,
        &owner,
    );
    cli_refused(
        &victim.cli(&["read", "openrouter"], None),
        &fallback,
        &owner,
    );
    cli_refused(&victim.cli(&["status"], None), &fallback, &owner);
    // `up` refuses before it starts anything.
    cli_refused(&victim.cli(&["up"], None), &fallback, &owner);
    assert!(!home
        .join(".local/share/agentkeys/relay/relay.addr")
        .exists());
    daemon_refused(&victim.daemon(), &owner);
    assert_eq!(received(&log), b"", "the fake socket was reached");
    assert_eq!(mode(&fallback), 0o777);
    fake.stop(Duration::from_secs(5));
    std::fs::remove_dir_all(&fallback).unwrap();

    // 2. A link at the fallback to the attacker's own folder with a fake socket.
    let theirs = shared.join("attacker");
    let log = shared.join("squat-link.log");
    let mut fake = squatter(&theirs.join("daemon.sock"), &log, "mkdir");
    let ln = as_nobody("ln")
        .arg("-s")
        .arg(&theirs)
        .arg(&fallback)
        .status()
        .unwrap();
    assert!(ln.success());
    let link = "is a symbolic link";
    cli_refused(
        &victim.cli(&["store", "openrouter"], Some(SECRET)),
        &fallback,
        link,
    );
    cli_refused(&victim.cli(&["up"], None), &fallback, link);
    daemon_refused(&victim.daemon(), link);
    assert_eq!(received(&log), b"", "the fake socket was reached");
    assert_eq!(mode(&theirs), 0o777);
    fake.stop(Duration::from_secs(5));

    // 3. The link repointed at a folder of the victim's own: the daemon neither tightens it
    //    nor puts a socket or anything else in it.
    let own = home.join("projects");
    std::fs::create_dir(&own).unwrap();
    std::fs::set_permissions(&own, std::fs::Permissions::from_mode(0o755)).unwrap();
    let relink = as_nobody("ln")
        .arg("-sfn")
        .arg(&own)
        .arg(&fallback)
        .status()
        .unwrap();
    assert!(relink.success());
    daemon_refused(&victim.daemon(), link);
    cli_refused(&victim.cli(&["up"], None), &fallback, link);
    assert_eq!(mode(&own), 0o755);
    assert_eq!(std::fs::read_dir(&own).unwrap().count(), 0);

    // Without the squatter the same setup works: the daemon makes the folder itself, private.
    std::fs::remove_file(&fallback).unwrap();
    let up = victim.cli(&["up"], None);
    ok(&up);
    let meta = std::fs::symlink_metadata(&fallback).unwrap();
    assert!(meta.is_dir());
    assert_eq!((meta.uid(), meta.mode() & 0o7777), (0, 0o700));
    assert!(fallback.join("daemon.sock").exists());
    ok(&victim.cli(&["status"], None));
}

#[test]
fn a_daemon_socket_of_another_uid_gets_nothing() {
    assert!(
        is_root(),
        "a listener of another uid needs root (README: tests as another user)"
    );
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let home = tmp.path().join("home");
    // The folder is the victim's own and private; only the listener is someone else's.
    let run_dir = home.join("run");
    std::fs::create_dir_all(&run_dir).unwrap();
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::set_permissions(&run_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let socket = run_dir.join("daemon.sock");
    let log = tmp.path().join("peer.log");
    let _fake = squatter(&socket, &log, "drop");

    let cli = |args: &[&str], stdin: Option<&[u8]>| {
        let mut cmd = Command::new(agentkeys_tests::bin("agentkeys"));
        cmd.args(args)
            .env("AGENTKEYS_HOME", &home)
            .env_remove("AGENTKEYS_SOCKET")
            .env_remove("AGENTKEYS_RELAY_URL");
        run(cmd, stdin)
    };
    for (connections, (args, stdin)) in [
        (&["store", "openrouter"][..], Some(SECRET)),
        (&["read", "openrouter"][..], None),
        (&["status"][..], None),
    ]
    .into_iter()
    .enumerate()
    {
        let out = cli(args, stdin);
        refused(&out, 6, "daemon_peer_foreign");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&format!("runs as uid {NOBODY}")), "{err}");
        assert!(
            err.contains(&socket.display().to_string()),
            "{}",
            text(&out)
        );
        // It connected (that is how it learns the peer) and sent nothing.
        assert!(
            wait_until(Duration::from_secs(5), || received(&log)
                == b"connect\n".repeat(connections + 1)),
            "the foreign listener got {:?}",
            String::from_utf8_lossy(&received(&log))
        );
    }
    // The same socket path named explicitly is refused the same way.
    let mut cmd = Command::new(agentkeys_tests::bin("agentkeys"));
    cmd.args(["store", "openrouter"])
        .env("AGENTKEYS_HOME", tmp.path().join("other-home"))
        .env("AGENTKEYS_SOCKET", &socket);
    refused(&run(cmd, Some(SECRET)), 6, "daemon_peer_foreign");
    assert!(!received(&log).windows(SECRET.len()).any(|w| w == SECRET));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_run_takes_its_childs_token_with_it() {
    // Creating an agent needs SCOPE_MGMT, so the master enrolls a passkey in Chromium.
    let tmp = tempfile::tempdir().unwrap();
    let mut urls = Recorder::new(tmp.path(), "primary");
    let s = Stack::new().with_env("BROWSER", &urls.script);
    s.ok(&["up"], None);
    let browser = Browser::start().await;
    let page = browser.new_page().await;
    page.enable_virtual_authenticator(AuthenticatorOptions::default())
        .await;
    ok(&with_passkey(&s, &page, &mut urls, &["init"], 2).await);
    s.ok(&["agent", "create", "coder"], None);

    // The child writes its token and pid where the test can read them, then sleeps on.
    let out_file = tmp.path().join("child");
    let script = format!(
        "printf '%s %s\\n' \"$AGENTKEYS_AGENT_TOKEN\" \"$$\" > '{0}.tmp' && mv '{0}.tmp' '{0}'; \
         exec sleep 60",
        out_file.display()
    );
    let run = s
        .command(&["run", "--agent", "coder", "--", "sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut run = Managed::new("run", run);
    assert!(wait_until(Duration::from_secs(30), || out_file.exists()));
    let line = std::fs::read_to_string(&out_file).unwrap();
    let (token, child_pid) = line.trim().split_once(' ').unwrap();
    let child = nix::unistd::Pid::from_raw(child_pid.parse().unwrap());
    assert!(token.starts_with("akt_"), "{line}");

    // The same calls the child would make, with its token.
    let as_child = |args: &[&str]| {
        s.command(args)
            .env("AGENTKEYS_AGENT", "coder")
            .env("AGENTKEYS_AGENT_TOKEN", token)
            .output()
            .unwrap()
    };
    ok(&as_child(&["list"]));
    ok(&as_child(&["aws", "env"]));

    // SIGKILL, and no reaping yet: `run` is a zombie, as under a parent that is slow to wait.
    run.signal(nix::sys::signal::Signal::SIGKILL);
    let killed = Instant::now();
    let mut out = as_child(&["list"]);
    while out.status.success() && killed.elapsed() < Duration::from_secs(5) {
        out = as_child(&["list"]);
    }
    let dead_after = killed.elapsed();
    refused(&out, 6, "agent_token_invalid");
    assert!(
        dead_after < Duration::from_secs(1),
        "the token outlived its run by {dead_after:?}"
    );
    eprintln!("the token was refused {dead_after:?} after kill -9 of run");
    // The child itself lives on; only its token is gone.
    assert!(nix::sys::signal::kill(child, None).is_ok());
    refused(&as_child(&["aws", "env"]), 6, "agent_token_invalid");
    refused(&as_child(&["read", "openrouter"]), 6, "agent_token_invalid");
    run.kill9();
    refused(&as_child(&["list"]), 6, "agent_token_invalid");
    let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
}

/// A fake relay: answers `/healthz` like the embedded relay and logs every request it gets.
const FAKE_RELAY: &str = r#"
import http.server, sys
port, log_path = int(sys.argv[1]), sys.argv[2]
log = open(log_path, "ab", buffering=0)
class H(http.server.BaseHTTPRequestHandler):
    def handle_one_request(self):
        super().handle_one_request()
    def do_GET(self):
        log.write(("GET %s\n" % self.path).encode())
        body = b'{"status":"ok"}'
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_POST(self):
        n = int(self.headers.get("content-length") or 0)
        log.write(("POST %s\n" % self.path).encode() + self.rfile.read(n) + b"\n")
        self.send_response(404)
        self.send_header("content-length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
srv = http.server.HTTPServer(("127.0.0.1", port), H)
print("ready", flush=True)
srv.serve_forever()
"#;

/// After a crash of the embedded relay, another user binds its port first: `up` does not take
/// that listener for the relay (the recorded relay process is dead, so its address file is
/// dropped), and no value reaches it.
#[test]
fn a_squatter_on_the_relays_port_after_a_crash_is_not_the_relay() {
    assert!(
        is_root(),
        "starting the attacker as another uid needs root (README: tests as another user)"
    );
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let s = Stack::new().with_env("AGENTKEYS_RELAY_LISTEN", format!("127.0.0.1:{port}"));
    s.ok(&["up"], None);
    s.ok(&["init", "--no-passkey"], None);
    s.ok(&["store", "openrouter"], Some(SECRET));

    // The relay dies hard: its address file stays behind.
    s.kill_relay();
    let addr_file = s.relay_data_dir().join("relay.addr");
    assert!(addr_file.exists());

    // Another user takes the port, answering /healthz as the relay would.
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let log = tmp.path().join("fake-relay.log");
    let mut child = as_nobody(system_python())
        .args(["-c", FAKE_RELAY])
        .arg(port.to_string())
        .arg(&log)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the fake relay");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the fake relay's first line");
    assert_eq!(line.trim(), "ready");
    let _fake = Managed::new("fake-relay", child);

    // `up` does not adopt it: the stale address is dropped and a new relay cannot bind.
    let out = s.run(&["up"], None);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("already running"),
        "{}",
        text(&out)
    );
    assert!(!addr_file.exists());
    // Whatever the daemon still tries, the value never reaches the other user.
    let _ = s.run(&["read", "openrouter"], None);
    let _ = s.run(&["store", "anthropic"], Some(SECRET));
    let seen = std::fs::read(&log).unwrap_or_default();
    assert!(
        !seen.windows(SECRET.len()).any(|w| w == SECRET),
        "{}",
        String::from_utf8_lossy(&seen)
    );
    s.run(&["down"], None);
    // Nor does `status` take a stale address file for the relay once nothing of ours runs.
    std::fs::write(&addr_file, format!("127.0.0.1:{port}\n")).unwrap();
    // (exit 3: no daemon runs)
    let out = s.run(&["status", "--json"], None);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(status["relay"].is_null(), "{status}");
    assert!(!addr_file.exists());
}

/// The keychain forgets the device key (keyutils does at every reboot): every command says so,
/// naming the device, and `init` makes a new identity only when told `--new-identity`.
#[test]
fn a_lost_device_key_is_said_plainly_and_never_silently_replaced() {
    let s = Stack::new().with_env("AGENTKEYS_KEYCHAIN", "file");
    s.ok(&["up"], None);
    let init = s.ok(&["init", "--no-passkey"], None);
    s.ok(&["store", "openrouter"], Some(SECRET));
    s.ok(&["down"], None);
    let device_dir = s.home().join("data/device");
    for entry in std::fs::read_dir(&device_dir).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    s.ok(&["up"], None);

    for args in [&["read", "openrouter"][..], &["init", "--no-passkey"][..]] {
        let out = s.run(args, None);
        refused(&out, 8, "device_key_lost");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--new-identity"), "{}", text(&out));
        let address = init
            .split_whitespace()
            .find(|w| w.starts_with("0x") && w.len() == 42)
            .unwrap_or_else(|| panic!("no device address in {init}"));
        assert!(err.contains(address), "{}", text(&out));
    }
    // Told to, init makes another device; the old one's secret is not its own.
    let again = s.ok(&["init", "--no-passkey", "--new-identity"], None);
    assert_ne!(again, init);
    refused(&s.run(&["read", "openrouter"], None), 5, "secret_not_found");
    s.run(&["down"], None);
}

/// Another user who learns a ceremony's URL (a browser's argv is readable in `/proc`) and
/// opens it first is cut off before a byte is read: it neither completes nor spoils the
/// ceremony, which the user's own browser then completes.
#[tokio::test(flavor = "multi_thread")]
async fn another_user_cannot_complete_or_disrupt_a_ceremony() {
    assert!(
        is_root(),
        "starting the attacker as another uid needs root (README: tests as another user)"
    );
    let tmp = tempfile::tempdir().unwrap();
    let mut urls = Recorder::new(tmp.path(), "primary");
    let s = Stack::new().with_env("BROWSER", &urls.script);
    s.ok(&["up"], None);
    let child = spawn(&s, &["init"]);
    let url = urls.next().await;
    const RACER: &str = "import sys, urllib.request\n\
        try:\n    urllib.request.urlopen(sys.argv[1], timeout=5).read()\n    print('served')\n\
        except Exception as e:\n    print('refused', type(e).__name__)\n";
    let out = as_nobody(system_python())
        .args(["-c", RACER])
        .arg(&url)
        .output()
        .expect("run the racing client");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.starts_with("refused"), "{said}");

    let browser = Browser::start().await;
    let page = browser.new_page().await;
    page.enable_virtual_authenticator(AuthenticatorOptions::default())
        .await;
    page.navigate(&url).await;
    urls.approve_next(&page).await;
    let init = ok(&finish(child).await);
    assert!(
        init.contains("registered on chain as the first master"),
        "{init}"
    );
    page.close().await;
    drop(browser);
    s.run(&["down"], None);
}
