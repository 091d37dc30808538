//! `agentkeys scope set|show|revoke`: changes are approved with the passkey.

use agentkeys_core::daemon_api::{AgentNameRequest, ScopeSetRequest, ScopeShow};
use agentkeys_core::routes::daemon as route;

use crate::daemon_client::DaemonClient;
use crate::error::CliError;
use crate::output;

fn print(s: &ScopeShow) -> Result<(), CliError> {
    let services = if s.services.is_empty() {
        "(none)".to_string()
    } else {
        s.services.join(", ")
    };
    output::line(&format!("agent {}: {services}", s.agent))?;
    if let Some(r) = &s.receipt {
        output::line(&format!(
            "changed on chain in block {} (tx {})",
            r.block_number, r.tx_hash
        ))?;
    }
    Ok(())
}

pub async fn set(agent: &str, services: &str) -> Result<i32, CliError> {
    let client = DaemonClient::from_env()?;
    let req = ScopeSetRequest {
        agent: agent.to_string(),
        services: services
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
    };
    let s: ScopeShow = crate::jobs::run(&client, route::SCOPE_SET, &req).await?;
    print(&s)?;
    Ok(0)
}

pub async fn revoke(agent: &str) -> Result<i32, CliError> {
    let client = DaemonClient::from_env()?;
    let req = AgentNameRequest {
        name: agent.to_string(),
    };
    let s: ScopeShow = crate::jobs::run(&client, route::SCOPE_REVOKE, &req).await?;
    print(&s)?;
    Ok(0)
}

pub async fn show(agent: &str, json: bool) -> Result<i32, CliError> {
    let client = DaemonClient::from_env()?;
    let req = AgentNameRequest {
        name: agent.to_string(),
    };
    let s: ScopeShow = client.post(route::SCOPE_SHOW, &req).await?;
    if json {
        output::json(&s)?;
    } else {
        print(&s)?;
    }
    Ok(0)
}
