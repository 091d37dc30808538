//! `agentkeys companion init|whoami`: the companion daemon on this machine.

use std::path::PathBuf;

use agentkeys_core::daemon_api::{CompanionWhoami, InitRequest};
use agentkeys_core::routes::daemon as route;
use agentkeys_core::wire::InitResponse;

use crate::daemon_client::{resolve_paths, DaemonClient};
use crate::error::CliError;
use crate::output;

/// The companion's socket: the flag, else companion.sock in the runtime folder.
pub fn socket(flag: Option<PathBuf>) -> Result<PathBuf, CliError> {
    match flag {
        Some(p) => Ok(p),
        None => Ok(resolve_paths()?.runtime_dir.join("companion.sock")),
    }
}

pub async fn whoami_of(socket: PathBuf) -> Result<CompanionWhoami, CliError> {
    DaemonClient::new(socket).get(route::COMPANION_WHOAMI).await
}

pub async fn init(flag: Option<PathBuf>) -> Result<i32, CliError> {
    let client = DaemonClient::new(socket(flag)?);
    client.ensure_reachable().await?;
    let resp: InitResponse =
        crate::jobs::run(&client, route::INIT, &InitRequest::default()).await?;
    if let Some(pin) = &resp.relay_pin {
        super::init::relay_pin_lines(pin)?;
    }
    output::line(&format!("companion device: {}", resp.device))?;
    output::line("passkey: enrolled (RP ID companion.localhost)")?;
    output::note("next, on the primary: `agentkeys device add`");
    Ok(0)
}

pub async fn whoami(flag: Option<PathBuf>, json: bool) -> Result<i32, CliError> {
    let w = whoami_of(socket(flag)?).await?;
    if json {
        output::json(&w)?;
        return Ok(0);
    }
    output::line(&format!("device: {}", w.device))?;
    output::line(&format!("role: {} (RP ID {})", w.role, w.rp_id))?;
    output::line(&format!(
        "passkey: {}",
        if w.passkey.is_some() {
            "enrolled"
        } else {
            "none (run `agentkeys companion init`)"
        }
    ))?;
    match w.operator {
        Some(op) => output::line(&format!("operator: {op}"))?,
        None => output::line("operator: not registered yet")?,
    }
    Ok(0)
}
