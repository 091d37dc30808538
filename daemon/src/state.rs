//! What every socket handler shares.

use std::sync::Arc;

use crate::identity::Identity;
use crate::relay_client::RelayClient;
use crate::shutdown::Shutdown;

pub struct AppState {
    pub identity: Identity,
    pub relay: RelayClient,
    pub shutdown: Shutdown,
}

pub type SharedState = Arc<AppState>;
