//! `agentkeys status [--json]`: the daemon's state and the relay's readiness.
//!
//! Exits 0 when the daemon answers, 3 (`daemon_not_running`) when it does not, so scripts can
//! test for a running daemon; both cases print the report, not an error line.

use agentkeys_core::error::exit;
use agentkeys_core::routes;
use agentkeys_core::wire::{DaemonStatus, ReadyResponse};
use serde::Serialize;

use crate::daemon_client::{resolve_paths, DaemonClient, PROBE_TIMEOUT};
use crate::error::CliError;
use crate::output;
use crate::stack;

#[derive(Serialize)]
struct StatusReport {
    /// null when the daemon is not running
    daemon: Option<DaemonStatus>,
    relay: Option<RelayReport>,
}

#[derive(Serialize)]
struct RelayReport {
    url: String,
    reachable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    readiness: Option<ReadyResponse>,
}

pub async fn status(json: bool) -> Result<i32, CliError> {
    let paths = resolve_paths()?;
    let client = DaemonClient::new(paths.socket()).with_timeout(PROBE_TIMEOUT);
    let daemon = match client.get::<DaemonStatus>(routes::daemon::STATUS).await {
        Ok(status) => Some(status),
        Err(e) if e.is(agentkeys_core::ErrorCode::DaemonNotRunning) => None,
        Err(e) => return Err(e),
    };
    // The daemon knows which relay it uses; without a daemon, the embedded relay's address
    // file, while its relay process is ours and alive.
    let relay_url = daemon
        .as_ref()
        .map(|d| d.relay_url.clone())
        .or_else(|| stack::own_relay_addr(&paths).map(|a| format!("http://{a}")));
    let relay = match relay_url {
        Some(url) => Some(probe_relay(url).await),
        None => None,
    };
    let running = daemon.is_some();
    let report = StatusReport { daemon, relay };
    if json {
        output::json(&report)?;
    } else {
        print_human(&report, &client)?;
    }
    Ok(if running {
        exit::OK
    } else {
        exit::DAEMON_NOT_RUNNING
    })
}

async fn probe_relay(url: String) -> RelayReport {
    let reply = match stack::http_authority(&url) {
        Some(authority) => stack::relay_get(authority, routes::READYZ).await,
        // https relays are remote; the daemon's own reachability flag covers them.
        None => None,
    };
    RelayReport {
        url,
        reachable: reply.is_some(),
        readiness: reply.and_then(|r| serde_json::from_slice(&r.body).ok()),
    }
}

fn print_human(report: &StatusReport, client: &DaemonClient) -> Result<(), CliError> {
    match &report.daemon {
        None => output::line("daemon: not running (start it with `agentkeys up`)")?,
        Some(d) => {
            output::line(&format!(
                "daemon: running (pid {}, version {}, socket {})",
                d.pid,
                d.version,
                client.socket().display()
            ))?;
            match (&d.device, &d.operator) {
                (Some(device), Some(operator)) => {
                    output::line(&format!("device: {device}"))?;
                    output::line(&format!("operator: {operator}"))?;
                }
                _ => output::line("device: not initialized (run `agentkeys init`)")?,
            }
            if d.keychain_fallback {
                output::line(&format!(
                    "keychain: {} (WARNING: no OS keychain; the device key is protected only \
                     by file permissions)",
                    d.keychain_backend
                ))?;
            } else if !d.keychain_survives_reboot {
                output::line(&format!(
                    "keychain: {} (WARNING: the kernel keyring forgets the device key at reboot; \
                     run a Secret Service such as gnome-keyring, or set AGENTKEYS_KEYCHAIN=file)",
                    d.keychain_backend
                ))?;
            } else {
                output::line(&format!("keychain: {}", d.keychain_backend))?;
            }
        }
    }
    if let Some(relay) = &report.relay {
        let state = match &relay.readiness {
            Some(r) if r.ready => "ready".to_string(),
            Some(r) => {
                let why: Vec<String> = r
                    .checks
                    .iter()
                    .filter(|c| !c.ok)
                    .map(|c| match &c.reason {
                        Some(reason) => format!("{}: {reason}", c.name),
                        None => c.name.clone(),
                    })
                    .collect();
                format!("not ready ({})", why.join("; "))
            }
            None if relay.reachable => "answering, readiness unknown".to_string(),
            None => match &report.daemon {
                Some(d) if d.relay_reachable => "reachable from the daemon".to_string(),
                _ => "unreachable".to_string(),
            },
        };
        output::line(&format!("relay: {} {state}", relay.url))?;
    }
    Ok(())
}
