//! Where a secret value comes from for `store` and `memory put`, in order:
//!
//! 1. `--value V`: works, but the value is visible in shell history and to any local user
//!    through the process table, so a warning is printed.
//! 2. stdin, when it is not a terminal: read to the end, and ONE trailing `\n` or `\r\n` is
//!    removed, so `echo secret | agentkeys store x` stores `secret`. To store a value that
//!    ends in a newline, pipe it with one extra newline.
//! 3. otherwise a hidden prompt, asked twice and compared.
//!
//! Buffers are wiped on drop. An empty value is refused (`invalid_value`).

use std::io::{IsTerminal, Read};

use agentkeys_core::error::ErrorCode;
use agentkeys_core::names::MAX_VALUE_BYTES;
use zeroize::Zeroizing;

use crate::error::CliError;
use crate::output;

pub fn read_value(what: &str, flag: Option<String>) -> Result<Zeroizing<Vec<u8>>, CliError> {
    let value = match flag {
        Some(v) => {
            output::note(
                "agentkeys: warning: a value given with --value is visible in shell history and \
                 process listings; pipe it on stdin or use the prompt instead",
            );
            Zeroizing::new(v.into_bytes())
        }
        None if !std::io::stdin().is_terminal() => read_piped(std::io::stdin().lock())?,
        None => prompt_twice(what)?,
    };
    check(value)
}

/// Reads all of `reader` (bounded), then strips one trailing newline.
pub fn read_piped(reader: impl Read) -> Result<Zeroizing<Vec<u8>>, CliError> {
    // Room for the largest value plus "\r\n" and one byte to detect "too large"; reserving it
    // up front means the buffer never reallocates and leaves unwiped copies behind.
    let limit = MAX_VALUE_BYTES + 3;
    let mut buf = Zeroizing::new(Vec::with_capacity(limit + 32));
    reader
        .take(limit as u64)
        .read_to_end(&mut buf)
        .map_err(|e| CliError::new(ErrorCode::InvalidValue, format!("cannot read stdin: {e}")))?;
    strip_one_newline(&mut buf);
    Ok(buf)
}

pub fn strip_one_newline(buf: &mut Vec<u8>) {
    if buf.ends_with(b"\r\n") {
        buf.truncate(buf.len() - 2);
    } else if buf.ends_with(b"\n") {
        buf.truncate(buf.len() - 1);
    }
}

fn prompt_twice(what: &str) -> Result<Zeroizing<Vec<u8>>, CliError> {
    let ask = |prompt: String| {
        rpassword::prompt_password(prompt)
            .map(Zeroizing::new)
            .map_err(|e| {
                CliError::new(
                    ErrorCode::InvalidValue,
                    format!("cannot prompt for the value ({e}); pipe it on stdin instead"),
                )
            })
    };
    let first = ask(format!("Value for {what}: "))?;
    let second = ask("Again, to confirm: ".to_string())?;
    if first.as_bytes() != second.as_bytes() {
        return Err(CliError::new(
            ErrorCode::InvalidValue,
            "the two entries differ; nothing was stored",
        ));
    }
    Ok(Zeroizing::new(first.as_bytes().to_vec()))
}

fn check(value: Zeroizing<Vec<u8>>) -> Result<Zeroizing<Vec<u8>>, CliError> {
    if value.is_empty() {
        return Err(CliError::new(ErrorCode::InvalidValue, "the value is empty"));
    }
    if value.len() > MAX_VALUE_BYTES {
        return Err(CliError::new(
            ErrorCode::InvalidValue,
            format!("the value is larger than {MAX_VALUE_BYTES} bytes"),
        ));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piped(input: &[u8]) -> Vec<u8> {
        read_piped(input).unwrap().to_vec()
    }

    #[test]
    fn exactly_one_trailing_newline_is_stripped() {
        assert_eq!(piped(b"secret\n"), b"secret");
        assert_eq!(piped(b"secret\r\n"), b"secret");
        assert_eq!(piped(b"secret"), b"secret");
        assert_eq!(piped(b"secret\n\n"), b"secret\n");
        assert_eq!(piped(b"a\nb\n"), b"a\nb");
        assert_eq!(piped(b"secret\r"), b"secret\r");
        assert_eq!(piped(b"\xff\x00bin\n"), b"\xff\x00bin");
    }

    #[test]
    fn empty_and_oversized_values_are_refused() {
        assert!(check(read_piped(&b"\n"[..]).unwrap())
            .unwrap_err()
            .is(ErrorCode::InvalidValue));
        assert!(check(read_piped(&b""[..]).unwrap()).is_err());
        let big = vec![b'x'; MAX_VALUE_BYTES + 1];
        let err = check(read_piped(&big[..]).unwrap()).unwrap_err();
        assert_eq!(err.code, "invalid_value");
        assert_eq!(err.exit, 7);
        let max = vec![b'x'; MAX_VALUE_BYTES];
        assert_eq!(
            check(read_piped(&max[..]).unwrap()).unwrap().len(),
            MAX_VALUE_BYTES
        );
    }

    #[test]
    fn flag_value_is_used_as_is() {
        let v = read_value("x", Some("a b\n".into())).unwrap();
        assert_eq!(v.as_slice(), b"a b\n");
    }
}
