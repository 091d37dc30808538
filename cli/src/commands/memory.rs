//! `memory put` and `memory get`.

use agentkeys_core::routes::daemon as route;

use super::values;
use crate::error::CliError;
use crate::output;

pub async fn put(namespace: &str, value: Option<String>) -> Result<i32, CliError> {
    let resp = values::put(route::MEMORY_PUT, namespace, value).await?;
    output::line(&format!("stored memory {}", resp.name))?;
    Ok(0)
}

pub async fn get(namespace: &str, json: bool) -> Result<i32, CliError> {
    let value = values::get(route::MEMORY_GET, namespace).await?;
    values::print_value(&value, json.then_some("namespace"), namespace)?;
    Ok(0)
}
