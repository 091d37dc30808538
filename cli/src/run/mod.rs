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
use std::sync::{Arc, Mutex, MutexGuard};

use zeroize::Zeroizing;

pub use error::RunError;

pub struct ChildSpec {
    pub program: OsString,
    pub args: Vec<OsString>,
    /// Variable name and secret value, added to the inherited environment.
    pub env: Vec<(String, Zeroizing<String>)>,
    /// Variables that are no secret (endpoints, bucket names): added, never masked.
    pub plain_env: Vec<(String, String)>,
    /// Inherited variables to take away from the child, before `env` and `plain_env` are
    /// added.
    pub remove_env: Vec<OsString>,
    /// Values the child obtains while it runs (not through its environment), masked from
    /// the moment they are added.
    pub late_secrets: Option<LateSecrets>,
    /// Mask secret values in the child's stdout and stderr.
    pub masking: bool,
}

/// Secrets handed to the child after it started (say by a credential endpoint). Add each
/// value before handing it out: output is checked against the list after every read.
#[derive(Clone, Default)]
pub struct LateSecrets(Arc<Mutex<Vec<Zeroizing<Vec<u8>>>>>);

impl LateSecrets {
    pub fn add(&self, value: &[u8]) {
        let mut list = self.lock();
        if !list.iter().any(|v| v[..] == *value) {
            list.push(Zeroizing::new(value.to_vec()));
        }
    }

    /// The values added after the first `seen` ones.
    fn since(&self, seen: usize) -> Vec<Zeroizing<Vec<u8>>> {
        self.lock()
            .get(seen..)
            .map(<[_]>::to_vec)
            .unwrap_or_default()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Zeroizing<Vec<u8>>>> {
        // A panic while holding the lock cannot leave the list half-updated.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
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
    let maskable = spec.late_secrets.is_some()
        || spec
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
