//! `GET /v1/chain/status`: the relay's chain, and this device's entry on it.

use agentkeys_core::chain::ChainStatusReport;
use axum::extract::State;
use axum::Json;

use super::ApiResult;
use crate::state::SharedState;

pub async fn status(State(state): State<SharedState>) -> ApiResult<ChainStatusReport> {
    let chain = state.relay.chain_status().await?;
    let device = match state.identity.key().await? {
        Some(key) => state.relay.chain_device(&key.address()).await?,
        None => None,
    };
    Ok(Json(ChainStatusReport { chain, device }))
}
