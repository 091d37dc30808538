//! Writing results to stdout. A closed pipe (`agentkeys list | head -1`) ends output quietly
//! instead of panicking the way `println!` does.

use std::io::{self, Write};

use agentkeys_core::error::ErrorCode;
use serde::Serialize;

use crate::error::CliError;

pub fn bytes(data: &[u8]) -> Result<(), CliError> {
    let mut out = io::stdout().lock();
    match out.write_all(data).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(CliError::new(
            ErrorCode::Internal,
            format!("cannot write to stdout: {e}"),
        )),
    }
}

pub fn line(text: &str) -> Result<(), CliError> {
    bytes(format!("{text}\n").as_bytes())
}

pub fn json<T: Serialize>(value: &T) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::new(ErrorCode::Internal, format!("cannot encode JSON: {e}")))?;
    line(&text)
}

/// Warnings and notes go to stderr so stdout stays parseable.
pub fn note(text: &str) {
    let _ = writeln!(io::stderr(), "{text}");
}
