//! Every failure the socket API returns is the project's `ErrorBody` with the code's HTTP
//! status, including axum's own rejections (bad JSON, oversized bodies, unknown routes), so the
//! CLI can parse one shape and map it to an exit code.

use agentkeys_core::error::{ApiError, ErrorCode};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// Wraps the core `ApiError` so it can become an axum response (orphan rule).
#[derive(Debug)]
pub struct ApiFailure(pub ApiError);

pub type ApiResult<T> = Result<Json<T>, ApiFailure>;

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

pub async fn peer_not_allowed() -> ApiFailure {
    ErrorCode::PeerNotAllowed.into()
}
