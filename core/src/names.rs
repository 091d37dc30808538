//! Names that appear in paths, tokens and associated data: data classes, operations, service
//! and memory namespace names, agent labels. Validated once here so every component agrees.

use crate::error::ErrorCode;
use serde::{Deserialize, Serialize};
use std::fmt;

/// One bucket (and, on AWS, one role) per data class; a capability names exactly one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataClass {
    Credentials,
    Memory,
}

impl DataClass {
    pub fn as_str(self) -> &'static str {
        match self {
            DataClass::Credentials => "credentials",
            DataClass::Memory => "memory",
        }
    }

    pub fn parse(s: &str) -> Option<DataClass> {
        match s {
            "credentials" => Some(DataClass::Credentials),
            "memory" => Some(DataClass::Memory),
            _ => None,
        }
    }
}

impl fmt::Display for DataClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The operation a capability allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    Store,
    Fetch,
    Teardown,
    List,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Store => "store",
            Op::Fetch => "fetch",
            Op::Teardown => "teardown",
            Op::List => "list",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `svc` claim of a list capability: every object of the actor in the data class. `*` is
/// never a valid object name, so a list capability cannot be used on one object.
pub const LIST_ALL: &str = "*";

/// Longest secret or memory value the vault accepts (bytes of plaintext).
pub const MAX_VALUE_BYTES: usize = 1024 * 1024;

/// Validates a service name or memory namespace: 1-64 bytes of `a-z 0-9 . _ -`, starting with a
/// letter or digit, never containing `..`. The name becomes part of an S3 key, so anything that
/// could change the path (`/`, `\`, `..`) or glob (`*`, `?`) is refused.
pub fn validate_object_name(name: &str) -> Result<(), ErrorCode> {
    let bytes = name.as_bytes();
    let ok = !bytes.is_empty()
        && bytes.len() <= 64
        && bytes[0].is_ascii_alphanumeric()
        && bytes.iter().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        })
        && !name.contains("..");
    if ok {
        Ok(())
    } else {
        Err(ErrorCode::InvalidServiceName)
    }
}

/// Validates an agent label: `[a-z0-9-]{1,32}` (ARCHITECTURE §3).
pub fn validate_agent_label(label: &str) -> Result<(), ErrorCode> {
    let ok = !label.is_empty()
        && label.len() <= 32
        && label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(ErrorCode::InvalidAgentLabel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_names() {
        for good in ["openrouter", "a", "aws.prod", "my_key-2", &"x".repeat(64)] {
            assert_eq!(validate_object_name(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "Upper",
            "a/b",
            "a\\b",
            "*",
            "a?",
            "..",
            "a..b",
            ".hidden",
            "-x",
            "sp ace",
            "é",
            &"x".repeat(65),
        ] {
            assert_eq!(
                validate_object_name(bad),
                Err(ErrorCode::InvalidServiceName),
                "{bad}"
            );
        }
    }

    #[test]
    fn agent_labels() {
        assert!(validate_agent_label("coder-1").is_ok());
        assert!(validate_agent_label("").is_err());
        assert!(validate_agent_label("Coder").is_err());
        assert!(validate_agent_label(&"a".repeat(33)).is_err());
    }
}
