//! `agentkeys chain status`: the adapter, chain id, block, epoch and contract addresses of the
//! relay's chain, and this device's entry on it.

use agentkeys_core::chain::{roles, ChainStatusReport, Tier};
use agentkeys_core::routes;

use crate::daemon_client::DaemonClient;
use crate::error::CliError;
use crate::output;

pub async fn status(json: bool) -> Result<i32, CliError> {
    let client = DaemonClient::from_env()?;
    let r: ChainStatusReport = client.get(routes::daemon::CHAIN_STATUS).await?;
    if json {
        output::json(&r)?;
        return Ok(0);
    }
    let c = &r.chain;
    let lines = [
        format!("adapter:        {}", c.adapter.as_str()),
        format!("chain id:       {}", c.chain_id),
        format!("block:          {}", c.block_number),
        format!("key epoch:      {}", c.epoch),
        format!("registry:       {}", c.contracts.registry),
        format!("scope:          {}", c.contracts.scope),
        format!("epoch counter:  {}", c.contracts.epoch),
        format!("audit:          {}", c.contracts.audit),
        format!("k11 verifier:   {}", c.contracts.k11_verifier),
        format!("p256 verifier:  {}", c.contracts.p256_verifier),
        format!("relay account:  {}", c.submitter),
    ];
    for l in lines {
        output::line(&l)?;
    }
    match &r.device {
        Some(d) => {
            let tier = match d.tier {
                Tier::Master => "master",
                Tier::Agent => "agent",
            };
            let state = if d.revoked { "revoked" } else { "active" };
            output::line(&format!(
                "this device:    {} {tier}, {state}, roles {}{}",
                d.device,
                roles::names(d.roles).join("+"),
                if d.has_passkey {
                    ", passkey"
                } else {
                    ", no passkey"
                }
            ))?;
        }
        None => output::line("this device:    not registered (run `agentkeys init`)")?,
    }
    Ok(0)
}
