//! `GET /v1/companion/whoami`: what the primary needs to add this device as a master. A
//! companion approves only through the relay's approval requests, whose challenge it
//! recomputes from the operation's parameters on chain (`companion::listener`); no socket API
//! signs a challenge its caller chose.

use agentkeys_core::daemon_api::CompanionWhoami;
use axum::extract::State;
use axum::Json;

use super::ApiResult;
use crate::ceremony::Role;
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
