//! The daemon's own small files (0600 in a 0700 folder): the enrolled passkey's public part
//! and the agents this device created. Neither holds a secret; the keys stay in the keychain.

pub mod agents;
pub mod approver;
pub mod device;
mod files;
pub mod joined;
pub mod passkey;
pub mod relay_pin;

pub use files::{read_json, write_json};
