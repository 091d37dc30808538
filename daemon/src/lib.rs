//! AgentKeys daemon: holds the device key, signs in to the broker, caches capabilities and
//! serves the CLI over a Unix socket.

pub mod api;
pub mod ceremony;
pub mod config;
pub mod identity;
pub mod keychain;
pub mod relay_client;
pub mod server;
pub mod shutdown;
pub mod socket;
pub mod state;

#[cfg(test)]
mod tests;
