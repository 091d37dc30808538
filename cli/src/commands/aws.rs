//! `agentkeys aws exec|credential-process|env`: temporary, actor-scoped cloud credentials the
//! relay mints (`POST /v1/mint-aws-creds` through the daemon), in the forms AWS tools read.
//! No long-lived cloud key is ever on this machine.

use std::ffi::OsString;
use std::fs::{OpenOptions, Permissions};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
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
use crate::run::{self, ChildSpec, LateSecrets};

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

/// What keeps the user's own AWS configuration away from the child, so that the scoped
/// credentials are the only ones it can use: every inherited `AWS_*` variable goes (long-lived
/// keys, `AWS_PROFILE`, `AWS_CONFIG_FILE`, a stray endpoint URL), and the shared credentials
/// and config files point at empty files instead of `~/.aws`. Whatever `exec` sets on purpose
/// is added back after the removal.
struct Isolation {
    /// Owner-only; removed with the files when this drops, after the child.
    _dir: tempfile::TempDir,
    remove: Vec<OsString>,
    files: Vec<(String, String)>,
}

fn isolate() -> Result<Isolation, CliError> {
    let internal = |what: &str, e: std::io::Error| {
        CliError::new(ErrorCode::Internal, format!("cannot create {what}: {e}"))
    };
    let dir = tempfile::Builder::new()
        .prefix("agentkeys-aws-")
        .permissions(Permissions::from_mode(0o700))
        .tempdir()
        .map_err(|e| internal("a private temporary directory", e))?;
    let mut files = Vec::new();
    for (var, name) in [
        ("AWS_SHARED_CREDENTIALS_FILE", "credentials"),
        ("AWS_CONFIG_FILE", "config"),
    ] {
        let path = dir.path().join(name);
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| internal("an empty AWS file", e))?;
        let path = path.into_os_string().into_string().map_err(|_| {
            CliError::new(
                ErrorCode::Internal,
                "the temporary directory's path is not UTF-8",
            )
        })?;
        files.push((var.to_string(), path));
    }
    // On a cloud host the SDKs would otherwise fall back to the instance's own role.
    files.push(("AWS_EC2_METADATA_DISABLED".to_string(), "true".to_string()));
    let remove = std::env::vars_os()
        .map(|(name, _)| name)
        .filter(|name| name.as_encoded_bytes().starts_with(b"AWS_"))
        .collect();
    Ok(Isolation {
        _dir: dir,
        remove,
        files,
    })
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
    let isolation = isolate()?;
    if endpoint {
        return exec_with_endpoint(
            target,
            &c,
            &isolation,
            no_masking,
            program,
            command.collect(),
        )
        .await;
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
    let mut plain = plain_env(&c);
    plain.extend(isolation.files.iter().cloned());
    let code = run::run_child(ChildSpec {
        program,
        args: command.collect(),
        env: secrets,
        plain_env: plain,
        remove_env: isolation.remove.clone(),
        late_secrets: None,
        masking: !no_masking,
    })
    .await
    .map_err(|e| {
        CliError::other(
            e.code(),
            e.to_string(),
            agentkeys_core::error::exit::FAILURE,
        )
    });
    drop(isolation);
    code
}

/// The child gets the endpoint and its token, and no keys: the SDK fetches (and refreshes)
/// them there.
async fn exec_with_endpoint(
    target: &AwsTarget,
    first: &AwsCredsResponse,
    isolation: &Isolation,
    no_masking: bool,
    program: OsString,
    args: Vec<OsString>,
) -> Result<i32, CliError> {
    // Every set of keys the endpoint serves is masked before the child receives it.
    let late = LateSecrets::default();
    late.add(first.secret_access_key.as_bytes());
    late.add(first.session_token.as_bytes());
    let target = target.clone();
    let served = late.clone();
    let fetch: aws_endpoint::Fetch = Arc::new(move || {
        let (target, served) = (target.clone(), served.clone());
        Box::pin(async move {
            let c = fetch(&target)
                .await
                .map_err(|e| format!("{} ({})", e.message, e.code))?;
            served.add(c.secret_access_key.as_bytes());
            served.add(c.session_token.as_bytes());
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
    plain.extend(isolation.files.iter().cloned());
    let secrets = vec![(
        "AWS_CONTAINER_AUTHORIZATION_TOKEN".to_string(),
        ep.token.clone(),
    )];
    let code = run::run_child(ChildSpec {
        program,
        args,
        env: secrets,
        plain_env: plain,
        remove_env: isolation.remove.clone(),
        late_secrets: Some(late),
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
