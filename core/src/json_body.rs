//! Request bodies as JSON, decoded the same way by the relay and the daemon: a refusal is
//! `invalid_json` with serde's explanation, minus anything the caller sent.
//!
//! serde quotes an offending value in its message (`invalid type: string "sk-…"`, ``unknown
//! variant `sk-…` ``, ``unknown field `sk-…` ``, ``invalid value: integer `1234` ``), and that
//! value may be a secret sent in the wrong place, which then lands in responses and logs. What
//! stays: serde's wording, the names of *our* fields where serde reports one of them missing or
//! duplicated, and the `expected …` part, which describes our types, never the input.

use crate::error::{ApiError, ErrorCode};
use serde::de::DeserializeOwned;

/// Stands for every redacted value.
const REDACTED: &str = "…";

/// Decodes `bytes` as `T`; on failure `invalid_json` with a redacted explanation.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::new(
            ErrorCode::InvalidJson,
            format!(
                "the request body is not the expected JSON: {}",
                redacted_message(&e)
            ),
        )
    })
}

/// serde_json's message without the position suffix and without any submitted value.
pub fn redacted_message(e: &serde_json::Error) -> String {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let message = full.strip_suffix(&suffix).unwrap_or(&full);
    redact(message)
}

/// Where serde names one of the target type's own fields, which are safe to show.
const OWN_FIELD_PREFIXES: &[&str] = &["missing field `", "duplicate field `"];

/// Where serde's own description of the expected type begins. The last occurrence is taken:
/// a submitted value could contain the same words, our type descriptions cannot.
const EXPECTATION_MARKERS: &[&str] = &[", expected ", ", there are no "];

fn redact(message: &str) -> String {
    if OWN_FIELD_PREFIXES.iter().any(|p| message.starts_with(p)) && !message.contains(", ") {
        return message.to_string();
    }
    let split = EXPECTATION_MARKERS
        .iter()
        .filter_map(|m| message.rfind(m))
        .max()
        .unwrap_or(message.len());
    let (head, tail) = message.split_at(split);
    // Whatever follows the first quote or backtick of the head is the submitted value (with
    // any quotes or backticks of its own): it is replaced whole, never parsed.
    let head = match head.find(['"', '`']) {
        Some(at) => {
            let delim = &head[at..at + 1];
            format!("{}{delim}{REDACTED}{delim}", &head[..at])
        }
        None => head.to_string(),
    };
    format!("{head}{}", redact_quoted(tail))
}

/// Double-quoted strings in the expectation are redacted too; serde never puts values there,
/// but a custom `expecting` might.
fn redact_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut parts = text.split('"');
    if let Some(first) = parts.next() {
        out.push_str(first);
    }
    for (i, part) in parts.enumerate() {
        out.push('"');
        out.push_str(if i % 2 == 0 { REDACTED } else { part });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::DataClass;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Target {
        name: String,
        count: u64,
        class: DataClass,
    }

    const SECRET: &str = "sk-live-7f3a9c";

    fn refusal(body: &str) -> ApiError {
        decode::<Target>(body.as_bytes()).expect_err("refused")
    }

    #[test]
    fn a_submitted_value_never_appears() {
        let spellings = [
            SECRET.to_string(),
            format!("{SECRET}\\\"`, expected u64"),
            format!("{SECRET}`, expected one of `x`"),
            format!("a\\\"{SECRET}"),
        ];
        for s in &spellings {
            for body in [
                // wrong type
                format!(r#"{{"name":"n","count":"{s}","class":"memory"}}"#),
                // unknown variant
                format!(r#"{{"name":"n","count":1,"class":"{s}"}}"#),
                // unknown field
                format!(r#"{{"name":"n","count":1,"class":"memory","{s}":1}}"#),
                // wrong type at the top level
                format!(r#""{s}""#),
            ] {
                let e = refusal(&body);
                assert_eq!(e.code, ErrorCode::InvalidJson);
                assert!(!e.message.contains("sk-live"), "{body} -> {}", e.message);
                assert!(!e.message.contains("7f3a9c"), "{body} -> {}", e.message);
            }
        }
        // Numbers are values too.
        let e = refusal(r#"{"name":"n","count":-739164,"class":"memory"}"#);
        assert!(!e.message.contains("739164"), "{}", e.message);
    }

    #[test]
    fn our_field_names_and_expectations_stay() {
        let cases = [
            (r#"{"name":"n","count":1}"#, "missing field `class`"),
            (
                r#"{"name":"n","name":"m","count":1,"class":"memory"}"#,
                "duplicate field `name`",
            ),
            (
                r#"{"name":"n","count":"x","class":"memory"}"#,
                r#"invalid type: string "…", expected u64"#,
            ),
            (
                r#"{"name":"n","count":1,"class":"gold"}"#,
                "unknown variant `…`, expected `credentials` or `memory`",
            ),
            (
                r#"{"name":"n","count":1,"class":"memory","x":1}"#,
                "unknown field `…`, expected one of `name`, `count`, `class`",
            ),
            ("{not json", "key must be a string"),
        ];
        for (body, want) in cases {
            let e = refusal(body);
            assert_eq!(
                e.message,
                format!("the request body is not the expected JSON: {want}"),
                "{body}"
            );
        }
    }
}
