//! Request bodies: read with a hard size limit, decoded with stable error codes.

use super::ApiFailure;
use agentkeys_core::{json_body, ApiError, ErrorCode};
use axum::body::Body;
use axum::http::HeaderMap;
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use serde::de::DeserializeOwned;

/// Reads at most `limit` bytes; more is `body_too_large`.
pub async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiFailure> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(ErrorCode::BodyTooLarge.into()),
        Err(_) => {
            Err(ApiError::new(ErrorCode::BadRequest, "the request body could not be read").into())
        }
    }
}

/// `invalid_json` with serde's explanation, redacted of anything the caller sent (shared with
/// the daemon: [`agentkeys_core::json_body`]).
pub fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiFailure> {
    Ok(json_body::decode(bytes)?)
}

/// The token of `Authorization: Bearer <token>`, if present and well-formed.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let token = value.strip_prefix("Bearer ")?.trim();
    (!token.is_empty()).then_some(token)
}
