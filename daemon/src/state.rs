//! What every socket handler shares.

use std::path::PathBuf;
use std::sync::Arc;

use crate::agents::{AgentKeys, AgentTokens};
use crate::ceremony::Role;
use crate::identity::Identity;
use crate::jobs::Jobs;
use crate::keychain::KeychainConfig;
use crate::local::agents::Agents;
use crate::relay_client::RelayClient;
use crate::shutdown::Shutdown;

pub struct AppState {
    pub identity: Identity,
    pub relay: RelayClient,
    pub shutdown: Shutdown,
    pub role: Role,
    /// The daemon's own files (passkey.json, agents.json).
    pub data_dir: PathBuf,
    pub jobs: Jobs,
    pub agents: Agents,
    pub agent_keys: AgentKeys,
    pub agent_tokens: AgentTokens,
    /// Store and fetch seal and move objects here (see `relay_client::direct`).
    pub direct_backend: bool,
    /// Where `audit verify` and `chain status` read the chain unless told another node.
    pub chain_rpc_url: Option<String>,
}

impl AppState {
    pub fn new(
        identity: Identity,
        relay: RelayClient,
        shutdown: Shutdown,
        role: Role,
        data_dir: PathBuf,
        keychain: KeychainConfig,
    ) -> AppState {
        AppState {
            identity,
            relay,
            shutdown,
            role,
            agents: Agents::new(&data_dir),
            data_dir,
            jobs: Jobs::default(),
            agent_keys: AgentKeys::new(keychain),
            agent_tokens: AgentTokens::default(),
            direct_backend: false,
            chain_rpc_url: None,
        }
    }
}

pub type SharedState = Arc<AppState>;
