//! `agentkeys run`: child processes with secrets in their environment.
//!
//! Secrets only ever travel through the child's environment, never its argv
//! (which any local user can read from the process table). By default the
//! child's stdout and stderr are piped through [`mask::Masker`] so a program
//! that logs its configuration does not echo the secrets to the terminal or
//! to whatever captures our output.

mod child;
mod error;
pub mod mask;

use std::ffi::OsString;

use zeroize::Zeroizing;

pub use error::RunError;

pub struct ChildSpec {
    pub program: OsString,
    pub args: Vec<OsString>,
    /// Variable name and secret value, added to the inherited environment.
    pub env: Vec<(String, Zeroizing<String>)>,
    /// Variables that are no secret (endpoints, bucket names): added, never masked.
    pub plain_env: Vec<(String, String)>,
    /// Mask secret values in the child's stdout and stderr.
    pub masking: bool,
}

/// Runs the child to completion; returns the exit code to exit with (the
/// child's code, or 128+signal if it was killed by a signal).
pub async fn run_child(spec: ChildSpec) -> Result<i32, RunError> {
    validate_env(&spec.env)?;
    for (name, value) in &spec.plain_env {
        if !is_valid_env_name(name) {
            return Err(RunError::InvalidEnvName(name.clone()));
        }
        if value.contains('\0') {
            return Err(RunError::InvalidEnvValue(name.clone()));
        }
    }
    // Piping costs the child its terminal (no colours, block buffering), so
    // only pipe when there is something to mask.
    let maskable = spec
        .env
        .iter()
        .any(|(_, v)| v.len() >= mask::MIN_MASKED_LEN);
    if spec.masking && maskable {
        let output = child::Output::Pipe {
            out: tokio::io::stdout(),
            err: tokio::io::stderr(),
        };
        child::execute(spec, output).await
    } else {
        child::execute(spec, child::Output::inherit()).await
    }
}

/// True for POSIX-portable names: `[A-Za-z_][A-Za-z0-9_]*`. Anything else
/// either cannot be set (`=`, NUL) or cannot be read back by a shell.
pub fn is_valid_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn validate_env(env: &[(String, Zeroizing<String>)]) -> Result<(), RunError> {
    for (name, value) in env {
        if !is_valid_env_name(name) {
            return Err(RunError::InvalidEnvName(name.clone()));
        }
        if value.contains('\0') {
            return Err(RunError::InvalidEnvValue(name.clone()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
