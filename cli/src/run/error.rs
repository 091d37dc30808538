use std::ffi::OsString;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(
        "invalid environment variable name {0:?}: use letters, digits and '_', \
         not starting with a digit"
    )]
    InvalidEnvName(String),
    #[error("the value for {0} contains a NUL byte and cannot be put in an environment")]
    InvalidEnvValue(String),
    #[error("command not found: {}", .0.to_string_lossy())]
    NotFound(OsString),
    #[error("command is not executable (permission denied): {}", .0.to_string_lossy())]
    PermissionDenied(OsString),
    #[error("running the command failed: {0}")]
    Io(#[from] std::io::Error),
}

impl RunError {
    /// Stable machine-readable code; scripts match on these, so never change
    /// an existing one.
    pub fn code(&self) -> &'static str {
        match self {
            RunError::InvalidEnvName(_) => "invalid_env_name",
            RunError::InvalidEnvValue(_) => "invalid_env_value",
            RunError::NotFound(_) => "command_not_found",
            RunError::PermissionDenied(_) => "command_not_executable",
            RunError::Io(_) => "io_error",
        }
    }
}
