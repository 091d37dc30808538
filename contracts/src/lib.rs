//! AgentKeys contracts from Rust: bindings generated from the committed solc artifacts (so no
//! Rust build ever needs a Solidity compiler), an in-process EVM to run them on, and the audit
//! Merkle tree whose roots `CredentialAudit` anchors.

pub mod bindings;
#[cfg(feature = "evm")]
pub mod evm;
pub mod merkle;
pub mod views;

#[cfg(feature = "evm")]
pub use evm::{Evm, Receipt, Revert, SpecId};
