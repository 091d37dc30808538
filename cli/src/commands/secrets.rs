//! `store`, `read`, `list`, `rm`: credentials.

use agentkeys_core::error::ErrorCode;
use agentkeys_core::routes::daemon as route;
use agentkeys_core::wire::{ListRequest, ListResponse, NameRequest, TeardownResponse};

use super::values;
use crate::daemon_client::DaemonClient;
use crate::error::CliError;
use crate::output;

pub async fn store(
    service: &str,
    for_agent: Option<&str>,
    value: Option<String>,
) -> Result<i32, CliError> {
    let resp = values::put_for(route::SECRET_STORE, service, for_agent, value).await?;
    match for_agent {
        Some(agent) => output::line(&format!("stored {} for agent {agent}", resp.name))?,
        None => output::line(&format!("stored {}", resp.name))?,
    }
    Ok(0)
}

pub async fn read(service: &str, json: bool) -> Result<i32, CliError> {
    let value = values::get(route::SECRET_READ, service).await?;
    values::print_value(&value, json.then_some("service"), service)?;
    Ok(0)
}

pub async fn list(json: bool) -> Result<i32, CliError> {
    let client = DaemonClient::from_env()?;
    let resp: ListResponse = client.post(route::SECRET_LIST, &ListRequest {}).await?;
    if json {
        output::json(&resp)?;
    } else {
        for name in &resp.names {
            output::line(name)?;
        }
    }
    Ok(0)
}

pub async fn rm(service: &str) -> Result<i32, CliError> {
    values::check_name(service)?;
    let client = DaemonClient::from_env()?;
    let resp: TeardownResponse = client
        .post(
            route::SECRET_RM,
            &NameRequest {
                name: service.to_string(),
            },
        )
        .await?;
    if !resp.deleted {
        return Err(CliError::new(
            ErrorCode::SecretNotFound,
            format!("no secret is stored under {service:?}"),
        ));
    }
    output::line(&format!("removed {}", resp.name))?;
    Ok(0)
}
