//! Headless Debian Chromium driven over the DevTools protocol (CDP), with a virtual WebAuthn
//! authenticator, so end-to-end tests can complete passkey ceremonies served on
//! `http://localhost:<port>` (never `127.0.0.1`: an IP address is not a valid RP ID).
//!
//! Chromium is installed by the README's test command (`scripts/test.sh`, Debian `chromium`);
//! a missing binary fails the test with a message saying how to install it. Each [`Browser`]
//! gets a fresh profile directory and is stopped (its whole process group) when dropped.

use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, Notify};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The browser binary (Debian's `chromium` package puts a launcher on PATH).
pub const CHROMIUM: &str = "chromium";

/// The flags every test browser starts with (ARCHITECTURE.md §12), besides the profile
/// directory and the DevTools port.
pub const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    // Small /dev/shm in containers crashes renderers; Debian's launcher means to add this
    // itself but its size check is broken on some machines.
    "--disable-dev-shm-usage",
];

/// How long Chromium may take to print its DevTools address.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one CDP command may take (an `eval` that awaits a promise included).
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a navigation may take to fire its load event.
const NAVIGATE_TIMEOUT: Duration = Duration::from_secs(30);
/// Chromium's stderr kept for panic messages (the tail, in bytes).
const LOG_LIMIT: usize = 64 * 1024;
/// CDP events kept for inspection (the newest).
const EVENT_LIMIT: usize = 10_000;

/// Why a CDP command failed.
#[derive(Debug, Clone)]
pub enum CdpError {
    /// The browser answered with a protocol error.
    Protocol { code: i64, message: String },
    /// The DevTools connection closed (the browser exited or was stopped).
    Closed,
    /// No answer within the timeout; names the method.
    Timeout(String),
}

impl fmt::Display for CdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CdpError::Protocol { code, message } => write!(f, "CDP error {code}: {message}"),
            CdpError::Closed => write!(f, "the DevTools connection closed"),
            CdpError::Timeout(method) => {
                write!(
                    f,
                    "no answer to {method} within {} s",
                    CALL_TIMEOUT.as_secs()
                )
            }
        }
    }
}

impl std::error::Error for CdpError {}

/// Options of a virtual authenticator (`WebAuthn.addVirtualAuthenticator`); the protocol is
/// always CTAP2 and the transport `internal` (a platform authenticator).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthenticatorOptions {
    /// Supports discoverable (resident) credentials.
    pub has_resident_key: bool,
    /// Supports user verification.
    pub has_user_verification: bool,
    /// User verification succeeds (false: the user "fails" the biometric/PIN check).
    pub is_user_verified: bool,
    /// User presence is simulated (no one taps a key in a headless test).
    pub automatic_presence_simulation: bool,
}

impl Default for AuthenticatorOptions {
    fn default() -> Self {
        AuthenticatorOptions {
            has_resident_key: true,
            has_user_verification: true,
            is_user_verified: true,
            automatic_presence_simulation: true,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What the reader task shares with callers: responses routed by id, events kept in order.
struct Shared {
    pending: Mutex<HashMap<u64, oneshot::Sender<Value>>>,
    events: Mutex<Events>,
    event_added: Notify,
    closed: AtomicBool,
    log: Arc<Mutex<String>>,
}

#[derive(Default)]
struct Events {
    /// Sequence number of `list[0]`.
    first_seq: u64,
    list: VecDeque<Value>,
}

impl Events {
    fn next_seq(&self) -> u64 {
        self.first_seq + self.list.len() as u64
    }
}

/// One DevTools WebSocket connection (the browser endpoint, with flattened page sessions).
#[derive(Clone)]
struct Cdp {
    out: mpsc::UnboundedSender<String>,
    next_id: Arc<AtomicU64>,
    shared: Arc<Shared>,
}

impl Cdp {
    async fn call(
        &self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, CdpError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let (tx, rx) = oneshot::channel();
        lock(&self.shared.pending).insert(id, tx);
        if self.shared.closed.load(Ordering::SeqCst) || self.out.send(msg.to_string()).is_err() {
            lock(&self.shared.pending).remove(&id);
            return Err(CdpError::Closed);
        }
        let resp = match tokio::time::timeout(CALL_TIMEOUT, rx).await {
            Err(_) => {
                lock(&self.shared.pending).remove(&id);
                return Err(CdpError::Timeout(method.to_string()));
            }
            Ok(Err(_)) => return Err(CdpError::Closed),
            Ok(Ok(resp)) => resp,
        };
        if let Some(e) = resp.get("error") {
            return Err(CdpError::Protocol {
                code: e.get("code").and_then(Value::as_i64).unwrap_or(0),
                message: e
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            });
        }
        Ok(resp.get("result").cloned().unwrap_or_else(|| json!({})))
    }

    fn event_seq(&self) -> u64 {
        lock(&self.shared.events).next_seq()
    }

    /// The first event named `method` (of `session`, if given) numbered `from` or later.
    async fn wait_event(
        &self,
        session: Option<&str>,
        method: &str,
        from: u64,
        timeout: Duration,
    ) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.event_added.notified();
            {
                let ev = lock(&self.shared.events);
                let skip = from.saturating_sub(ev.first_seq) as usize;
                let found = ev.list.iter().skip(skip).find(|e| {
                    e.get("method").and_then(Value::as_str) == Some(method)
                        && session
                            .is_none_or(|s| e.get("sessionId").and_then(Value::as_str) == Some(s))
                });
                if let Some(e) = found {
                    return Some(e.clone());
                }
            }
            if self.shared.closed.load(Ordering::SeqCst) {
                return None;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return None;
            }
        }
    }

    fn events(&self, session: Option<&str>, method: &str) -> Vec<Value> {
        lock(&self.shared.events)
            .list
            .iter()
            .filter(|e| {
                e.get("method").and_then(Value::as_str) == Some(method)
                    && session.is_none_or(|s| e.get("sessionId").and_then(Value::as_str) == Some(s))
            })
            .cloned()
            .collect()
    }

    fn log(&self) -> String {
        lock(&self.shared.log).clone()
    }
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

async fn write_loop(mut sink: SplitSink<Ws, Message>, mut rx: mpsc::UnboundedReceiver<String>) {
    while let Some(text) = rx.recv().await {
        if sink.send(Message::text(text)).await.is_err() {
            break;
        }
    }
    let _ = sink.close().await;
}

async fn read_loop(mut stream: SplitStream<Ws>, shared: Arc<Shared>) {
    while let Some(Ok(msg)) = stream.next().await {
        let text = match &msg {
            Message::Text(t) => t.as_str(),
            Message::Close(_) => break,
            _ => continue,
        };
        let Ok(v) = serde_json::from_str::<Value>(text) else {
            continue;
        };
        if let Some(id) = v.get("id").and_then(Value::as_u64) {
            if let Some(tx) = lock(&shared.pending).remove(&id) {
                let _ = tx.send(v);
            }
        } else {
            let mut ev = lock(&shared.events);
            ev.list.push_back(v);
            if ev.list.len() > EVENT_LIMIT {
                ev.list.pop_front();
                ev.first_seq += 1;
            }
            drop(ev);
            shared.event_added.notify_waiters();
        }
    }
    shared.closed.store(true, Ordering::SeqCst);
    // Dropping the senders fails every call still waiting with `Closed`.
    lock(&shared.pending).clear();
    shared.event_added.notify_waiters();
}

/// The Chromium process group, killed when dropped, together with any helper that left the
/// group (Chromium's crashpad handlers start their own sessions).
struct ChromiumProc {
    child: Child,
    /// The run's temporary directory: every Chromium process names it on its command line.
    dir: PathBuf,
}

impl ChromiumProc {
    fn signal_group(&self, sig: nix::sys::signal::Signal) {
        // The child leads its own process group (`process_group(0)`), so its pid is the group
        // id; renderer and zygote processes are in it too.
        let pgid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::killpg(pgid, sig);
    }

    fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for ChromiumProc {
    fn drop(&mut self) {
        // SIGKILL straight away: nothing in the throwaway profile or temp dir needs a clean
        // shutdown.
        self.signal_group(nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Helpers outside the group, and group members not yet dead. (Killed children of the
        // browser are reparented to init, which reaps them; zombies have no command line, so
        // they are not counted.)
        let needle = self.dir.to_string_lossy().into_owned();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let left = live_processes_mentioning(&needle);
            if left.is_empty() || Instant::now() >= deadline {
                break;
            }
            for pid in left {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Live (not zombie) processes whose command line contains `needle`, e.g. a [`Browser`]'s
/// temporary directory. Always empty where there is no `/proc`.
pub fn live_processes_mentioning(needle: &str) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let needle = needle.as_bytes();
    let me = std::process::id() as i32;
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| !needle.is_empty() && c.windows(needle.len()).any(|w| w == needle))
                .unwrap_or(false)
        })
        .collect()
}

/// A running headless Chromium with a DevTools connection; stopped, and its profile removed,
/// when dropped. Must be used inside a Tokio runtime.
pub struct Browser {
    cdp: Cdp,
    tasks: Vec<JoinHandle<()>>,
    // Dropped in this order: the process stops before its directories go.
    proc: ChromiumProc,
    profile: PathBuf,
    _dir: tempfile::TempDir,
    ws_url: String,
}

impl Browser {
    /// Starts Chromium with a fresh profile and connects to its DevTools endpoint. Panics with
    /// the browser's output if it does not come up, and with install instructions if the
    /// `chromium` binary is missing.
    pub async fn start() -> Browser {
        let dir = tempfile::Builder::new()
            .prefix("agentkeys-chromium-")
            .tempdir()
            .expect("temporary directory for chromium");
        let profile = dir.path().join("profile");
        // Chromium's own temp files (e.g. `org.chromium.Chromium.*` singleton sockets) go here
        // too, so removing `dir` leaves nothing behind.
        let tmp = dir.path().join("tmp");
        // Its config, cache and crash-report directories too (it writes under HOME and the XDG
        // directories otherwise, e.g. `~/.config/chromium/Crash Reports`).
        let home = dir.path().join("home");
        for d in [&tmp, &home] {
            std::fs::create_dir_all(d).expect("temporary directory for chromium");
        }
        let mut cmd = Command::new(CHROMIUM);
        cmd.args(CHROMIUM_FLAGS)
            .arg("--remote-debugging-port=0")
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .env("TMPDIR", &tmp)
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
                "`{CHROMIUM}` is not installed ({e}): install Debian's chromium with \
                 `sudo apt-get install -y chromium` (scripts/test.sh, the README's test \
                 command, does it)"
            ),
            Err(e) => panic!("could not start `{CHROMIUM}`: {e}"),
        };
        let stderr = child.stderr.take();
        let mut proc = ChromiumProc {
            child,
            dir: dir.path().to_path_buf(),
        };

        // A thread drains stderr for the whole run (a full pipe would block Chromium), keeps
        // its tail for panic messages and hands over the DevTools address.
        let log = Arc::new(Mutex::new(String::new()));
        let (url_tx, url_rx) = oneshot::channel::<String>();
        if let Some(stderr) = stderr {
            let log = log.clone();
            std::thread::spawn(move || {
                let mut url_tx = Some(url_tx);
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if let Some(url) = line.trim().strip_prefix("DevTools listening on ") {
                        if let Some(tx) = url_tx.take() {
                            let _ = tx.send(url.to_string());
                        }
                    }
                    let mut log = lock(&log);
                    log.push_str(&line);
                    log.push('\n');
                    if log.len() > LOG_LIMIT {
                        let mut cut = log.len() - LOG_LIMIT;
                        while !log.is_char_boundary(cut) {
                            cut += 1;
                        }
                        log.drain(..cut);
                    }
                }
            });
        }
        let ws_url = match tokio::time::timeout(START_TIMEOUT, url_rx).await {
            Ok(Ok(url)) => url,
            Ok(Err(_)) => {
                // stderr closed: Chromium exited.
                let status = proc.exit_status();
                panic!(
                    "chromium exited before printing its DevTools address (status {status:?}); \
                     its output:\n{}",
                    lock(&log)
                );
            }
            Err(_) => panic!(
                "chromium did not print `DevTools listening on ws://...` within {} s; its \
                 output:\n{}",
                START_TIMEOUT.as_secs(),
                lock(&log)
            ),
        };

        let ws = match tokio_tungstenite::connect_async(ws_url.as_str()).await {
            Ok((ws, _)) => ws,
            Err(e) => panic!(
                "could not connect to chromium's DevTools at {ws_url}: {e}; its output:\n{}",
                lock(&log)
            ),
        };
        let (sink, stream) = ws.split();
        let (out, out_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            pending: Mutex::new(HashMap::new()),
            events: Mutex::new(Events::default()),
            event_added: Notify::new(),
            closed: AtomicBool::new(false),
            log,
        });
        let tasks = vec![
            tokio::spawn(write_loop(sink, out_rx)),
            tokio::spawn(read_loop(stream, shared.clone())),
        ];
        let cdp = Cdp {
            out,
            next_id: Arc::new(AtomicU64::new(1)),
            shared,
        };
        Browser {
            cdp,
            tasks,
            proc,
            profile,
            _dir: dir,
            ws_url,
        }
    }

    /// Opens a new tab on `about:blank` and attaches to it (a flattened CDP session).
    pub async fn new_page(&self) -> Page {
        let target = self
            .browser_call("Target.createTarget", json!({ "url": "about:blank" }))
            .await;
        let target_id = target
            .get("targetId")
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("Target.createTarget returned no targetId: {target}"))
            .to_string();
        let attached = self
            .browser_call(
                "Target.attachToTarget",
                json!({ "targetId": target_id, "flatten": true }),
            )
            .await;
        let session_id = attached
            .get("sessionId")
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("Target.attachToTarget returned no sessionId: {attached}"))
            .to_string();
        let page = Page {
            cdp: self.cdp.clone(),
            target_id,
            session_id,
        };
        page.command("Page.enable", json!({})).await;
        page
    }

    /// A browser-level CDP command (no session); errors are returned.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, CdpError> {
        self.cdp.call(None, method, params).await
    }

    async fn browser_call(&self, method: &str, params: Value) -> Value {
        match self.call(method, params).await {
            Ok(v) => v,
            Err(e) => panic!("{method} failed: {e}; chromium's output:\n{}", self.log()),
        }
    }

    /// Chromium's version string (`Browser.getVersion`'s `product`, e.g. `Chrome/…`).
    pub async fn version(&self) -> String {
        let v = self.browser_call("Browser.getVersion", json!({})).await;
        v.get("product")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    }

    /// The tail of what Chromium has printed on stderr.
    pub fn log(&self) -> String {
        self.cdp.log()
    }

    /// The browser-level DevTools WebSocket address.
    pub fn ws_url(&self) -> &str {
        &self.ws_url
    }

    /// The pid of the browser process (also its process group id).
    pub fn pid(&self) -> u32 {
        self.proc.child.id()
    }

    /// The run's temporary directory (profile, HOME, TMPDIR; removed on drop). Every Chromium
    /// process of this browser names it on its command line.
    pub fn dir(&self) -> &Path {
        &self.proc.dir
    }

    /// The temporary profile directory (removed on drop).
    pub fn profile_dir(&self) -> &Path {
        &self.profile
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        // Then `proc` (stops the process group) and `_dir` (removes the profile and temp files).
    }
}

/// One tab, attached through a flattened session of the browser's DevTools connection.
pub struct Page {
    cdp: Cdp,
    target_id: String,
    session_id: String,
}

impl Page {
    /// A CDP command on this page's session; errors are returned.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, CdpError> {
        self.cdp.call(Some(&self.session_id), method, params).await
    }

    /// A CDP command that must succeed (panics with the error and the browser's output).
    pub async fn command(&self, method: &str, params: Value) -> Value {
        match self.call(method, params).await {
            Ok(v) => v,
            Err(e) => panic!(
                "{method} failed: {e}; chromium's output:\n{}",
                self.cdp.log()
            ),
        }
    }

    /// `WebAuthn.enable`, then `WebAuthn.addVirtualAuthenticator` (CTAP2, `internal`
    /// transport); returns the authenticator id.
    pub async fn enable_virtual_authenticator(&self, opts: AuthenticatorOptions) -> String {
        self.command("WebAuthn.enable", json!({})).await;
        let r = self
            .command(
                "WebAuthn.addVirtualAuthenticator",
                json!({ "options": {
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": opts.has_resident_key,
                    "hasUserVerification": opts.has_user_verification,
                    "isUserVerified": opts.is_user_verified,
                    "automaticPresenceSimulation": opts.automatic_presence_simulation,
                } }),
            )
            .await;
        r.get("authenticatorId")
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("WebAuthn.addVirtualAuthenticator returned no id: {r}"))
            .to_string()
    }

    /// The authenticator's credentials (`WebAuthn.getCredentials`): objects with
    /// `credentialId`, `isResidentCredential`, `rpId`, `privateKey` (standard base64 PKCS#8),
    /// `userHandle` (standard base64) and `signCount`.
    pub async fn credentials(&self, authenticator_id: &str) -> Vec<Value> {
        let r = self
            .command(
                "WebAuthn.getCredentials",
                json!({ "authenticatorId": authenticator_id }),
            )
            .await;
        r.get("credentials")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    }

    /// Whether the authenticator's user verification succeeds from now on
    /// (`WebAuthn.setUserVerified`).
    pub async fn set_user_verified(&self, authenticator_id: &str, verified: bool) {
        self.command(
            "WebAuthn.setUserVerified",
            json!({ "authenticatorId": authenticator_id, "isUserVerified": verified }),
        )
        .await;
    }

    /// Navigates to `url` and waits for its load event. Panics if the navigation fails
    /// (e.g. connection refused) or does not load in time.
    pub async fn navigate(&self, url: &str) {
        let from = self.cdp.event_seq();
        let r = self.command("Page.navigate", json!({ "url": url })).await;
        if let Some(err) = r.get("errorText").and_then(Value::as_str) {
            panic!("navigating to {url} failed: {err}");
        }
        let loaded = self
            .cdp
            .wait_event(
                Some(&self.session_id),
                "Page.loadEventFired",
                from,
                NAVIGATE_TIMEOUT,
            )
            .await;
        assert!(
            loaded.is_some(),
            "{url} did not finish loading within {} s; chromium's output:\n{}",
            NAVIGATE_TIMEOUT.as_secs(),
            self.cdp.log()
        );
    }

    /// Evaluates `js` in the page (`Runtime.evaluate`, awaiting a returned promise) and returns
    /// its value as JSON (`null` for `undefined`). A thrown exception or rejected promise is
    /// returned as `Err` with its description.
    pub async fn try_eval(&self, js: &str) -> Result<Value, String> {
        let r = self
            .call(
                "Runtime.evaluate",
                json!({
                    "expression": js,
                    "awaitPromise": true,
                    "returnByValue": true,
                    "userGesture": true,
                }),
            )
            .await
            .map_err(|e| e.to_string())?;
        if let Some(ex) = r.get("exceptionDetails") {
            let described = ex
                .get("exception")
                .and_then(|e| e.get("description").or_else(|| e.get("value")))
                .map(|d| match d {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                });
            return Err(described.unwrap_or_else(|| ex.to_string()));
        }
        Ok(r.get("result")
            .and_then(|res| res.get("value"))
            .cloned()
            .unwrap_or(Value::Null))
    }

    /// Like [`Page::try_eval`], panicking if the script throws or its promise rejects.
    pub async fn eval(&self, js: &str) -> Value {
        match self.try_eval(js).await {
            Ok(v) => v,
            Err(e) => panic!("evaluating `{js}` failed: {e}"),
        }
    }

    /// Polls `js_condition` until it is truthy; panics after `timeout` with the last result.
    pub async fn wait_for(&self, js_condition: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let expr = format!("Boolean({js_condition})");
        let mut last = Ok(Value::Null);
        while Instant::now() < deadline {
            last = self.try_eval(&expr).await;
            if matches!(last, Ok(Value::Bool(true))) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "`{js_condition}` did not become true within {:?} (last result: {last:?})",
            timeout
        );
    }

    /// The CDP events of this page named `method` received so far (up to the newest 10 000
    /// of the connection), e.g. `Runtime.consoleAPICalled` after `Runtime.enable`.
    pub fn events(&self, method: &str) -> Vec<Value> {
        self.cdp.events(Some(&self.session_id), method)
    }

    /// Waits for the next event of this page named `method`.
    pub async fn wait_event(&self, method: &str, timeout: Duration) -> Option<Value> {
        let from = self.cdp.event_seq();
        self.cdp
            .wait_event(Some(&self.session_id), method, from, timeout)
            .await
    }

    /// Closes the tab (`Target.closeTarget`); the browser keeps running.
    pub async fn close(self) {
        let _ = self
            .cdp
            .call(
                None,
                "Target.closeTarget",
                json!({ "targetId": self.target_id }),
            )
            .await;
    }

    pub fn target_id(&self) -> &str {
        &self.target_id
    }

    pub fn session_id(&self) -> &str {
        &self.session_id
    }
}
