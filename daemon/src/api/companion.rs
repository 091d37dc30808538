//! `GET /v1/companion/whoami` and `POST /v1/companion/approve` (a job): what the primary needs
//! to add this device as a master, and an approval asked on this machine directly.

use agentkeys_core::daemon_api::{
    CompanionApproval, CompanionApproveRequest, CompanionWhoami, JobStarted,
};
use agentkeys_core::error::{ApiError, ErrorCode};
use axum::extract::State;
use axum::Json;

use super::{ApiJson, ApiResult};
use crate::ceremony::Role;
use crate::passkey;
use crate::state::SharedState;

pub async fn whoami(State(state): State<SharedState>) -> ApiResult<CompanionWhoami> {
    let key = state.identity.require().await?;
    let passkey = crate::local::passkey::load(&state.data_dir)?.map(|p| p.public_key);
    let operator = state
        .relay
        .chain_device(&key.address())
        .await
        .ok()
        .flatten()
        .map(|d| d.operator);
    Ok(Json(CompanionWhoami {
        device: key.address(),
        role: match state.role {
            Role::Primary => "primary".into(),
            Role::Companion => "companion".into(),
        },
        rp_id: state.role.rp_id().to_string(),
        passkey,
        operator,
    }))
}

pub async fn approve(
    State(state): State<SharedState>,
    ApiJson(req): ApiJson<CompanionApproveRequest>,
) -> ApiResult<JobStarted> {
    let challenge = parse_challenge(&req.challenge)?;
    let key = state.identity.require().await?;
    let own = passkey::own(&state)?;
    let s = state.clone();
    let job = state.jobs.spawn(move |progress| async move {
        let assertion =
            passkey::approve_with(s.role, &own, &progress, &req.operation, challenge).await?;
        Ok(CompanionApproval {
            device: key.address(),
            assertion,
        })
    })?;
    Ok(Json(JobStarted { job }))
}

fn parse_challenge(text: &str) -> Result<[u8; 32], ApiError> {
    let hex = text.strip_prefix("0x").unwrap_or(text);
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex, &mut out).map_err(|_| {
        ApiError::new(
            ErrorCode::BadRequest,
            "the challenge is 0x and 64 hex digits",
        )
    })?;
    Ok(out)
}
