//! Storing and fetching one named value; shared by credentials (`store`, `read`) and memory
//! (`memory put`, `memory get`), which differ only in their daemon routes.

use agentkeys_core::daemon_api::STORE_FOR_HEADER;
use agentkeys_core::error::ErrorCode;
use agentkeys_core::names::validate_object_name;
use agentkeys_core::wire::{GetResponse, NameRequest, PutRequest, PutResponse, SecretValue};
use zeroize::Zeroizing;

use crate::daemon_client::DaemonClient;
use crate::error::CliError;
use crate::{input, output};

/// Refuses a bad name before asking for a value the daemon would refuse anyway.
pub fn check_name(name: &str) -> Result<(), CliError> {
    validate_object_name(name).map_err(|code| {
        CliError::new(
            code,
            format!("invalid name {name:?}: {}", code.default_message()),
        )
    })
}

pub async fn put(route: &str, name: &str, flag: Option<String>) -> Result<PutResponse, CliError> {
    put_for(route, name, None, flag).await
}

/// `for_agent`: write into that agent's own space (this device's authority, no token).
pub async fn put_for(
    route: &str,
    name: &str,
    for_agent: Option<&str>,
    flag: Option<String>,
) -> Result<PutResponse, CliError> {
    check_name(name)?;
    let client = match for_agent {
        Some(agent) => DaemonClient::from_env()?.with_header(STORE_FOR_HEADER, agent.to_string()),
        None => DaemonClient::from_env()?,
    };
    client.ensure_reachable().await?;
    let value = input::read_value(name, flag)?;
    let req = PutRequest {
        name: name.to_string(),
        value: SecretValue::from_bytes(&value),
    };
    client.post(route, &req).await
}

pub async fn get(route: &str, name: &str) -> Result<Zeroizing<Vec<u8>>, CliError> {
    get_with(&DaemonClient::from_env()?, route, name).await
}

pub async fn get_with(
    client: &DaemonClient,
    route: &str,
    name: &str,
) -> Result<Zeroizing<Vec<u8>>, CliError> {
    check_name(name)?;
    let resp: GetResponse = client
        .post(
            route,
            &NameRequest {
                name: name.to_string(),
            },
        )
        .await?;
    resp.value.decode().ok_or_else(|| {
        CliError::new(
            ErrorCode::Internal,
            "the daemon returned a value that is not valid base64",
        )
    })
}

/// The value and a newline, as raw bytes (values need not be UTF-8); or with `json_key`,
/// `{"<json_key>": name, "value": text}` (`value_base64` when the value is not UTF-8).
pub fn print_value(value: &[u8], json_key: Option<&str>, name: &str) -> Result<(), CliError> {
    let Some(key) = json_key else {
        let mut out = Zeroizing::new(Vec::with_capacity(value.len() + 1));
        out.extend_from_slice(value);
        out.push(b'\n');
        return output::bytes(&out);
    };
    let mut map = serde_json::Map::new();
    map.insert(key.to_string(), name.into());
    match std::str::from_utf8(value) {
        Ok(text) => map.insert("value".into(), text.into()),
        Err(_) => map.insert(
            "value_base64".into(),
            agentkeys_core::b64::encode(value).into(),
        ),
    };
    let text = Zeroizing::new(serde_json::Value::Object(map).to_string());
    output::line(&text)
}
