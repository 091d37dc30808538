//! `agentkeys device add|list` and `agentkeys recover threshold|revoke-device`.

use std::path::PathBuf;

use agentkeys_core::chain::{roles, OperatorView, Tier};
use agentkeys_core::daemon_api::{
    CompanionWhoami, DeviceAddRequest, MasterChange, RevokeDeviceRequest, ThresholdRequest,
};
use agentkeys_core::error::ErrorCode;
use agentkeys_core::identity::Address;
use agentkeys_core::routes::daemon as route;

use super::companion;
use crate::daemon_client::DaemonClient;
use crate::error::CliError;
use crate::output;

fn print(change: &MasterChange, what: &str) -> Result<(), CliError> {
    let approvers: Vec<String> = change.approvers.iter().map(|a| a.to_string()).collect();
    output::line(&format!(
        "{what} {} in block {} (tx {}, gas {})",
        change.device, change.receipt.block_number, change.receipt.tx_hash, change.receipt.gas_used
    ))?;
    output::line(&format!("approved by: {}", approvers.join(", ")))?;
    output::line(&format!(
        "recovery: {} of {} RECOVERY masters must approve",
        change.recovery_threshold.max(1),
        change.active_recovery_masters
    ))?;
    Ok(())
}

pub async fn add(socket: Option<PathBuf>, whoami: Option<PathBuf>) -> Result<i32, CliError> {
    let companion: CompanionWhoami = match whoami {
        Some(file) => read_whoami(&file)?,
        None => companion::whoami_of(companion::socket(socket)?).await?,
    };
    let client = DaemonClient::from_env()?;
    let change: MasterChange =
        crate::jobs::run(&client, route::DEVICE_ADD, &DeviceAddRequest { companion }).await?;
    print(&change, "added master")?;
    Ok(0)
}

/// A companion's `whoami --json`, copied from another machine.
pub fn read_whoami(file: &std::path::Path) -> Result<CompanionWhoami, CliError> {
    let text = std::fs::read(file).map_err(|e| {
        CliError::new(
            ErrorCode::BadRequest,
            format!("cannot read {}: {e}", file.display()),
        )
    })?;
    serde_json::from_slice(&text).map_err(|e| {
        CliError::new(
            ErrorCode::InvalidJson,
            format!(
                "{} is not `agentkeys companion whoami --json` output: {e}",
                file.display()
            ),
        )
    })
}

pub async fn list(json: bool) -> Result<i32, CliError> {
    let client = DaemonClient::from_env()?;
    let view: OperatorView = client.get(route::DEVICES).await?;
    if json {
        output::json(&view)?;
        return Ok(0);
    }
    output::line(&format!(
        "operator {}: {} of {} RECOVERY masters must approve",
        view.operator,
        view.recovery_threshold.max(1),
        view.active_recovery_masters
    ))?;
    for d in &view.devices {
        let tier = match d.tier {
            Tier::Master => "master",
            Tier::Agent => "agent",
        };
        let state = if d.revoked { "revoked" } else { "active" };
        output::line(&format!(
            "{} {tier:<6} {state:<7} {}",
            d.device,
            roles::names(d.roles).join(",")
        ))?;
    }
    Ok(0)
}

pub async fn threshold(n: u32) -> Result<i32, CliError> {
    let client = DaemonClient::from_env()?;
    let change: MasterChange = crate::jobs::run(
        &client,
        route::RECOVER_THRESHOLD,
        &ThresholdRequest { threshold: n },
    )
    .await?;
    print(&change, "threshold changed by")?;
    Ok(0)
}

pub async fn revoke(device: &str) -> Result<i32, CliError> {
    let device: Address = device.parse().map_err(|_| {
        CliError::new(
            ErrorCode::BadRequest,
            format!("{device:?} is not a 0x… device address"),
        )
    })?;
    let client = DaemonClient::from_env()?;
    let change: MasterChange = crate::jobs::run(
        &client,
        route::RECOVER_REVOKE,
        &RevokeDeviceRequest { device },
    )
    .await?;
    print(&change, "revoked master")?;
    Ok(0)
}
