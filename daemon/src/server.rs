//! Daemon start-up: open the keychain, load the identity, bind the socket, serve until a
//! signal or `POST /v1/shutdown`.

use std::sync::Arc;

use crate::config::DaemonConfig;
use crate::identity::Identity;
use crate::keychain::{DeviceKeyStore, KeychainError};
use crate::relay_client::RelayClient;
use crate::shutdown::Shutdown;
use crate::socket::{SocketError, SocketServer};
use crate::state::AppState;

/// Why the daemon could not start; printed as one line.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("keychain: {0} ({code})", code = .0.code())]
    Keychain(#[from] KeychainError),
    #[error("socket: {0}")]
    Socket(#[from] SocketError),
    #[error("{0}")]
    Other(String),
}

pub async fn run(config: DaemonConfig) -> Result<(), StartError> {
    crate::socket::refuse_if_running(&config.socket).await?;
    let keychain = config.keychain.clone();
    let store = tokio::task::spawn_blocking(move || DeviceKeyStore::open(&keychain))
        .await
        .map_err(|_| StartError::Other("the keychain task failed".into()))??;
    if store.is_file_fallback() {
        tracing::warn!(
            "KEYCHAIN FALLBACK: no OS keychain is in use; the device key is protected only by \
             file permissions (see `agentkeys status`)"
        );
    }
    let relay = RelayClient::with_pin_dir(&config.relay_url, &config.data_dir)
        .map_err(|e| StartError::Other(e.message))?;
    let state = Arc::new(AppState {
        direct_backend: config.direct_backend,
        chain_rpc_url: config.chain_rpc_url.clone(),
        ..AppState::new(
            Identity::recorded(store, config.data_dir.clone()),
            relay,
            Shutdown::new(),
            config.role,
            config.data_dir.clone(),
            config.keychain.clone(),
        )
    });
    match state.identity.key().await {
        Ok(Some(key)) => tracing::info!(device = %key.address(), "device key loaded"),
        Ok(None) => tracing::info!("no device key yet; waiting for `agentkeys init`"),
        // Keep serving: status still answers, and each operation reports the failure.
        Err(e) => tracing::error!(error = %e, "device key could not be loaded"),
    }
    let server = SocketServer::bind(&config.socket, &config.pid_file).await?;
    tokio::spawn(sweep_agent_tokens(state.clone()));
    // Any master with a passkey may be asked to approve; a companion mostly is.
    tokio::spawn(crate::companion::listen(state.clone()));
    state
        .shutdown
        .listen_for_signals()
        .map_err(|e| StartError::Other(format!("cannot install signal handlers: {e}")))?;
    tracing::info!(
        relay = %config.relay_url,
        backend = state.identity.backend(),
        version = env!("CARGO_PKG_VERSION"),
        role = state.role.label(),
        backend = if state.direct_backend { "direct" } else { "relay" },
        "agentkeys daemon started"
    );
    let shutdown = state.shutdown.clone();
    server.serve(state, shutdown).await;
    Ok(())
}

/// Lookups already refuse a token whose `run` has exited; this frees such entries promptly.
async fn sweep_agent_tokens(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(crate::agents::tokens::SWEEP_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        state.agent_tokens.sweep();
    }
}
