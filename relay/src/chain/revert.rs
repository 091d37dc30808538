//! Revert data made readable: the custom errors of every AgentKeys contract, or a plain
//! `Error(string)`, so a refused transaction says why.

use agentkeys_contracts::bindings::{
    AgentKeysScope, CredentialAudit, K11Verifier, K3EpochCounter, SidecarRegistry,
};
use alloy::sol_types::{Revert, SolError, SolInterface};

pub fn describe(data: &[u8]) -> String {
    if data.is_empty() {
        return "reverted without a reason".into();
    }
    if let Ok(e) = SidecarRegistry::SidecarRegistryErrors::abi_decode(data) {
        return format!("{e:?}");
    }
    if let Ok(e) = AgentKeysScope::AgentKeysScopeErrors::abi_decode(data) {
        return format!("{e:?}");
    }
    if let Ok(e) = K11Verifier::K11VerifierErrors::abi_decode(data) {
        return format!("{e:?}");
    }
    if let Ok(e) = CredentialAudit::CredentialAuditErrors::abi_decode(data) {
        return format!("{e:?}");
    }
    if let Ok(e) = K3EpochCounter::K3EpochCounterErrors::abi_decode(data) {
        return format!("{e:?}");
    }
    if let Ok(r) = Revert::abi_decode(data) {
        return r.reason;
    }
    let head = &data[..data.len().min(4)];
    format!("unknown error 0x{}", hex::encode(head))
}
