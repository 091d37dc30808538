//! Bucket and key validation, and the key → file name encoding.
//!
//! Each bucket is one flat directory; each object is one file in it, named from its key:
//!
//! - `o-<escaped key>` where every byte outside `[a-z0-9._-]` (including `/`, `%` and all
//!   upper-case letters) becomes `%xx` with lower-case hex;
//! - `h-<sha256(key) hex>` when that name would exceed [`MAX_ESCAPED_NAME`] bytes (keys may
//!   be 1024 bytes, file names only 255); the key itself is read back from the file header.
//!
//! Why flat and escaped rather than one directory per `/` segment: every object's rename
//! stays within one directory (no empty-directory cleanup racing a concurrent PUT); names
//! use only characters that are the same on case-insensitive and normalising file systems
//! (APFS, where `Key` and `key` would otherwise collide), so the mapping is injective on
//! every platform; and decoding a name needs no directory walk. The two kinds of name
//! cannot collide because of their distinct prefixes. Listing decodes names without opening
//! files, except for the rare hashed ones.

use sha2::{Digest, Sha256};

/// Longest key S3 accepts.
pub const MAX_KEY_LEN: usize = 1024;

/// Longest `o-` file name; leaves room under the usual 255-byte `NAME_MAX`.
const MAX_ESCAPED_NAME: usize = 240;

const ESCAPED_PREFIX: &str = "o-";
const HASHED_PREFIX: &str = "h-";

/// Why a key was refused; maps to S3 `KeyTooLongError` or `InvalidArgument`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("object key must not be empty")]
    Empty,
    #[error("object key is longer than {MAX_KEY_LEN} bytes")]
    TooLong,
    #[error("object key must not contain NUL or backslash")]
    ForbiddenChar,
    #[error("object key must not contain empty, '.' or '..' path segments")]
    BadSegment,
}

/// Checks a key before it can name a file. Refusing `.`/`..`/empty segments keeps keys
/// unambiguous for any consumer that treats them as paths, even though the flat encoding
/// below could store them.
pub fn validate_key(key: &str) -> Result<(), KeyError> {
    if key.is_empty() {
        return Err(KeyError::Empty);
    }
    if key.len() > MAX_KEY_LEN {
        return Err(KeyError::TooLong);
    }
    if key.bytes().any(|b| b == 0 || b == b'\\') {
        return Err(KeyError::ForbiddenChar);
    }
    if key
        .split('/')
        .any(|seg| seg.is_empty() || seg == "." || seg == "..")
    {
        return Err(KeyError::BadSegment);
    }
    Ok(())
}

/// S3 bucket naming rules (general purpose buckets): 3–63 characters of `[a-z0-9.-]`,
/// starting and ending with a letter or digit, no `..`, not shaped like an IPv4 address.
/// The leading-character rule also keeps bucket directories apart from `.tmp`.
pub fn validate_bucket(name: &str) -> bool {
    let bytes = name.as_bytes();
    let edge_ok = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    (3..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && bytes.first().is_some_and(|&b| edge_ok(b))
        && bytes.last().is_some_and(|&b| edge_ok(b))
        && !name.contains("..")
        && name.parse::<std::net::Ipv4Addr>().is_err()
}

/// How a directory entry relates to a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileName {
    /// The key is encoded in the name.
    Escaped(String),
    /// The key must be read from the file header.
    Hashed,
}

/// The file name that stores `key` (which must have passed [`validate_key`]).
pub fn file_name(key: &str) -> String {
    let mut name = String::with_capacity(ESCAPED_PREFIX.len() + key.len());
    name.push_str(ESCAPED_PREFIX);
    for &b in key.as_bytes() {
        if is_literal(b) {
            name.push(char::from(b));
        } else {
            name.push('%');
            name.push(hex_digit(b >> 4));
            name.push(hex_digit(b & 0x0f));
        }
        if name.len() > MAX_ESCAPED_NAME {
            return format!(
                "{HASHED_PREFIX}{}",
                hex::encode(Sha256::digest(key.as_bytes()))
            );
        }
    }
    name
}

/// Interprets a directory entry name; `None` for anything this store did not write
/// (including non-canonical escapes, so no two names ever decode to one key).
pub fn parse_file_name(name: &str) -> Option<FileName> {
    if let Some(hash) = name.strip_prefix(HASHED_PREFIX) {
        let is_hash =
            hash.len() == 64 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        return is_hash.then_some(FileName::Hashed);
    }
    let escaped = name.strip_prefix(ESCAPED_PREFIX)?;
    let key = unescape(escaped)?;
    (validate_key(&key).is_ok() && file_name(&key) == name).then_some(FileName::Escaped(key))
}

fn is_literal(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
}

fn hex_digit(v: u8) -> char {
    char::from(b"0123456789abcdef"[usize::from(v & 0x0f)])
}

/// Reverses `%xx` escapes; also decodes query values (`service::access`), which use the same
/// escaping.
pub(crate) fn unescape(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_with_dot_segments_or_empty_segments_are_refused() {
        for key in [".", "..", "a/../b", "a/./b", "a//b", "/a", "a/", "../x"] {
            assert_eq!(validate_key(key), Err(KeyError::BadSegment), "{key}");
        }
        assert_eq!(validate_key(""), Err(KeyError::Empty));
        assert_eq!(validate_key("a\\b"), Err(KeyError::ForbiddenChar));
        assert_eq!(validate_key("a\0b"), Err(KeyError::ForbiddenChar));
        assert_eq!(validate_key(&"k".repeat(1025)), Err(KeyError::TooLong));
        for key in ["a", "a/b/c", "...", "a.b/.c/..d", "A b%c"] {
            assert_eq!(validate_key(key), Ok(()), "{key}");
        }
    }

    #[test]
    fn file_names_round_trip_and_differ_by_case() {
        for key in ["a", "A", "a/b", "a%2fb", "Ünï/cödé", "x y+z", "o-x", "h-y"] {
            let name = file_name(key);
            assert!(name
                .bytes()
                .all(|b| !b.is_ascii_uppercase() && b != b'/' && b.is_ascii()));
            assert_eq!(
                parse_file_name(&name),
                Some(FileName::Escaped(key.to_owned()))
            );
        }
        assert_ne!(file_name("A"), file_name("a"));
        assert_ne!(file_name("a/b"), file_name("a%2fb"));
    }

    #[test]
    fn long_keys_are_hashed() {
        let key = "Z".repeat(200);
        let name = file_name(&key);
        assert!(name.starts_with("h-") && name.len() == 66);
        assert_eq!(parse_file_name(&name), Some(FileName::Hashed));
        assert!(file_name(&"z".repeat(200)).starts_with("o-"));
    }

    #[test]
    fn foreign_names_are_ignored() {
        for name in [
            ".DS_Store",
            "o-%2F",
            "o-A",
            "o-%zz",
            "h-xyz",
            "o-",
            "o-a%2f%2fb",
        ] {
            assert_eq!(parse_file_name(name), None, "{name}");
        }
    }

    #[test]
    fn bucket_names_follow_s3_rules() {
        for ok in ["abc", "my-bucket.1", "a".repeat(63).as_str()] {
            assert!(validate_bucket(ok), "{ok}");
        }
        for bad in [
            "ab",
            ".tmp",
            "Abc",
            "a..b",
            "-abc",
            "abc-",
            "192.168.1.1",
            "a_b",
            &"a".repeat(64),
        ] {
            assert!(!validate_bucket(bad), "{bad}");
        }
    }
}
