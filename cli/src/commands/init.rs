//! `agentkeys init`: create the device identity (once), sign in, and register the device on
//! chain as the first master of its operator (a spinner while the block is mined).

use agentkeys_core::chain::roles;
use agentkeys_core::routes;
use agentkeys_core::wire::InitResponse;

use crate::daemon_client::DaemonClient;
use crate::error::CliError;
use crate::output;
use crate::spinner::Spinner;

pub async fn init() -> Result<i32, CliError> {
    let client = DaemonClient::from_env()?;
    let spinner = Spinner::start("signing in and registering this device on chain");
    let resp: Result<InitResponse, CliError> = client
        .post(routes::daemon::INIT, &serde_json::json!({}))
        .await;
    spinner.stop();
    let resp = resp?;
    if resp.created {
        output::line("created a new device identity and signed in")?;
    } else {
        output::line("device identity already exists; signed in")?;
    }
    output::line(&format!("device: {}", resp.device))?;
    output::line(&format!("operator: {}", resp.operator))?;
    if let Some(r) = &resp.registered {
        output::line(&format!(
            "registered on chain as the first master in block {} (tx {})",
            r.block_number, r.tx_hash
        ))?;
    }
    if let Some(d) = &resp.device_on_chain {
        output::line(&format!(
            "on-chain roles: {}",
            roles::names(d.roles).join(", ")
        ))?;
        if !d.has_passkey {
            output::note(
                "no passkey enrolled: this device can store and read its own secrets; agents, \
                 scopes and recovery need a passkey",
            );
        }
    }
    Ok(0)
}
