//! An operator's own audit trail, for its devices (session required):
//!
//! - `GET /v1/audit/log?after=<id>&limit=<n>`: the session operator's records, oldest first
//!   (`limit` defaults to 50 and is capped at [`MAX_LIST_LIMIT`]).
//! - `GET /v1/audit/proof/{id}`: the record and, once its batch is anchored, where the root is
//!   on chain and the record's sibling path to it. Another operator's record is answered
//!   exactly like an unknown id (`record_not_found`), so ids reveal nothing across operators.
//!
//! The session is verified like the vault verifies capabilities: with the broker's keys in
//! this process, or its JWKS fetched (and refetched on an unknown key) when roles run apart.

use std::sync::Arc;

use agentkeys_core::chain::{AnchorSchedule, AuditLogResponse};
use agentkeys_core::session::{verify_session, SessionClaims};
use agentkeys_core::time_util::now_secs;
use agentkeys_core::{routes, ApiError, ErrorCode};
use axum::extract::{Path, Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use super::{AuditError, AuditLog, MAX_LIST_LIMIT};
use crate::http::{bearer_token, json_ok, ApiFailure};
use crate::vault::KeySource;

/// Page size when the request names none.
pub const DEFAULT_LOG_LIMIT: usize = 50;

struct OperatorAudit {
    log: AuditLog,
    keys: Arc<dyn KeySource>,
    issuer: String,
    schedule: Option<AnchorSchedule>,
}

/// The routes, for the process that runs the audit role. `keys` and `issuer` are the
/// broker's (as for the vault); `schedule` is the anchorer's policy, `None` when this relay
/// does not anchor (it tells a reader whether waiting helps).
pub fn router(
    log: AuditLog,
    keys: Arc<dyn KeySource>,
    issuer: String,
    schedule: Option<AnchorSchedule>,
) -> Router {
    Router::new()
        .route(routes::AUDIT_LOG, get(list))
        .route(routes::AUDIT_PROOF, get(proof))
        .with_state(Arc::new(OperatorAudit {
            log,
            keys,
            issuer,
            schedule,
        }))
}

async fn session(s: &OperatorAudit, headers: &HeaderMap) -> Result<SessionClaims, ApiError> {
    let token = bearer_token(headers).ok_or(ErrorCode::SessionMissing)?;
    let now = now_secs();
    let jwks = s.keys.jwks().await?;
    let claims = match verify_session(token, &jwks, &s.issuer, now) {
        // Possibly signed by a key the cached set lacks (rotation): one refetch, rate
        // limited by the key source.
        Err(ErrorCode::SessionInvalid) => {
            let fresh = s.keys.refresh().await?;
            verify_session(token, &fresh, &s.issuer, now)?
        }
        other => other?,
    };
    // The trail is the operator's: an agent's session (acting for its own actor) is refused.
    if claims.act != claims.opr {
        return Err(ApiError::new(
            ErrorCode::ActorNotPermitted,
            "the audit trail is for the operator's own devices, not agents",
        ));
    }
    Ok(claims)
}

#[derive(Deserialize)]
struct LogQuery {
    #[serde(default)]
    after: u64,
    limit: Option<usize>,
}

fn store_error(e: AuditError) -> ApiError {
    tracing::error!(error = %e, "audit log cannot be read");
    ApiError::new(ErrorCode::AuditUnavailable, "the audit log cannot be read")
}

/// Runs a read off the async workers: proofs rebuild a batch's tree.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, AuditError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| ApiError::from_code(ErrorCode::Internal))?
        .map_err(store_error)
}

async fn list(State(s): State<Arc<OperatorAudit>>, req: Request) -> Result<Response, ApiFailure> {
    let claims = session(&s, req.headers()).await?;
    let q = axum::extract::Query::<LogQuery>::try_from_uri(req.uri()).map_err(|_| {
        ApiError::new(
            ErrorCode::BadRequest,
            "after and limit must be non-negative integers",
        )
    })?;
    let limit = q.limit.unwrap_or(DEFAULT_LOG_LIMIT).min(MAX_LIST_LIMIT);
    let (log, operator, after) = (s.log.clone(), claims.opr.to_hex(), q.after);
    let records = blocking(move || log.operator_records(&operator, after, limit)).await?;
    Ok(json_ok(&AuditLogResponse {
        records: records.iter().map(|r| r.to_view()).collect(),
    }))
}

async fn proof(
    State(s): State<Arc<OperatorAudit>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiFailure> {
    let claims = session(&s, &headers).await?;
    let id: u64 = id.parse().map_err(|_| {
        ApiError::new(
            ErrorCode::BadRequest,
            "the record id must be a positive integer",
        )
    })?;
    let log = s.log.clone();
    let found = blocking(move || log.record_proof(id)).await?;
    let proof = found
        .filter(|p| p.record.event.operator == claims.opr.to_hex())
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::RecordNotFound,
                format!("no audit record of this operator has id {id}"),
            )
        })?;
    Ok(json_ok(&proof.to_response(s.schedule)))
}
