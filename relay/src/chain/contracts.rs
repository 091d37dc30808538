//! The addresses of the AgentKeys contracts on one chain.

use agentkeys_core::chain::ContractAddresses;
use alloy::primitives::Address;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contracts {
    pub p256_verifier: Address,
    pub k11_verifier: Address,
    pub registry: Address,
    pub scope: Address,
    pub epoch: Address,
    pub audit: Address,
}

impl Contracts {
    /// Every address, for log filters.
    pub fn all(&self) -> [Address; 6] {
        [
            self.p256_verifier,
            self.k11_verifier,
            self.registry,
            self.scope,
            self.epoch,
            self.audit,
        ]
    }

    pub fn to_wire(&self) -> ContractAddresses {
        let a = |x: Address| agentkeys_core::identity::Address(x.into_array());
        ContractAddresses {
            p256_verifier: a(self.p256_verifier),
            k11_verifier: a(self.k11_verifier),
            registry: a(self.registry),
            scope: a(self.scope),
            epoch: a(self.epoch),
            audit: a(self.audit),
        }
    }
}
