//! `/healthz` (the process answers) and `/readyz` (each dependency, and why one is not ready).

use crate::chain::ChainAdapter;
use crate::http::json_ok;
use crate::signer::DekSigner;
use crate::storage::ObjectStore;
use crate::vault::AuditSink;
use agentkeys_core::routes;
use agentkeys_core::wire::{ReadyCheck, ReadyResponse};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use std::sync::Arc;
use std::time::Duration;

/// `/readyz` must answer promptly even when a node hangs.
const CHAIN_PROBE: Duration = Duration::from_secs(3);

#[derive(Clone, Default)]
pub struct Dependencies {
    pub storage: Option<ObjectStore>,
    pub signer: Option<Arc<dyn DekSigner>>,
    pub audit: Option<Arc<dyn AuditSink>>,
    pub chain: Option<Arc<dyn ChainAdapter>>,
}

pub fn router(deps: Dependencies) -> Router {
    Router::new()
        .route(
            routes::HEALTHZ,
            get(|| async { json_ok(&serde_json::json!({"status": "ok"})) }),
        )
        .route(routes::READYZ, get(readyz))
        .with_state(deps)
}

fn check(name: &str, reason: Option<String>) -> ReadyCheck {
    ReadyCheck {
        name: name.to_string(),
        ok: reason.is_none(),
        reason,
    }
}

async fn readyz(State(d): State<Dependencies>) -> Response {
    let mut checks = Vec::new();
    if let Some(s) = &d.storage {
        checks.push(check("storage", s.not_ready_reason().await));
    }
    if let Some(s) = &d.signer {
        checks.push(check("signer", s.not_ready_reason().await));
    }
    if let Some(a) = &d.audit {
        checks.push(check("audit", a.not_ready_reason().await));
    }
    if let Some(c) = &d.chain {
        let reason = match tokio::time::timeout(CHAIN_PROBE, c.block_number()).await {
            Ok(Ok(_)) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(_) => Some(format!("no answer within {} s", CHAIN_PROBE.as_secs())),
        };
        checks.push(check("chain", reason));
    }
    let ready = checks.iter().all(|c| c.ok);
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(ReadyResponse { ready, checks })).into_response()
}
