//! A JSON extractor whose rejections are the project's error codes: `body_too_large` past
//! `MAX_BODY_BYTES`, `invalid_json` for anything serde refuses (axum's own `Json` answers with
//! plain text and other statuses), redacted as the relay's ([`json_body`]).

use agentkeys_core::error::{ApiError, ErrorCode};
use agentkeys_core::json_body;
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
        Ok(ApiJson(json_body::decode(&bytes)?))
    }
}
