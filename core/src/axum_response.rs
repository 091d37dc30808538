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
        (status, Json(self.0.to_body())).into_response()
    }
}

pub async fn route_not_found() -> ApiFailure {
    ErrorCode::RouteNotFound.into()
}

pub async fn method_not_allowed() -> ApiFailure {
    ErrorCode::MethodNotAllowed.into()
}
