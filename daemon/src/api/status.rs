//! `GET /v1/status` and `POST /v1/shutdown`.

use agentkeys_core::identity::Omni;
use agentkeys_core::wire::{DaemonStatus, ShutdownResponse};
use axum::extract::State;
use axum::Json;

use crate::state::SharedState;

pub async fn status(State(state): State<SharedState>) -> Json<DaemonStatus> {
    // Status must always answer, so a keychain failure shows as "not initialized" here and
    // surfaces with its own code on the operations that need the key.
    let key = state.identity.key().await.ok().flatten();
    let device = key.map(|k| k.address());
    Json(DaemonStatus {
        version: env!("CARGO_PKG_VERSION").to_string(),
        pid: std::process::id(),
        initialized: device.is_some(),
        device,
        operator: device.as_ref().map(Omni::operator),
        relay_url: state.relay.base_url().to_string(),
        relay_reachable: state.relay.is_healthy().await,
        keychain_backend: state.identity.backend().to_string(),
        keychain_fallback: state.identity.is_file_fallback(),
        keychain_survives_reboot: state.identity.survives_reboot(),
    })
}

pub async fn shutdown(State(state): State<SharedState>) -> Json<ShutdownResponse> {
    tracing::info!("shutdown requested over the socket");
    // The accept loop stops, and this connection drains, so the answer still goes out.
    state.shutdown.trigger();
    Json(ShutdownResponse { stopping: true })
}
