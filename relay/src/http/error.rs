//! Failures become responses in the project's error shape; the conversion lives in core so the
//! relay and the daemon answer alike.

pub use agentkeys_core::axum_response::{method_not_allowed, route_not_found, ApiFailure};

use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

pub fn json_ok<T: Serialize>(value: &T) -> Response {
    (axum::http::StatusCode::OK, Json(value)).into_response()
}
