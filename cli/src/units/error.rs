use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum UnitError {
    #[error(
        "agentkeys-daemon not found next to this executable or on PATH; \
         install it or pass its absolute path"
    )]
    DaemonBinaryNotFound,
    #[error("refusing to write a unit for daemon path {path:?}: {reason}")]
    InvalidDaemonPath { path: PathBuf, reason: &'static str },
    #[error("no home directory found, so there is nowhere to put a user unit")]
    NoHomeDir,
    #[error("could not write {}: {source}", path.display())]
    WriteFailed { path: PathBuf, source: io::Error },
    #[error(
        "wrote {} but could not load it: `{command}` failed: {stderr}; \
         load it by hand, or rerun with --no-load",
        unit_path.display()
    )]
    LoadFailed {
        unit_path: PathBuf,
        command: String,
        stderr: String,
    },
    #[error("daemon install supports Linux (systemd) and macOS (launchd) only")]
    UnsupportedPlatform,
}

impl UnitError {
    /// Stable machine-readable code; scripts match on these, so never change
    /// an existing one.
    pub fn code(&self) -> &'static str {
        match self {
            UnitError::DaemonBinaryNotFound => "daemon_binary_not_found",
            UnitError::InvalidDaemonPath { .. } => "invalid_daemon_path",
            UnitError::NoHomeDir | UnitError::WriteFailed { .. } => "unit_write_failed",
            UnitError::LoadFailed { .. } => "unit_load_failed",
            UnitError::UnsupportedPlatform => "unsupported_platform",
        }
    }
}
