//! [`ApiError`] as an axum response, for the relay and the daemon (feature `axum`): the code's
//! HTTP status and the `{"error":{code,message}}` body, plus the fallbacks for unknown routes
//! and methods, so both servers answer every failure in the same shape.

use crate::error::{ApiError, ErrorCode};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// Handlers return `Result<_, ApiFailure>`; `?` converts from [`ApiError`] and [`ErrorCode`].
#[derive(Debug)]
pub struct ApiFailure(pub ApiError);

impl From<ApiError> for ApiFailure {
    fn from(e: ApiError) -> Self {
        ApiFailure(e)
    }
}

impl From<ErrorCode> for ApiFailure {
    fn from(code: ErrorCode) -> Self {
        ApiFailure(ApiError::from_code(code))
    }
}

impl IntoResponse for ApiFailure {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = (status, Json(self.0.to_body())).into_response();
        if self.0.code == ErrorCode::BodyTooLarge {
            // The rest of the body is never read, so the connection cannot carry another
            // request; saying so keeps clients from putting it back in their pool.
            resp.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
        }
        resp
    }
}

pub async fn route_not_found() -> ApiFailure {
    ErrorCode::RouteNotFound.into()
}

pub async fn method_not_allowed() -> ApiFailure {
    ErrorCode::MethodNotAllowed.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_body_closes_the_connection() {
        let resp = ApiFailure::from(ErrorCode::BodyTooLarge).into_response();
        assert_eq!(resp.status().as_u16(), 413);
        assert_eq!(resp.headers()["connection"], "close");
        let resp = ApiFailure::from(ErrorCode::InvalidJson).into_response();
        assert!(resp.headers().get("connection").is_none());
    }
}
