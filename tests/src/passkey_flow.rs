//! Driving the CLI's passkey prompts from a test: a `$BROWSER` that records each ceremony URL
//! the daemon opens (instead of opening it), and helpers that run a command while Chromium
//! (with a virtual authenticator) visits the recorded pages.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use std::process::Command;

use crate::browser::Page;
use crate::process::Managed;
use crate::stack::Stack;

/// A `$BROWSER` script and the file it appends URLs to.
pub struct Recorder {
    pub script: PathBuf,
    file: PathBuf,
    seen: usize,
}

impl Recorder {
    pub fn new(dir: &Path, name: &str) -> Recorder {
        let file = dir.join(format!("{name}-urls"));
        let script = dir.join(format!("{name}-browser.sh"));
        std::fs::write(
            &script,
            format!("#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\n", file.display()),
        )
        .expect("write the recorder");
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
            .expect("chmod the recorder");
        Recorder {
            script,
            file,
            seen: 0,
        }
    }

    /// The next URL opened through this recorder (60 s at most).
    pub async fn next(&mut self) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let text = std::fs::read_to_string(&self.file).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            if lines.len() > self.seen {
                self.seen += 1;
                return lines[self.seen - 1].to_string();
            }
            assert!(
                Instant::now() < deadline,
                "no ceremony page was opened via {}",
                self.script.display()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Opens the next recorded page in Chromium.
    pub async fn approve_next(&mut self, page: &Page) {
        let url = self.next().await;
        assert!(
            url.starts_with("http://localhost:") || url.starts_with("http://companion.localhost:"),
            "{url}"
        );
        page.navigate(&url).await;
    }

    /// How many pages were opened so far.
    pub fn opened(&self) -> usize {
        std::fs::read_to_string(&self.file)
            .unwrap_or_default()
            .lines()
            .count()
    }
}

pub fn spawn(s: &Stack, args: &[&str]) -> Child {
    s.command(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn agentkeys")
}

pub async fn finish(child: Child) -> Output {
    tokio::task::spawn_blocking(move || child.wait_with_output().expect("wait"))
        .await
        .expect("join")
}

pub fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub fn ok(out: &Output) -> String {
    assert!(out.status.success(), "{}", text(out));
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Asserts the exit status and that the one error line ends with `(code)`.
pub fn refused(out: &Output, exit: i32, code: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(exit), "{}", text(out));
    assert!(
        err.trim_end().ends_with(&format!("({code})")),
        "{}",
        text(out)
    );
}

/// Runs `args`, approving `pages` ceremony pages opened through `rec` in Chromium.
pub async fn with_passkey(
    s: &Stack,
    page: &Page,
    rec: &mut Recorder,
    args: &[&str],
    pages: usize,
) -> Output {
    let child = spawn(s, args);
    for _ in 0..pages {
        rec.approve_next(page).await;
    }
    finish(child).await
}

/// `agentkeys-daemon serve --companion` in `home`, with its own `$BROWSER`.
pub fn companion(home: &Path, relay_url: &str, browser: &Path) -> Managed {
    daemon(home, relay_url, browser, true)
}

/// A second, primary-role daemon of the same home (the same device key) on `socket`, with
/// more `serve` flags.
pub fn extra_daemon(home: &Path, relay_url: &str, socket: &Path, flags: &[&str]) -> Managed {
    let mut args = vec!["--socket", socket.to_str().expect("socket path")];
    args.extend_from_slice(flags);
    serve(home, relay_url, &args, None, "extra-daemon", socket)
}

/// A daemon in `home` on the relay at `relay_url`, with its own `$BROWSER`; a companion
/// (socket `run/companion.sock`) or a primary (`run/daemon.sock`).
pub fn daemon(home: &Path, relay_url: &str, browser: &Path, companion: bool) -> Managed {
    let name = if companion { "companion" } else { "daemon" };
    let flags: &[&str] = if companion { &["--companion"] } else { &[] };
    let socket = home.join(format!("run/{name}.sock"));
    serve(home, relay_url, flags, Some(browser), name, &socket)
}

/// `agentkeys-daemon serve` in `home`, logging to `<name>.log`, once `socket` exists.
fn serve(
    home: &Path,
    relay_url: &str,
    flags: &[&str],
    browser: Option<&Path>,
    name: &str,
    socket: &Path,
) -> Managed {
    let log_path = home.join(format!("{name}.log"));
    let log = std::fs::File::create(&log_path).expect("daemon log");
    let mut cmd = Command::new(crate::bin("agentkeys-daemon"));
    cmd.args(["serve", "--relay-url", relay_url])
        .args(flags)
        .env("AGENTKEYS_HOME", home)
        .env("RUST_LOG", "info")
        .env_remove("AGENTKEYS_SOCKET")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    if let Some(b) = browser {
        cmd.env("BROWSER", b);
    }
    let managed = Managed::new(name, cmd.spawn().expect("start the daemon"));
    assert!(
        crate::process::wait_until(Duration::from_secs(20), || socket.exists()),
        "the {name} did not start: {}",
        std::fs::read_to_string(&log_path).unwrap_or_default()
    );
    managed
}

/// The page's text once its ceremony is done.
pub async fn page_text_when_done(page: &Page) -> String {
    page.wait_for(
        "document.body.dataset.state === 'done'",
        Duration::from_secs(30),
    )
    .await;
    let text = page.eval("document.body.innerText").await;
    text.as_str().unwrap_or_default().to_string()
}

/// The CLI pointed at a companion's socket, in its home.
pub fn companion_cli(s: &Stack, home: &Path, args: &[&str]) -> Command {
    let mut cmd = s.command(args);
    cmd.env("AGENTKEYS_HOME", home)
        .env("AGENTKEYS_SOCKET", home.join("run/companion.sock"));
    cmd
}

/// The embedded relay's URL, once `up` has started it.
pub fn relay_url(s: &Stack) -> String {
    let addr = std::fs::read_to_string(s.relay_data_dir().join("relay.addr")).expect("relay.addr");
    format!("http://{}", addr.trim())
}

/// `agentkeys companion init` against the companion in `home`, its enrollment page approved
/// in Chromium; the command's output.
pub async fn companion_init(s: &Stack, home: &Path, rec: &mut Recorder, page: &Page) -> Output {
    let child = companion_cli(s, home, &["companion", "init"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn agentkeys companion init");
    rec.approve_next(page).await;
    finish(child).await
}

/// `agentkeys companion whoami --json` of the companion in `home`: its raw JSON.
pub fn companion_whoami(s: &Stack, home: &Path) -> String {
    let out = companion_cli(s, home, &["companion", "whoami", "--json"])
        .output()
        .expect("run agentkeys companion whoami");
    ok(&out)
}
