//! The forms a value commonly takes when a program prints it indirectly: inside JSON, as a
//! Python `repr`, or percent-encoded into a URL or form. Masking each of these as well
//! catches the usual accidents (logging a config dict, a request URL); a child that means to
//! leak a value can always encode it some other way.

use std::fmt::Write as _;

use zeroize::Zeroizing;

/// The raw value first, then every distinct encoded form that differs from it.
pub fn forms(value: &[u8]) -> Vec<Zeroizing<Vec<u8>>> {
    let mut all: Vec<Zeroizing<Vec<u8>>> = vec![Zeroizing::new(value.to_vec())];
    let mut push = |form: Zeroizing<String>| {
        if !all.iter().any(|f| f[..] == *form.as_bytes()) {
            all.push(Zeroizing::new(form.as_bytes().to_vec()));
        }
    };
    if let Ok(text) = std::str::from_utf8(value) {
        push(json(text, true));
        push(json(text, false));
        push(py_repr(text));
    }
    push(py_bytes_repr(value));
    for keep_slash in [false, true] {
        for upper in [true, false] {
            for plus_for_space in [false, true] {
                push(percent(value, keep_slash, upper, plus_for_space));
            }
        }
    }
    all
}

/// The inside of a JSON string as Python's `json.dumps` writes it: with `ensure_ascii` (the
/// default) every character outside printable ASCII becomes `\uXXXX` (surrogate pairs above
/// the BMP); without it only quotes, backslashes and control characters are escaped, which is
/// also what most other JSON encoders write.
fn json(text: &str, ensure_ascii: bool) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(text.len() + 8));
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if u32::from(c) < 0x20 || (ensure_ascii && !(' '..='~').contains(&c)) => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    // Writing to a String cannot fail.
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// The inside of Python 3's `repr(str)`: single quotes unless the text has a single quote
/// and no double one, backslash escapes for the quote, backslash and ASCII controls, other
/// characters as they are.
fn py_repr(text: &str) -> Zeroizing<String> {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = Zeroizing::new(String::with_capacity(text.len() + 8));
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if u32::from(c) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// The inside of Python 3's `repr(bytes)`: like `py_repr`, and every byte outside printable
/// ASCII as `\xNN`.
fn py_bytes_repr(value: &[u8]) -> Zeroizing<String> {
    let quote = if value.contains(&b'\'') && !value.contains(&b'"') {
        b'"'
    } else {
        b'\''
    };
    let mut out = Zeroizing::new(String::with_capacity(value.len() + 8));
    for &b in value {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            b if b == quote => {
                out.push('\\');
                out.push(char::from(b));
            }
            b' '..=b'~' => out.push(char::from(b)),
            b => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out
}

/// Percent-encoding of every byte outside the RFC 3986 unreserved set, in the variants
/// encoders actually produce: upper- or lower-case hex, `/` kept (Python's `quote` default)
/// or encoded, and space as `+` (form encoding, `quote_plus`) or `%20`.
fn percent(value: &[u8], keep_slash: bool, upper: bool, plus_for_space: bool) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(value.len() * 3));
    for &b in value {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(b))
            }
            b'/' if keep_slash => out.push('/'),
            b' ' if plus_for_space => out.push('+'),
            b if upper => {
                let _ = write!(out, "%{b:02X}");
            }
            b => {
                let _ = write!(out, "%{b:02x}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(value: &str) -> Vec<String> {
        forms(value.as_bytes())
            .iter()
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect()
    }

    #[test]
    fn plain_tokens_have_only_their_raw_form() {
        assert_eq!(strings("sk-test_0123.abc~"), ["sk-test_0123.abc~"]);
    }

    #[test]
    fn json_escapes_like_json_dumps() {
        let f = strings("a\"b\\c\nd\te\u{1}f");
        assert!(f.contains(&r#"a\"b\\c\nd\te\u0001f"#.to_string()), "{f:?}");
    }

    #[test]
    fn json_ensure_ascii_escapes_non_ascii_and_surrogates() {
        let f = strings("pä🔑ss");
        assert!(f.contains(&r"p\u00e4\ud83d\udd11ss".to_string()), "{f:?}");
        // ensure_ascii=False (and most other encoders) leave it alone: that is the raw form.
        assert_eq!(f[0], "pä🔑ss");
    }

    #[test]
    fn python_repr_escapes() {
        let f = strings("it's\\x\u{7f}");
        // Has a single quote and no double quote: Python picks double quotes, no \'.
        assert!(f.contains(&r"it's\\x\x7f".to_string()), "{f:?}");
        let f = strings("it's \"q\"");
        assert!(f.contains(&r#"it\'s "q""#.to_string()), "{f:?}");
    }

    #[test]
    fn python_bytes_repr_escapes_non_ascii() {
        let f = strings("pä");
        assert!(f.contains(&r"p\xc3\xa4".to_string()), "{f:?}");
    }

    #[test]
    fn percent_encoding_in_every_common_variant() {
        let f = strings("a/b+c d=é");
        for want in [
            "a%2Fb%2Bc%20d%3D%C3%A9",
            "a%2fb%2bc%20d%3d%c3%a9",
            "a%2Fb%2Bc+d%3D%C3%A9",
            "a%2fb%2bc+d%3d%c3%a9",
            "a/b%2Bc%20d%3D%C3%A9",
            "a/b%2bc+d%3d%c3%a9",
        ] {
            assert!(f.contains(&want.to_string()), "{want}: {f:?}");
        }
    }

    #[test]
    fn forms_are_distinct() {
        let f = strings("a/b+c d=é\"'\\");
        let mut dedup = f.clone();
        dedup.sort();
        dedup.dedup();
        assert_eq!(dedup.len(), f.len());
    }
}
