//! `POST /<token>/result`: the page's one answer (a credential, or the error the browser
//! reported), size-limited, checked for its origin, verified by the flow and handed to the
//! waiting [`Ceremony`](super::Ceremony). The first answer ends the ceremony, success or not.

use agentkeys_core::axum_response::ApiFailure;
use agentkeys_core::error::{ApiError, ErrorCode};
use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::server::{Flow, Shared};

/// A result is a credential of a few hundred bytes (more with attestation certificates).
pub(crate) const MAX_RESULT_BYTES: usize = 64 * 1024;
/// The longest browser error text kept in the refusal.
const MAX_BROWSER_ERROR_CHARS: usize = 300;

/// What the page posts: the credential, or the error the browser reported (the user cancelled
/// on the page after a failure).
#[derive(Deserialize)]
struct ResultBody {
    credential: Option<serde_json::Value>,
    error: Option<BrowserError>,
}

#[derive(Deserialize)]
struct BrowserError {
    name: String,
    message: String,
}

pub(super) async fn handle<F: Flow>(shared: &Shared<F>, req: Request) -> Response {
    // A browser always sends Origin on a POST; another page cannot post here (it would not
    // know the token either, but the check is cheap).
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        if origin.as_bytes() != shared.origin.as_bytes() {
            return ApiFailure(ApiError::new(
                ErrorCode::CeremonyFailed,
                "the result was posted from another origin",
            ))
            .into_response();
        }
    }
    let bytes = match axum::body::to_bytes(req.into_body(), MAX_RESULT_BYTES).await {
        Ok(bytes) => bytes,
        Err(e) => {
            let too_large = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            let err = if too_large {
                ApiError::new(
                    ErrorCode::BodyTooLarge,
                    format!("the result is larger than {MAX_RESULT_BYTES} bytes"),
                )
            } else {
                ApiError::new(ErrorCode::BadRequest, "the result could not be read")
            };
            return ApiFailure(err).into_response();
        }
    };
    let body: ResultBody = match serde_json::from_slice(&bytes) {
        Ok(body) => body,
        Err(_) => {
            return ApiFailure(ApiError::new(
                ErrorCode::InvalidJson,
                "the result is not {\"credential\": …} or {\"error\": …}",
            ))
            .into_response()
        }
    };
    let outcome = match (body.credential, body.error) {
        (Some(credential), None) => Ok(credential),
        (None, Some(e)) => Err(ApiError::new(
            ErrorCode::CeremonyFailed,
            format!(
                "the browser reported {}: {}",
                clip(&e.name, 64),
                clip(&e.message, MAX_BROWSER_ERROR_CHARS)
            ),
        )),
        _ => {
            return ApiFailure(ApiError::new(
                ErrorCode::BadRequest,
                "the result needs exactly one of credential and error",
            ))
            .into_response()
        }
    };
    let sender = match shared.result.lock() {
        Ok(mut slot) => slot.take(),
        Err(_) => None,
    };
    let Some(sender) = sender else {
        return ApiFailure(ApiError::new(
            ErrorCode::CeremonyFailed,
            "this ceremony already has its result; run the command again for another",
        ))
        .into_response();
    };
    let verified = outcome.and_then(|credential| shared.flow.finish(credential));
    let resp = match &verified {
        Ok(_) => (
            StatusCode::OK,
            Json(serde_json::json!({ "ok": true, "message": F::DONE })),
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(code = %e.code, "ceremony refused");
            ApiFailure(e.clone()).into_response()
        }
    };
    // The waiter may have timed out and gone; the page still learns the outcome.
    let _ = sender.send(verified);
    resp
}

/// At most `max` characters, on a character boundary.
fn clip(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}
