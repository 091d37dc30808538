//! `agentkeys init`: create the device identity (once) and sign in.

use agentkeys_core::routes;
use agentkeys_core::wire::InitResponse;

use crate::daemon_client::DaemonClient;
use crate::error::CliError;
use crate::output;

pub async fn init() -> Result<i32, CliError> {
    let client = DaemonClient::from_env()?;
    let resp: InitResponse = client
        .post(routes::daemon::INIT, &serde_json::json!({}))
        .await?;
    if resp.created {
        output::line("created a new device identity and signed in")?;
    } else {
        output::line("device identity already exists; signed in")?;
    }
    output::line(&format!("device: {}", resp.device))?;
    output::line(&format!("operator: {}", resp.operator))?;
    Ok(0)
}
