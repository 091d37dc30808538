//! `POST /v1/init`: create the device key if there is none, then sign in to the relay.

use agentkeys_core::wire::InitResponse;
use axum::extract::State;
use axum::Json;

use super::ApiResult;
use crate::state::SharedState;

pub async fn init(State(state): State<SharedState>) -> ApiResult<InitResponse> {
    let (key, created) = state.identity.ensure().await?;
    // The key is kept even when sign-in fails: a later `init` signs in with it
    // (created = false) instead of replacing the identity.
    let operator = state.relay.sign_in(&key).await?;
    Ok(Json(InitResponse {
        device: key.address(),
        operator,
        created,
    }))
}
