//! `agentkeys run [--env NAME=SERVICE]... [--no-masking] -- COMMAND ARGS...`: fetch each
//! secret through the daemon, then run the command with them in its environment (never in its
//! argv) and exit with its exit code.
//!
//! Exit codes besides the command's own: 127 when the command is not found and 126 when it is
//! not executable (as shells and env(1) do), 7 for invalid `--env` specs, and the usual codes
//! for daemon and relay failures (nothing is run then).

use std::collections::HashSet;
use std::ffi::OsString;

use agentkeys_core::error::{exit, ErrorCode};
use agentkeys_core::routes::daemon as route;
use zeroize::Zeroizing;

use super::values;
use crate::agent_token::ChildToken;
use crate::daemon_client::{DaemonClient, ENV_AGENT, ENV_AGENT_TOKEN};
use crate::error::CliError;
use crate::run::{self, ChildSpec, RunError};

#[derive(Debug, PartialEq, Eq)]
pub struct EnvSpec {
    pub var: String,
    pub service: String,
}

/// `NAME=SERVICE`, or a bare `SERVICE` whose variable is its name uppercased with `-` and
/// `.` turned into `_`.
pub fn parse_env_spec(spec: &str) -> Result<EnvSpec, CliError> {
    let (var, service) = match spec.split_once('=') {
        Some((var, service)) => (var.to_string(), service.to_string()),
        None => (
            spec.to_ascii_uppercase().replace(['-', '.'], "_"),
            spec.to_string(),
        ),
    };
    if !run::is_valid_env_name(&var) {
        return Err(CliError::other(
            "invalid_env_name",
            format!(
                "--env {spec:?}: {var:?} is not a valid variable name (letters, digits and '_', \
                 not starting with a digit); use NAME=SERVICE"
            ),
            exit::INVALID_INPUT,
        ));
    }
    values::check_name(&service)?;
    Ok(EnvSpec { var, service })
}

pub fn parse_env_specs(specs: &[String]) -> Result<Vec<EnvSpec>, CliError> {
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(specs.len());
    for spec in specs {
        let parsed = parse_env_spec(spec)?;
        if !seen.insert(parsed.var.clone()) {
            return Err(CliError::other(
                "invalid_env_name",
                format!("--env sets {} more than once", parsed.var),
                exit::INVALID_INPUT,
            ));
        }
        out.push(parsed);
    }
    Ok(out)
}

pub async fn run_command(
    agent: Option<&str>,
    env: &[String],
    no_masking: bool,
    command: Vec<OsString>,
) -> Result<i32, CliError> {
    let specs = parse_env_specs(env)?;
    let mut command = command.into_iter();
    let program = command
        .next()
        .ok_or_else(|| CliError::new(ErrorCode::BadRequest, "no command given after `--`"))?;
    let Some(agent) = agent else {
        let client = DaemonClient::from_env()?;
        return run_with(
            &client,
            specs,
            program,
            command.collect(),
            Vec::new(),
            no_masking,
        )
        .await;
    };
    // A token for this child alone, revoked when it exits (also on failure to start it).
    let child = ChildToken::issue(agent).await?;
    let client = child.client()?;
    let extra = vec![
        (
            ENV_AGENT.to_string(),
            Zeroizing::new(child.token.agent.clone()),
        ),
        (
            ENV_AGENT_TOKEN.to_string(),
            Zeroizing::new(child.token.token.clone()),
        ),
    ];
    let outcome = run_with(
        &client,
        specs,
        program,
        command.collect(),
        extra,
        no_masking,
    )
    .await;
    child.revoke().await;
    outcome
}

async fn run_with(
    client: &DaemonClient,
    specs: Vec<EnvSpec>,
    program: OsString,
    args: Vec<OsString>,
    extra: Vec<(String, Zeroizing<String>)>,
    no_masking: bool,
) -> Result<i32, CliError> {
    let mut child_env = Vec::with_capacity(specs.len() + extra.len());
    for spec in specs {
        let bytes = values::get_with(client, route::SECRET_READ, &spec.service).await?;
        let text = std::str::from_utf8(&bytes).map_err(|_| {
            CliError::new(
                ErrorCode::InvalidValue,
                format!(
                    "the secret {:?} is not UTF-8 text, so it cannot go into {}",
                    spec.service, spec.var
                ),
            )
        })?;
        child_env.push((spec.var, Zeroizing::new(text.to_string())));
    }
    // The token is masked in the output like a secret, though it dies with the child.
    child_env.extend(extra);
    run::run_child(ChildSpec {
        program,
        args,
        env: child_env,
        plain_env: Vec::new(),
        remove_env: Vec::new(),
        late_secrets: None,
        masking: !no_masking,
    })
    .await
    .map_err(run_error)
}

pub(super) fn run_error(e: RunError) -> CliError {
    let exit = match e {
        RunError::NotFound(_) => 127,
        RunError::PermissionDenied(_) => 126,
        RunError::InvalidEnvName(_) | RunError::InvalidEnvValue(_) => exit::INVALID_INPUT,
        RunError::Io(_) => exit::FAILURE,
    };
    CliError::other(e.code(), e.to_string(), exit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_and_derived_names() {
        assert_eq!(
            parse_env_spec("OPENROUTER_API_KEY=openrouter").unwrap(),
            EnvSpec {
                var: "OPENROUTER_API_KEY".into(),
                service: "openrouter".into()
            }
        );
        assert_eq!(parse_env_spec("openrouter").unwrap().var, "OPENROUTER");
        assert_eq!(parse_env_spec("aws.prod-key").unwrap().var, "AWS_PROD_KEY");
        assert_eq!(
            parse_env_spec("aws.prod-key").unwrap().service,
            "aws.prod-key"
        );
    }

    #[test]
    fn bad_specs_are_refused() {
        assert_eq!(parse_env_spec("1X=a").unwrap_err().code, "invalid_env_name");
        assert_eq!(parse_env_spec("=a").unwrap_err().code, "invalid_env_name");
        assert_eq!(
            parse_env_spec("9lives").unwrap_err().code,
            "invalid_env_name"
        );
        assert_eq!(
            parse_env_spec("X=").unwrap_err().code,
            "invalid_service_name"
        );
        assert_eq!(
            parse_env_spec("X=Up").unwrap_err().code,
            "invalid_service_name"
        );
        assert_eq!(parse_env_spec("X=a").map(|s| s.service).unwrap(), "a");
        let dup = parse_env_specs(&["A=x".into(), "A=y".into()]).unwrap_err();
        assert_eq!(dup.exit, 7);
    }

    #[test]
    fn run_errors_use_shell_exit_codes() {
        assert_eq!(run_error(RunError::NotFound("x".into())).exit, 127);
        assert_eq!(run_error(RunError::PermissionDenied("x".into())).exit, 126);
        assert_eq!(
            run_error(RunError::InvalidEnvName("x".into())).code,
            "invalid_env_name"
        );
    }
}
