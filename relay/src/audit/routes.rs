//! The audit relay's internal HTTP API, mounted only when roles run apart: the vault appends
//! through it (internal token required) and gets a reply only once the record is durable.

use super::{AuditEvent, AuditLog};
use crate::http::{decode_json, json_ok, read_body, ApiFailure};
use crate::internal::InternalAuth;
use crate::vault::audit_sink_error;
use agentkeys_core::routes;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::post;
use axum::Router;

#[derive(Clone)]
struct AuditState {
    log: AuditLog,
    auth: InternalAuth,
}

pub fn router(log: AuditLog, auth: InternalAuth) -> Router {
    Router::new()
        .route(routes::AUDIT_APPEND, post(append))
        .with_state(AuditState { log, auth })
}

async fn append(State(s): State<AuditState>, req: Request) -> Result<Response, ApiFailure> {
    s.auth.check(req.headers())?;
    let body = read_body(req.into_body(), 16 * 1024).await?;
    let event: AuditEvent = decode_json(&body)?;
    let record = s.log.append(event).await.map_err(audit_sink_error)?;
    Ok(json_ok(
        &serde_json::json!({ "id": record.id, "hash": record.hash }),
    ))
}
