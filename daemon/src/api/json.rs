//! A JSON extractor whose rejections are the project's error codes: `body_too_large` past
//! `MAX_BODY_BYTES`, `invalid_json` for anything serde refuses (axum's own `Json` answers with
//! plain text and other statuses).

use agentkeys_core::error::{ApiError, ErrorCode};
use agentkeys_core::wire::MAX_BODY_BYTES;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use super::error::ApiFailure;

pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiFailure;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES)
            .await
            .map_err(|e| {
                let too_large = std::error::Error::source(&e)
                    .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
                if too_large {
                    ApiError::new(
                        ErrorCode::BodyTooLarge,
                        format!("the request body is larger than {MAX_BODY_BYTES} bytes"),
                    )
                } else {
                    ApiError::new(ErrorCode::BadRequest, "the request body could not be read")
                }
            })?;
        let value = serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::new(
                ErrorCode::InvalidJson,
                format!(
                    "the request body is not the expected JSON: {}",
                    redact_quoted(&e.to_string())
                ),
            )
        })?;
        Ok(ApiJson(value))
    }
}

/// serde quotes an offending string value in its message (`invalid type: string "..."`), and
/// that string could be a secret sent in the wrong field; field names use backticks and stay.
fn redact_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut inside = false;
    for c in message.chars() {
        if c == '"' {
            if !inside {
                out.push_str("\"…\"");
            }
            inside = !inside;
        } else if !inside {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn quoted_values_are_redacted() {
        let msg = r#"invalid type: string "s3cret", expected u64 at line 1 column 9"#;
        let out = super::redact_quoted(msg);
        assert!(!out.contains("s3cret"));
        assert!(out.contains("expected u64 at line 1 column 9"));
        assert_eq!(
            super::redact_quoted("missing field `name`"),
            "missing field `name`"
        );
    }
}
