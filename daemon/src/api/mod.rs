//! The socket API (`routes::daemon`): an axum router whose every answer, success or failure,
//! is one of the core wire types.

mod acting;
mod agents;
mod audit;
mod aws;
mod chain;
mod companion;
mod error;
mod init;
mod jobs;
mod json;
mod masters;
mod scope;
mod secrets;
mod status;

use std::time::Instant;

use agentkeys_core::routes::daemon as paths;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;

pub use error::{ApiFailure, ApiResult};
pub use json::ApiJson;

use crate::state::SharedState;

pub fn router(state: SharedState) -> Router {
    Router::new()
        .route(paths::STATUS, get(status::status))
        .route(paths::SHUTDOWN, post(status::shutdown))
        .route(paths::INIT, post(init::init))
        .route(paths::SECRET_STORE, post(secrets::store))
        .route(paths::SECRET_READ, post(secrets::read))
        .route(paths::SECRET_LIST, post(secrets::list))
        .route(paths::SECRET_RM, post(secrets::remove))
        .route(paths::MEMORY_PUT, post(secrets::memory_put))
        .route(paths::MEMORY_GET, post(secrets::memory_get))
        .route(paths::CHAIN_STATUS, get(chain::status))
        .route(paths::AUDIT_LOG, get(audit::log))
        .route(paths::AUDIT_VERIFY, post(audit::verify))
        .route(paths::JOB, get(jobs::poll))
        .route(paths::AGENTS, get(agents::list).post(agents::create))
        .route(paths::AGENT_REVOKE, post(agents::revoke))
        .route(paths::AGENT_TOKEN, post(agents::token))
        .route(paths::AGENT_TOKEN_REVOKE, post(agents::revoke_token))
        .route(paths::SCOPE_SET, post(scope::set))
        .route(paths::SCOPE_REVOKE, post(scope::revoke))
        .route(paths::SCOPE_SHOW, post(scope::show))
        .route(paths::DEVICES, get(masters::list))
        .route(paths::DEVICE_ADD, post(masters::add))
        .route(paths::RECOVER_THRESHOLD, post(masters::threshold))
        .route(paths::RECOVER_REVOKE, post(masters::revoke))
        .route(paths::COMPANION_WHOAMI, get(companion::whoami))
        .route(paths::AWS_CREDS, post(aws::creds))
        .fallback(error::route_not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), acting::guard))
        .layer(middleware::from_fn(log_request))
        .with_state(state)
}

/// Served to a socket peer running as another user: every request is refused.
pub fn deny_router() -> Router {
    Router::new().fallback(error::peer_not_allowed)
}

/// Method, path, status and time only: bodies carry secrets and are never logged.
async fn log_request(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let started = Instant::now();
    let resp = next.run(req).await;
    tracing::info!(
        %method,
        path,
        status = resp.status().as_u16(),
        ms = started.elapsed().as_millis() as u64,
        "request"
    );
    resp
}
