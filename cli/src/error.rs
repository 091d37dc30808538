//! The CLI's one failure type: shown as exactly one line `agentkeys: <message> (<code>)` and
//! turned into the exit code of the error code (`docs/errors.md`).

use std::fmt;

use agentkeys_core::error::{exit, ApiError, ErrorBody, ErrorCode};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    /// Kept as a string: codes from a newer daemon or from `run`/`units` are shown as they are.
    pub code: String,
    pub message: String,
    pub exit: i32,
}

impl CliError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> CliError {
        CliError {
            code: code.as_str().to_string(),
            message: message.into(),
            exit: code.exit_code(),
        }
    }

    pub fn from_code(code: ErrorCode) -> CliError {
        CliError::new(code, code.default_message())
    }

    /// A code that is not one of the API's `ErrorCode`s (from `run`, `units` or the CLI).
    pub fn other(code: &str, message: impl Into<String>, exit: i32) -> CliError {
        CliError {
            code: code.to_string(),
            message: message.into(),
            exit,
        }
    }

    pub fn daemon_not_running() -> CliError {
        CliError::from_code(ErrorCode::DaemonNotRunning)
    }

    /// An error body from the daemon (or the relay, passed through by the daemon).
    pub fn from_body(body: ErrorBody) -> CliError {
        let exit = exit_for_code(&body.error.code);
        CliError {
            code: body.error.code,
            message: body.error.message,
            exit,
        }
    }

    pub fn is(&self, code: ErrorCode) -> bool {
        self.code == code.as_str()
    }
}

impl From<ApiError> for CliError {
    fn from(e: ApiError) -> Self {
        CliError::new(e.code, e.message)
    }
}

impl From<ErrorCode> for CliError {
    fn from(code: ErrorCode) -> Self {
        CliError::from_code(code)
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One line, whatever a server put in its message.
        let message = self.message.replace(['\n', '\r'], " ");
        write!(f, "{message} ({})", self.code)
    }
}

pub fn exit_for_code(code: &str) -> i32 {
    ErrorCode::parse(code)
        .map(ErrorCode::exit_code)
        .unwrap_or(exit::FAILURE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentkeys_core::error::ErrorDetail;

    #[test]
    fn codes_map_to_exit_codes() {
        assert_eq!(CliError::daemon_not_running().exit, 3);
        assert_eq!(CliError::from_code(ErrorCode::RelayUnreachable).exit, 4);
        assert_eq!(CliError::from_code(ErrorCode::SecretNotFound).exit, 5);
        assert_eq!(CliError::from_code(ErrorCode::NotInitialized).exit, 8);
        assert_eq!(CliError::from_code(ErrorCode::InvalidValue).exit, 7);
        assert_eq!(exit_for_code("some_future_code"), 1);
    }

    #[test]
    fn daemon_bodies_keep_their_code() {
        let e = CliError::from_body(ErrorBody {
            error: ErrorDetail {
                code: "pop_replayed".into(),
                message: "replayed\nproof".into(),
            },
        });
        assert_eq!(e.exit, 6);
        assert_eq!(e.to_string(), "replayed proof (pop_replayed)");
    }
}
