//! `POST /v1/init`: create the device key if there is none, sign in to the relay, and register
//! the device on chain as the first master of its own operator if it is not registered yet.

use agentkeys_contracts::bindings::SidecarRegistry;
use agentkeys_core::wire::InitResponse;
use alloy::sol_types::SolCall;
use axum::extract::State;
use axum::Json;

use super::ApiResult;
use crate::state::SharedState;

pub async fn init(State(state): State<SharedState>) -> ApiResult<InitResponse> {
    let (key, created) = state.identity.ensure().await?;
    // The key is kept even when sign-in or registration fails: a later `init` resumes with
    // it (created = false) instead of replacing the identity.
    let operator = state.relay.sign_in(&key).await?;
    let address = key.address();
    let mut registered = None;
    let mut device_on_chain = state.relay.chain_device(&address).await?;
    if device_on_chain.is_none() {
        let chain = state.relay.chain_status().await?;
        let receipt = state
            .relay
            .send_call(
                &key,
                &chain.contracts.registry,
                // CAP_MINT only: the device can use the operator's own secrets; enrolling a
                // passkey adds the roles that need one.
                SidecarRegistry::registerFirstMasterDeviceWithoutPasskeyCall {}.abi_encode(),
            )
            .await?;
        tracing::info!(device = %address, block = receipt.block_number, "registered on chain");
        registered = Some(receipt);
        // The session was issued to an unregistered device; take one that names its role.
        state.relay.sign_in(&key).await?;
        device_on_chain = state.relay.chain_device(&address).await?;
    }
    Ok(Json(InitResponse {
        device: address,
        operator,
        created,
        registered,
        device_on_chain,
    }))
}
