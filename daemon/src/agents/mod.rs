//! Agents of this device: each has its own device key (K10) in the keychain, its own actor
//! (label + generation under the operator) and its own on-chain registration; processes act
//! as an agent only with a per-child token, which lives no longer than the `run` that asked.

pub mod keys;
pub mod process;
pub mod tokens;

pub use keys::AgentKeys;
pub use tokens::AgentTokens;
