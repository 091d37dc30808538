//! Who a socket request acts as. With no agent headers it is this device itself. A request
//! that names an agent (`x-agentkeys-agent`) or carries a per-child token must carry that
//! agent's token, and may then only read and list the agent's own secrets and memory.

use agentkeys_core::daemon_api::{AGENT_HEADER, AGENT_TOKEN_HEADER};
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

/// The routes an agent's child may use.
fn open_to_agents(path: &str) -> bool {
    [
        paths::STATUS,
        paths::SECRET_READ,
        paths::SECRET_LIST,
        paths::MEMORY_GET,
        paths::MEMORY_PUT,
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
