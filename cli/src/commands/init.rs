//! `agentkeys init [--no-passkey]`: create the device identity (once), enroll its passkey,
//! sign in, and register the device on chain as the first master of its operator. The daemon
//! runs it as a job: the passkey pages are shown as they come.

use std::path::PathBuf;

use agentkeys_core::chain::roles;
use agentkeys_core::daemon_api::InitRequest;
use agentkeys_core::routes;
use agentkeys_core::wire::{InitResponse, RelayPinView};

use crate::daemon_client::DaemonClient;
use crate::error::CliError;
use crate::output;
use crate::spinner::Spinner;

pub async fn init(
    passkey: bool,
    approver_file: Option<PathBuf>,
    approver_socket: Option<PathBuf>,
    repin: bool,
    new_identity: bool,
) -> Result<i32, CliError> {
    let approver = match (approver_file, approver_socket) {
        (Some(file), _) => Some(super::device::read_whoami(&file)?),
        (None, Some(socket)) => Some(super::companion::whoami_of(socket).await?),
        (None, None) => None,
    };
    let client = DaemonClient::from_env()?;
    client.ensure_reachable().await?;
    // A spinner would garble the passkey prompts; show it only when none can come.
    let spinner =
        (!passkey).then(|| Spinner::start("signing in and registering this device on chain"));
    let resp: Result<InitResponse, CliError> = crate::jobs::run(
        &client,
        routes::daemon::INIT,
        &InitRequest {
            passkey,
            approver,
            repin,
            new_identity,
        },
    )
    .await;
    if let Some(s) = spinner {
        s.stop();
    }
    let resp = resp?;
    if resp.created {
        output::line("created a new device identity and signed in")?;
    } else {
        output::line("device identity already exists; signed in")?;
    }
    if let Some(pin) = &resp.relay_pin {
        relay_pin_lines(pin)?;
    }
    output::line(&format!("device: {}", resp.device))?;
    output::line(&format!("operator: {}", resp.operator))?;
    if let Some(r) = &resp.registered {
        // Also the line of a passkey attached to a master registered without one.
        output::line(&format!(
            "registered on chain as the first master in block {} (tx {})",
            r.block_number, r.tx_hash
        ))?;
    }
    match &resp.device_on_chain {
        Some(d) => {
            output::line(&format!(
                "on-chain roles: {}",
                roles::names(d.roles).join(", ")
            ))?;
            if d.has_passkey {
                output::line(
                    "passkey: enrolled; it approves agents' scopes, new devices and recovery",
                )?;
            } else {
                output::note(
                    "no passkey enrolled: this device can store and read its own secrets; \
                     agents' scopes, new devices and recovery need a passkey (run `agentkeys \
                     init` again on a machine with a browser to add one)",
                );
            }
        }
        None => output::line(
            "not registered on chain (a companion is added by `agentkeys device add`)",
        )?,
    }
    Ok(0)
}

/// The pinned relay keys, as ssh shows a host key: the user can compare them with the
/// `broker session key` line of the relay's log.
pub(crate) fn relay_pin_lines(pin: &RelayPinView) -> Result<(), CliError> {
    let keys = pin.fingerprints.join(", ");
    match (&pin.replaced, pin.new) {
        (Some(old), _) => output::line(&format!(
            "relay key re-pinned: {keys} on chain {} (was {})",
            pin.chain_id,
            old.join(", ")
        )),
        (None, true) => output::line(&format!(
            "relay key pinned: {keys} on chain {}",
            pin.chain_id
        )),
        (None, false) => output::line(&format!(
            "relay key matches the pin: {keys} on chain {}",
            pin.chain_id
        )),
    }
}
