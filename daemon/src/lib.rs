//! AgentKeys daemon: holds the device key, signs in to the broker, caches capabilities and
//! serves the CLI over a Unix socket.

pub mod agents;
pub mod api;
pub mod ceremony;
pub mod chain_direct;
pub mod chain_ops;
pub mod companion;
pub mod config;
pub mod identity;
pub mod jobs;
pub mod keychain;
pub mod local;
pub mod passkey;
pub mod quorum;
pub mod relay_client;
pub mod server;
pub mod shutdown;
pub mod socket;
pub mod state;

#[cfg(test)]
mod tests;
