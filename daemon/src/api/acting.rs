//! Who a socket request acts as. With no agent headers it is this device itself. A request
//! that names an agent (`x-agentkeys-agent`) or carries a per-child token must carry that
//! agent's token, and may then only read and list the agent's own secrets and memory.

use std::sync::Arc;

use agentkeys_core::daemon_api::{AGENT_HEADER, AGENT_TOKEN_HEADER, STORE_FOR_HEADER};
use agentkeys_core::device_key::DeviceKey;
use agentkeys_core::error::{ApiError, ErrorCode};
use agentkeys_core::routes::daemon as paths;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiFailure;
use crate::state::{AppState, SharedState};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Acting {
    Device,
    Agent(String),
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ApiError> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v.to_str().map(Some).map_err(|_| {
            ApiError::new(
                ErrorCode::BadRequest,
                format!("the {name} header is not text"),
            )
        }),
    }
}

pub fn resolve(state: &AppState, headers: &HeaderMap) -> Result<Acting, ApiError> {
    let named = header(headers, AGENT_HEADER)?;
    let token = header(headers, AGENT_TOKEN_HEADER)?;
    match (named, token) {
        (None, None) => Ok(Acting::Device),
        (Some(name), None) => Err(ApiError::new(
            ErrorCode::AgentTokenMissing,
            format!(
                "acting as agent {name} needs its token; run the program with `agentkeys run \
                 --agent {name} -- …`"
            ),
        )),
        (named, Some(token)) => {
            let agent = state
                .agent_tokens
                .agent_of(token)
                .ok_or_else(|| ApiError::from_code(ErrorCode::AgentTokenInvalid))?;
            if named.is_some_and(|n| n != agent) {
                // Deliberately not naming the token's agent: the caller should not learn it.
                return Err(ApiError::from_code(ErrorCode::AgentTokenInvalid));
            }
            Ok(Acting::Agent(agent))
        }
    }
}

/// The key the vault call is made with: this device's, or the agent's the request acts as
/// (checked by the guard), or, for `store --for`, the named agent's.
pub(super) async fn signer_key(
    state: &SharedState,
    headers: &HeaderMap,
    store: bool,
) -> Result<Arc<DeviceKey>, ApiError> {
    match resolve(state, headers)? {
        Acting::Agent(name) => super::agents::agent_key(state, &name).await,
        Acting::Device => match headers.get(STORE_FOR_HEADER) {
            Some(v) if store => {
                let name = v.to_str().map_err(|_| {
                    ApiError::new(ErrorCode::BadRequest, "the agent name is not text")
                })?;
                super::agents::agent_key(state, name).await
            }
            Some(_) => Err(ApiError::new(
                ErrorCode::BadRequest,
                "only `store` may write for an agent; an agent reads with its own token",
            )),
            None => state.identity.require().await,
        },
    }
}

/// The routes an agent's child may use.
fn open_to_agents(path: &str) -> bool {
    [
        paths::STATUS,
        paths::SECRET_READ,
        paths::SECRET_LIST,
        paths::MEMORY_GET,
        paths::MEMORY_PUT,
        paths::AWS_CREDS,
    ]
    .contains(&path)
}

/// Refuses, before any handler runs, an agent request outside the agent routes and any
/// request with a bad or missing token.
pub async fn guard(State(state): State<SharedState>, req: Request, next: Next) -> Response {
    match resolve(&state, req.headers()) {
        Ok(Acting::Device) => next.run(req).await,
        Ok(Acting::Agent(_)) if open_to_agents(req.uri().path()) => next.run(req).await,
        Ok(Acting::Agent(_)) => ApiFailure::from(ErrorCode::AgentNotPermitted).into_response(),
        Err(e) => ApiFailure(e).into_response(),
    }
}
