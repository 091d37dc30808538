//! `agentkeys agent create|list|revoke`.

use agentkeys_core::daemon_api::{
    AgentList, AgentNameRequest, AgentRevokeRequest, AgentRevoked, AgentView,
};
use agentkeys_core::routes::daemon as route;

use crate::daemon_client::DaemonClient;
use crate::error::CliError;
use crate::output;

fn name(n: &str) -> AgentNameRequest {
    AgentNameRequest {
        name: n.to_string(),
    }
}

pub async fn create(agent: &str) -> Result<i32, CliError> {
    let client = DaemonClient::from_env()?;
    let a: AgentView = client.post(route::AGENTS, &name(agent)).await?;
    output::line(&format!(
        "created agent {} (generation {}): device {}, actor {}",
        a.name, a.generation, a.device, a.actor
    ))?;
    output::note(&format!(
        "next: `agentkeys scope set {} <service>[,<service>...]` to say what it may read",
        a.name
    ));
    Ok(0)
}

pub async fn list(json: bool) -> Result<i32, CliError> {
    let client = DaemonClient::from_env()?;
    let list: AgentList = client.get(route::AGENTS).await?;
    if json {
        output::json(&list)?;
        return Ok(0);
    }
    for a in &list.agents {
        let state = if a.revoked {
            "revoked"
        } else if a.on_chain.is_some() {
            "active"
        } else {
            "not registered"
        };
        let scope = if a.scope.is_empty() {
            "-".to_string()
        } else {
            a.scope.join(",")
        };
        output::line(&format!(
            "{:<20} gen {:<3} {:<15} {} scope: {scope}",
            a.name, a.generation, state, a.device
        ))?;
    }
    Ok(0)
}

pub async fn revoke(agent: &str, purge: bool) -> Result<i32, CliError> {
    let client = DaemonClient::from_env()?;
    let req = AgentRevokeRequest {
        name: agent.to_string(),
        purge,
    };
    let r: AgentRevoked = client.post(route::AGENT_REVOKE, &req).await?;
    for o in &r.purged {
        output::line(&format!("deleted {} {}", o.class.as_str(), o.name))?;
    }
    output::line(&format!(
        "revoked agent {} on chain in block {} (tx {})",
        r.agent.name, r.receipt.block_number, r.receipt.tx_hash
    ))?;
    Ok(0)
}
