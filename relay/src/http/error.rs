//! Converts [`ApiError`] into responses with its status and `{"error":{code,message}}` body.

use agentkeys_core::{ApiError, ErrorCode};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

/// Newtype so handlers can return `Result<_, ApiFailure>` (the orphan rule forbids
/// implementing axum's trait on core's type directly).
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

pub fn json_ok<T: Serialize>(value: &T) -> Response {
    (StatusCode::OK, Json(value)).into_response()
}

pub async fn route_not_found() -> ApiFailure {
    ErrorCode::RouteNotFound.into()
}

pub async fn method_not_allowed() -> ApiFailure {
    ErrorCode::MethodNotAllowed.into()
}
