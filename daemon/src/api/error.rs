//! Every failure the socket API returns is the project's `ErrorBody` with the code's HTTP
//! status, including axum's own rejections (bad JSON, oversized bodies, unknown routes), so the
//! CLI can parse one shape and map it to an exit code.

use agentkeys_core::error::ErrorCode;
use axum::Json;

pub use agentkeys_core::axum_response::{method_not_allowed, route_not_found, ApiFailure};

pub type ApiResult<T> = Result<Json<T>, ApiFailure>;

pub async fn peer_not_allowed() -> ApiFailure {
    ErrorCode::PeerNotAllowed.into()
}
