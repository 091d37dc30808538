//! `agentkeys up` and `agentkeys down`: the embedded relay and the daemon as background
//! processes of this user. Both commands are idempotent.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use agentkeys_core::error::ErrorCode;
use agentkeys_core::paths::Paths;
use agentkeys_core::routes;
use agentkeys_core::wire::{DaemonStatus, ShutdownResponse};

use crate::daemon_client::{resolve_paths, DaemonClient, PROBE_TIMEOUT};
use crate::error::CliError;
use crate::output;
use crate::stack::{self, Stopped, DAEMON_BIN, RELAY_BIN};

pub const ENV_RELAY_LISTEN: &str = "AGENTKEYS_RELAY_LISTEN";
const DEFAULT_RELAY_LISTEN: &str = "127.0.0.1:8787";
const RELAY_START_TIMEOUT: Duration = Duration::from_secs(30);
const DAEMON_START_TIMEOUT: Duration = Duration::from_secs(15);
const STOP_GRACE: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(100);

pub async fn up() -> Result<i32, CliError> {
    let paths = resolve_paths()?;
    let client = DaemonClient::new(paths.socket()).with_timeout(PROBE_TIMEOUT);
    // Before anything starts: a planted runtime folder would only make the daemon refuse.
    client.refuse_insecure_folder()?;
    let (relay_url, relay_started) = ensure_relay(&paths).await?;
    output::line(&format!(
        "relay: running at {relay_url} ({})",
        started_word(relay_started)
    ))?;
    let daemon = match ensure_daemon(&paths, &client, &relay_url).await? {
        DaemonStart::Reused => "already running",
        DaemonStart::Started => "started",
        DaemonStart::Restarted => "restarted for the new relay address",
    };
    output::line(&format!(
        "daemon: running at {} ({daemon})",
        client.socket().display()
    ))?;
    Ok(0)
}

fn started_word(started: bool) -> &'static str {
    if started {
        "started"
    } else {
        "already running"
    }
}

async fn healthy_relay_url(paths: &Paths) -> Option<String> {
    let addr = stack::own_relay_addr(paths)?;
    stack::relay_is_healthy(&addr)
        .await
        .then(|| format!("http://{addr}"))
}

/// Returns the relay's URL and whether this call started it.
async fn ensure_relay(paths: &Paths) -> Result<(String, bool), CliError> {
    if let Some(url) = healthy_relay_url(paths).await {
        return Ok((url, false));
    }
    let log = paths.relay_log();
    let pid_file = paths.relay_pid();
    if stack::running_pid(&pid_file, RELAY_BIN).is_some() {
        // Alive but not answering: still starting, or stopping. Wait for the one or the
        // other instead of starting a second relay on the same data folder.
        let still_running = || stack::running_pid(&pid_file, RELAY_BIN).is_some();
        match wait_for(RELAY_START_TIMEOUT, still_running, || {
            healthy_relay_url(paths)
        })
        .await
        {
            Ok(url) => return Ok((url, false)),
            Err(Wait::Exited) => {}
            Err(Wait::TimedOut) => {
                return Err(relay_failed(
                    "a relay process is running but does not answer /healthz",
                    &log,
                ))
            }
        }
    }
    // Left by an earlier run: it would point the wait below at a dead address.
    stack::remove_file_quietly(&paths.relay_addr_file());
    let bin = find(RELAY_BIN)?;
    let listen =
        std::env::var(ENV_RELAY_LISTEN).unwrap_or_else(|_| DEFAULT_RELAY_LISTEN.to_string());
    let data_dir = paths.relay_data_dir();
    stack::private_dir(&data_dir).map_err(|e| io_failure(&data_dir, &e))?;
    let args = [
        OsStr::new("serve"),
        OsStr::new("--data-dir"),
        data_dir.as_os_str(),
        OsStr::new("--listen"),
        OsStr::new(&listen),
    ];
    let mut child = stack::spawn_detached(&bin, &args, &log).map_err(|e| io_failure(&bin, &e))?;
    stack::write_pid(&pid_file, child.id()).map_err(|e| io_failure(&pid_file, &e))?;
    let url = wait_for(RELAY_START_TIMEOUT, child_alive(&mut child), || {
        healthy_relay_url(paths)
    })
    .await
    .map_err(|w| relay_failed(&w.to_string(), &log))?;
    Ok((url, true))
}

async fn ensure_daemon(
    paths: &Paths,
    client: &DaemonClient,
    relay_url: &str,
) -> Result<DaemonStart, CliError> {
    if let Ok(status) = client.get::<DaemonStatus>(routes::daemon::STATUS).await {
        if status.relay_url == relay_url {
            return Ok(DaemonStart::Reused);
        }
        // A relay restarted on another port (listen port 0) leaves the daemon pointing at
        // nothing; a daemon we started can simply be restarted on the new address.
        let old_relay_dead = match stack::http_authority(&status.relay_url) {
            Some(authority) => !stack::relay_is_healthy(authority).await,
            None => false,
        };
        let ours = stack::running_pid(&paths.daemon_pid(), DAEMON_BIN);
        match ours {
            Some(pid) if old_relay_dead => {
                stack::stop(pid, STOP_GRACE)
                    .await
                    .map_err(|e| io_failure(&paths.daemon_pid(), &e))?;
                stack::remove_file_quietly(&paths.daemon_pid());
                start_daemon(paths, client, relay_url).await?;
                return Ok(DaemonStart::Restarted);
            }
            _ => {
                output::note(&format!(
                    "agentkeys: warning: the running daemon uses the relay at {}, not \
                     {relay_url}; run `agentkeys down` then `agentkeys up` to switch",
                    status.relay_url
                ));
                return Ok(DaemonStart::Reused);
            }
        }
    }
    let log = paths.daemon_log();
    let pid_file = paths.daemon_pid();
    if stack::running_pid(&pid_file, DAEMON_BIN).is_some() {
        let still_running = || stack::running_pid(&pid_file, DAEMON_BIN).is_some();
        match wait_for(DAEMON_START_TIMEOUT, still_running, || {
            daemon_answers(client)
        })
        .await
        {
            Ok(()) => return Ok(DaemonStart::Reused),
            Err(Wait::Exited) => {}
            Err(Wait::TimedOut) => {
                return Err(daemon_failed(
                    "a daemon process is running but does not answer on its socket",
                    &log,
                ))
            }
        }
    }
    start_daemon(paths, client, relay_url).await?;
    Ok(DaemonStart::Started)
}

async fn start_daemon(
    paths: &Paths,
    client: &DaemonClient,
    relay_url: &str,
) -> Result<(), CliError> {
    let log = paths.daemon_log();
    let bin = find(DAEMON_BIN)?;
    let args = [
        OsStr::new("serve"),
        OsStr::new("--relay-url"),
        OsStr::new(relay_url),
    ];
    // The daemon writes its own pid file once its socket is bound.
    let mut child = stack::spawn_detached(&bin, &args, &log).map_err(|e| io_failure(&bin, &e))?;
    wait_for(DAEMON_START_TIMEOUT, child_alive(&mut child), || {
        daemon_answers(client)
    })
    .await
    .map_err(|w| daemon_failed(&w.to_string(), &log))
}

async fn daemon_answers(client: &DaemonClient) -> Option<()> {
    client
        .get::<DaemonStatus>(routes::daemon::STATUS)
        .await
        .ok()
        .map(|_| ())
}

enum DaemonStart {
    Reused,
    Started,
    Restarted,
}

enum Wait {
    Exited,
    TimedOut,
}

impl std::fmt::Display for Wait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Wait::Exited => f.write_str("it exited during start-up"),
            Wait::TimedOut => f.write_str("it did not answer in time"),
        }
    }
}

fn child_alive(child: &mut Child) -> impl FnMut() -> bool + '_ {
    move || matches!(child.try_wait(), Ok(None))
}

/// Polls `ready` until it yields, `alive` says the process is gone, or `timeout` passes.
async fn wait_for<T, A, F, Fut>(timeout: Duration, mut alive: A, mut ready: F) -> Result<T, Wait>
where
    A: FnMut() -> bool,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = ready().await {
            return Ok(value);
        }
        if !alive() {
            return Err(Wait::Exited);
        }
        if Instant::now() >= deadline {
            return Err(Wait::TimedOut);
        }
        tokio::time::sleep(POLL).await;
    }
}

fn find(bin: &str) -> Result<std::path::PathBuf, CliError> {
    stack::find_binary(bin).ok_or_else(|| {
        CliError::other(
            "binary_not_found",
            format!("{bin} was found neither next to agentkeys nor on PATH"),
            agentkeys_core::error::exit::FAILURE,
        )
    })
}

fn with_log_hint(what: &str, why: &str, log: &Path) -> String {
    match stack::last_log_line(log) {
        Some(last) => format!(
            "{what}: {why}; last log line: {last} (log: {})",
            log.display()
        ),
        None => format!("{what}: {why} (log: {})", log.display()),
    }
}

fn relay_failed(why: &str, log: &Path) -> CliError {
    CliError::new(
        ErrorCode::RelayUnreachable,
        with_log_hint("the relay did not start", why, log),
    )
}

fn daemon_failed(why: &str, log: &Path) -> CliError {
    CliError::new(
        ErrorCode::DaemonNotRunning,
        with_log_hint("the daemon did not start", why, log),
    )
}

fn io_failure(path: &Path, e: &std::io::Error) -> CliError {
    CliError::new(ErrorCode::Internal, format!("{}: {e}", path.display()))
}

pub async fn down() -> Result<i32, CliError> {
    let paths = resolve_paths()?;
    let companion = stop_by_pid_file(&companion_pid(&paths), DAEMON_BIN).await?;
    if companion != "not running" {
        output::line(&format!("companion: {companion}"))?;
    }
    let daemon = stop_daemon(&paths).await?;
    output::line(&format!("daemon: {daemon}"))?;
    let relay = stop_by_pid_file(&paths.relay_pid(), RELAY_BIN).await?;
    if relay != "not running" {
        // The relay is gone; an address file left behind would point at nothing.
        stack::remove_file_quietly(&paths.relay_addr_file());
    }
    output::line(&format!("relay: {relay}"))?;
    Ok(0)
}

async fn stop_daemon(paths: &Paths) -> Result<String, CliError> {
    let outcome = stop_by_pid_file(&paths.daemon_pid(), DAEMON_BIN).await?;
    if outcome != "not running" {
        return Ok(outcome);
    }
    // No usable pid file, e.g. a daemon started by systemd or launchd with another state
    // folder: ask it over the socket.
    let client = &DaemonClient::new(paths.socket()).with_timeout(PROBE_TIMEOUT);
    if client
        .post::<_, ShutdownResponse>(routes::daemon::SHUTDOWN, &serde_json::json!({}))
        .await
        .is_err()
    {
        return Ok(outcome);
    }
    let gone = wait_for(
        STOP_GRACE,
        || true,
        move || async move {
            client
                .get::<DaemonStatus>(routes::daemon::STATUS)
                .await
                .err()
                .map(|_| ())
        },
    )
    .await;
    match gone {
        Ok(()) => Ok("stopped".to_string()),
        Err(_) => Err(CliError::new(
            ErrorCode::Timeout,
            format!("the daemon did not stop within {} s", STOP_GRACE.as_secs()),
        )),
    }
}

async fn stop_by_pid_file(pid_file: &Path, bin: &str) -> Result<String, CliError> {
    let Some(pid) = stack::running_pid(pid_file, bin) else {
        stack::remove_file_quietly(pid_file);
        return Ok("not running".to_string());
    };
    let outcome = stack::stop(pid, STOP_GRACE).await.map_err(|e| {
        CliError::new(
            ErrorCode::Internal,
            format!("cannot stop {bin} (pid {pid}): {e}"),
        )
    })?;
    stack::remove_file_quietly(pid_file);
    Ok(match outcome {
        Stopped::Terminated => format!("stopped (pid {pid})"),
        Stopped::Killed => format!(
            "killed (pid {pid}; it did not stop within {} s of SIGTERM)",
            STOP_GRACE.as_secs()
        ),
    })
}

fn companion_pid(paths: &Paths) -> std::path::PathBuf {
    paths.state_dir.join("companion.pid")
}

/// `agentkeys companion start`: the companion daemon on this machine, on the relay the primary
/// daemon uses (else the embedded relay). Reuses one that answers already.
pub async fn companion_start(socket: &Path) -> Result<i32, CliError> {
    let paths = resolve_paths()?;
    let client = DaemonClient::new(socket.to_path_buf()).with_timeout(PROBE_TIMEOUT);
    if daemon_answers(&client).await.is_some() {
        output::line(&format!(
            "companion: already running ({})",
            socket.display()
        ))?;
        return Ok(0);
    }
    let primary = DaemonClient::new(paths.socket()).with_timeout(PROBE_TIMEOUT);
    let relay_url = match primary.get::<DaemonStatus>(routes::daemon::STATUS).await {
        Ok(status) => status.relay_url,
        Err(_) => healthy_relay_url(&paths).await.ok_or_else(|| {
            CliError::new(
                ErrorCode::RelayUnreachable,
                "no relay to use: start the stack with `agentkeys up` first",
            )
        })?,
    };
    let log = paths.state_dir.join("companion.log");
    let bin = find(DAEMON_BIN)?;
    let args = [
        OsStr::new("serve"),
        OsStr::new("--companion"),
        OsStr::new("--relay-url"),
        OsStr::new(&relay_url),
        OsStr::new("--socket"),
        socket.as_os_str(),
    ];
    let mut child = stack::spawn_detached(&bin, &args, &log).map_err(|e| io_failure(&bin, &e))?;
    wait_for(DAEMON_START_TIMEOUT, child_alive(&mut child), || {
        daemon_answers(&client)
    })
    .await
    .map_err(|w| daemon_failed(&w.to_string(), &log))?;
    output::line(&format!(
        "companion: started ({}), relay {relay_url}",
        socket.display()
    ))?;
    output::note("next: `agentkeys companion init`, then `agentkeys device add` on the primary");
    Ok(0)
}

/// `agentkeys companion stop`.
pub async fn companion_stop() -> Result<i32, CliError> {
    let paths = resolve_paths()?;
    let outcome = stop_by_pid_file(&companion_pid(&paths), DAEMON_BIN).await?;
    output::line(&format!("companion: {outcome}"))?;
    Ok(0)
}
