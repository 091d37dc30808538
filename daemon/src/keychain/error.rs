use std::path::PathBuf;

/// Errors from device-key storage.
///
/// Messages carry paths, backend names and OS error text, never key material: callers log
/// them and send [`KeychainError::code`] over the socket API.
#[derive(Debug, thiserror::Error)]
pub enum KeychainError {
    /// `create` found a device key (or any entry) already stored under this account.
    #[error("a device key is already stored; refusing to overwrite it")]
    AlreadyExists,
    /// The stored entry is not tagged as a v1 device key, so it was stored for another
    /// purpose (or by another program) and must not be used as the device identity.
    #[error("the stored entry is not tagged as an AgentKeys device key; refusing to use it")]
    WrongPurpose,
    /// A fallback key file, or its directory, can be read or replaced by other users.
    #[error("insecure permissions or ownership on {0}; expected owner-only access (0600 files, 0700 directory)")]
    InsecurePermissions(PathBuf),
    /// The stored entry carries the right tag but cannot be decoded or authenticated
    /// (truncated, edited, or paired with the wrong wrapping key).
    #[error("the stored device key is corrupt: {0}")]
    Corrupt(String),
    /// The keychain backend failed or did not answer in time.
    #[error("keychain backend error: {0}")]
    Backend(String),
    /// Reading or writing the fallback files failed.
    #[error("keychain file error: {0}")]
    Io(String),
    /// No backend allowed by the configured mode works on this machine.
    #[error("no usable keychain backend: {0}")]
    NoBackend(String),
    /// The configuration itself is unusable (empty or ambiguous service/account names).
    #[error("invalid keychain configuration: {0}")]
    InvalidConfig(String),
}

impl KeychainError {
    /// Stable snake_case code for the socket API and scripts; never changes with wording.
    pub fn code(&self) -> &'static str {
        match self {
            KeychainError::AlreadyExists => "keychain_key_exists",
            KeychainError::WrongPurpose => "keychain_wrong_purpose",
            KeychainError::InsecurePermissions(_) => "keychain_insecure_permissions",
            KeychainError::Corrupt(_) => "keychain_corrupt",
            KeychainError::Backend(_) => "keychain_backend_error",
            KeychainError::Io(_) => "keychain_io_error",
            KeychainError::NoBackend(_) => "keychain_unavailable",
            KeychainError::InvalidConfig(_) => "keychain_invalid_config",
        }
    }
}
