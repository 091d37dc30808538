//! `agentkeys aws exec|credential-process|env`: temporary, actor-scoped cloud credentials the
//! relay mints (`POST /v1/mint-aws-creds` through the daemon), in the forms AWS tools read.
//! No long-lived cloud key is ever on this machine.

use std::ffi::OsString;
use std::sync::Arc;

use agentkeys_core::cloud::{AwsCredsRequest, AwsCredsResponse};
use agentkeys_core::error::ErrorCode;
use agentkeys_core::names::DataClass;
use agentkeys_core::routes::daemon as route;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::aws_endpoint;
use crate::agent_token::ChildToken;
use crate::args::AwsTarget;
use crate::daemon_client::DaemonClient;
use crate::error::CliError;
use crate::output;
use crate::run::{self, ChildSpec};

/// The region AWS tools get when the environment names none.
const DEFAULT_REGION: &str = "us-east-1";

async fn fetch(target: &AwsTarget) -> Result<AwsCredsResponse, CliError> {
    let data_class = DataClass::parse(&target.class).ok_or_else(|| {
        CliError::new(
            ErrorCode::BadRequest,
            format!("--class {:?}: expected credentials or memory", target.class),
        )
    })?;
    let req = AwsCredsRequest {
        data_class,
        duration_secs: None,
    };
    match &target.agent {
        None => DaemonClient::from_env()?.post(route::AWS_CREDS, &req).await,
        Some(agent) => {
            let child = ChildToken::issue(agent).await?;
            let creds = child.client()?.post(route::AWS_CREDS, &req).await;
            child.revoke().await;
            creds
        }
    }
}

/// Variables that are no secret: where the credentials apply and what they reach.
fn plain_env(c: &AwsCredsResponse) -> Vec<(String, String)> {
    let region = std::env::var("AWS_REGION").unwrap_or_else(|_| DEFAULT_REGION.to_string());
    let mut env = vec![
        ("AWS_ACCESS_KEY_ID".to_string(), c.access_key_id.clone()),
        ("AWS_REGION".to_string(), region.clone()),
        ("AWS_DEFAULT_REGION".to_string(), region),
        ("AGENTKEYS_S3_BUCKET".to_string(), c.bucket.clone()),
        ("AGENTKEYS_S3_PREFIX".to_string(), c.prefix.clone()),
    ];
    if let Some(url) = &c.endpoint_url {
        env.push(("AWS_ENDPOINT_URL_S3".to_string(), url.clone()));
    }
    env
}

pub async fn exec(
    target: &AwsTarget,
    no_masking: bool,
    endpoint: bool,
    command: Vec<OsString>,
) -> Result<i32, CliError> {
    let mut command = command.into_iter();
    let program = command
        .next()
        .ok_or_else(|| CliError::new(ErrorCode::BadRequest, "no command given after `--`"))?;
    let c = fetch(target).await?;
    if endpoint {
        return exec_with_endpoint(target, &c, no_masking, program, command.collect()).await;
    }
    let secrets = vec![
        (
            "AWS_SECRET_ACCESS_KEY".to_string(),
            Zeroizing::new(c.secret_access_key.clone()),
        ),
        (
            "AWS_SESSION_TOKEN".to_string(),
            Zeroizing::new(c.session_token.clone()),
        ),
    ];
    run::run_child(ChildSpec {
        program,
        args: command.collect(),
        env: secrets,
        plain_env: plain_env(&c),
        masking: !no_masking,
    })
    .await
    .map_err(|e| {
        CliError::other(
            e.code(),
            e.to_string(),
            agentkeys_core::error::exit::FAILURE,
        )
    })
}

/// The child gets the endpoint and its token, and no keys: the SDK fetches (and refreshes)
/// them there.
async fn exec_with_endpoint(
    target: &AwsTarget,
    first: &AwsCredsResponse,
    no_masking: bool,
    program: OsString,
    args: Vec<OsString>,
) -> Result<i32, CliError> {
    let target = target.clone();
    let fetch: aws_endpoint::Fetch = Arc::new(move || {
        let target = target.clone();
        Box::pin(async move {
            let c = fetch(&target)
                .await
                .map_err(|e| format!("{} ({})", e.message, e.code))?;
            container_json(&c).map_err(|e| e.message)
        })
    });
    let ep = aws_endpoint::start(fetch).await?;
    let mut plain: Vec<(String, String)> = plain_env(first)
        .into_iter()
        .filter(|(k, _)| k != "AWS_ACCESS_KEY_ID")
        .collect();
    plain.push((
        "AWS_CONTAINER_CREDENTIALS_FULL_URI".to_string(),
        ep.url.clone(),
    ));
    let secrets = vec![(
        "AWS_CONTAINER_AUTHORIZATION_TOKEN".to_string(),
        ep.token.clone(),
    )];
    let code = run::run_child(ChildSpec {
        program,
        args,
        env: secrets,
        plain_env: plain,
        masking: !no_masking,
    })
    .await
    .map_err(super::run::run_error);
    drop(ep);
    code
}

/// The container-credentials JSON (`Token`, not `SessionToken`).
fn container_json(c: &AwsCredsResponse) -> Result<Zeroizing<String>, CliError> {
    Ok(Zeroizing::new(
        serde_json::json!({
            "AccessKeyId": c.access_key_id,
            "SecretAccessKey": c.secret_access_key,
            "Token": c.session_token,
            "Expiration": rfc3339(c.expiration)?,
        })
        .to_string(),
    ))
}

fn rfc3339(secs: u64) -> Result<String, CliError> {
    OffsetDateTime::from_unix_timestamp(secs as i64)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .ok_or_else(|| CliError::new(ErrorCode::Internal, "the expiry is not a valid time"))
}

pub async fn credential_process(target: &AwsTarget) -> Result<i32, CliError> {
    let c = fetch(target).await?;
    output::json(&serde_json::json!({
        "Version": 1,
        "AccessKeyId": c.access_key_id,
        "SecretAccessKey": c.secret_access_key,
        "SessionToken": c.session_token,
        "Expiration": rfc3339(c.expiration)?,
    }))?;
    Ok(0)
}

/// Single quotes for a POSIX shell.
fn quote(v: &str) -> String {
    format!("'{}'", v.replace('\'', r"'\''"))
}

pub async fn env(target: &AwsTarget) -> Result<i32, CliError> {
    let c = fetch(target).await?;
    let mut lines = String::new();
    for (k, v) in plain_env(&c) {
        lines.push_str(&format!("export {k}={}\n", quote(&v)));
    }
    lines.push_str(&format!(
        "export AWS_SECRET_ACCESS_KEY={}\nexport AWS_SESSION_TOKEN={}\n",
        quote(&c.secret_access_key),
        quote(&c.session_token)
    ));
    output::bytes(lines.as_bytes())?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting_and_times() {
        assert_eq!(quote("a'b"), r"'a'\''b'");
        assert_eq!(rfc3339(0).unwrap(), "1970-01-01T00:00:00Z");
    }
}
