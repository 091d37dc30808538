//! The 32-byte challenges of `SidecarRegistry` and `AgentKeysScope`, computed as the contracts
//! compute them (ARCHITECTURE §8): keccak256(abi.encode(op tag, operator, [actor,] params
//! hash, chain id, contract address, nonce)). A passkey signs exactly these bytes, so any
//! difference is a `ChallengeMismatch` revert; the end-to-end tests catch one. Also the
//! digests a new device's K10 key signs to consent to its registration.

use agentkeys_core::identity::{Address, Omni};
use agentkeys_core::passkey::P256PublicKey;
use alloy::primitives::{keccak256, Address as EvmAddress, B256, U256};
use alloy::sol_types::SolValue;

/// The operations a passkey approves, named as the contracts tag them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpTag {
    RegisterFirstMaster,
    RegisterAdditionalMaster,
    RevokeMaster,
    SetRecoveryThreshold,
    AttachPasskey,
    SetScope,
    RevokeScope,
}

/// keccak256 of the registry's consent tags (`OP_AGENT_CONSENT`, `OP_MASTER_CONSENT`).
const AGENT_CONSENT: &str = "agentkeys.agentConsent.v1";
const MASTER_CONSENT: &str = "agentkeys.masterConsent.v1";

impl OpTag {
    pub fn label(self) -> &'static str {
        match self {
            OpTag::RegisterFirstMaster => "agentkeys.registerFirstMaster.v1",
            OpTag::RegisterAdditionalMaster => "agentkeys.registerAdditionalMaster.v1",
            OpTag::RevokeMaster => "agentkeys.revokeMaster.v1",
            OpTag::SetRecoveryThreshold => "agentkeys.setRecoveryThreshold.v1",
            OpTag::AttachPasskey => "agentkeys.attachPasskey.v1",
            OpTag::SetScope => "agentkeys.setScope.v1",
            OpTag::RevokeScope => "agentkeys.revokeScope.v1",
        }
    }

    /// The approval-request name of the operation (`[a-z_]`).
    pub fn name(self) -> &'static str {
        match self {
            OpTag::RegisterFirstMaster => "register_first_master",
            OpTag::RegisterAdditionalMaster => "register_additional_master",
            OpTag::RevokeMaster => "revoke_master",
            OpTag::SetRecoveryThreshold => "set_recovery_threshold",
            OpTag::AttachPasskey => "attach_passkey",
            OpTag::SetScope => "set_scope",
            OpTag::RevokeScope => "revoke_scope",
        }
    }

    pub fn hash(self) -> B256 {
        keccak256(self.label().as_bytes())
    }
}

pub fn evm(a: &Address) -> EvmAddress {
    EvmAddress::from(a.0)
}

pub fn b256(o: &Omni) -> B256 {
    B256::from(o.0)
}

fn coord(b: &[u8; 32]) -> U256 {
    U256::from_be_bytes(*b)
}

/// Where a challenge or consent is valid: the chain and the contract that checks it, so two
/// deployments on one chain id never accept each other's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Domain {
    pub chain_id: u64,
    pub contract: Address,
}

impl Domain {
    pub fn registry(chain: &agentkeys_core::chain::ChainStatus) -> Domain {
        Domain {
            chain_id: chain.chain_id,
            contract: chain.contracts.registry,
        }
    }

    pub fn scope(chain: &agentkeys_core::chain::ChainStatus) -> Domain {
        Domain {
            chain_id: chain.chain_id,
            contract: chain.contracts.scope,
        }
    }
}

/// `SidecarRegistry._challenge`.
pub fn registry(tag: OpTag, operator: &Omni, params: B256, domain: Domain, nonce: u64) -> [u8; 32] {
    keccak256(
        (
            tag.hash(),
            b256(operator),
            params,
            U256::from(domain.chain_id),
            evm(&domain.contract),
            U256::from(nonce),
        )
            .abi_encode_params(),
    )
    .0
}

/// `AgentKeysScope._challenge`.
pub fn scope(
    tag: OpTag,
    operator: &Omni,
    actor: &Omni,
    params: B256,
    domain: Domain,
    nonce: u64,
) -> [u8; 32] {
    keccak256(
        (
            tag.hash(),
            b256(operator),
            b256(actor),
            params,
            U256::from(domain.chain_id),
            evm(&domain.contract),
            U256::from(nonce),
        )
            .abi_encode_params(),
    )
    .0
}

/// `SidecarRegistry.agentConsentDigest`: what a new agent's key signs (no EIP-191 prefix).
pub fn agent_consent(operator: &Omni, actor: &Omni, agent: &Address, domain: Domain) -> [u8; 32] {
    keccak256(
        (
            keccak256(AGENT_CONSENT.as_bytes()),
            b256(operator),
            b256(actor),
            evm(agent),
            U256::from(domain.chain_id),
            evm(&domain.contract),
        )
            .abi_encode_params(),
    )
    .0
}

/// `SidecarRegistry.masterConsentDigest`: what a new master's key signs to join `operator`.
pub fn master_consent(operator: &Omni, device: &Address, roles: u8, domain: Domain) -> [u8; 32] {
    keccak256(
        (
            keccak256(MASTER_CONSENT.as_bytes()),
            b256(operator),
            evm(device),
            U256::from(roles),
            U256::from(domain.chain_id),
            evm(&domain.contract),
        )
            .abi_encode_params(),
    )
    .0
}

/// abi.encode(device, roles, x, y, rpIdHash): first and additional masters.
pub fn master_params(
    device: &Address,
    roles: u8,
    key: &P256PublicKey,
    rp_id_hash: &[u8; 32],
) -> B256 {
    keccak256(
        (
            evm(device),
            // uint8 is one 32-byte word in abi.encode.
            U256::from(roles),
            coord(&key.x),
            coord(&key.y),
            B256::from(*rp_id_hash),
        )
            .abi_encode_params(),
    )
}

/// abi.encode(device, x, y, rpIdHash): attaching a passkey to a passkey-less master.
pub fn attach_params(device: &Address, key: &P256PublicKey, rp_id_hash: &[u8; 32]) -> B256 {
    keccak256(
        (
            evm(device),
            coord(&key.x),
            coord(&key.y),
            B256::from(*rp_id_hash),
        )
            .abi_encode_params(),
    )
}

/// abi.encode(targetDeviceKeyHash).
pub fn revoke_master_params(target: &Address) -> B256 {
    keccak256(B256::from(target.device_key_hash()).abi_encode())
}

/// abi.encode(newThreshold).
pub fn threshold_params(threshold: u32) -> B256 {
    keccak256(U256::from(threshold).abi_encode())
}

/// keccak256 of the lowercase name: how the scope contract names a service.
pub fn service_hash(service: &str) -> B256 {
    keccak256(service.to_ascii_lowercase().as_bytes())
}

/// abi.encode(services) for `setScope`.
pub fn scope_params(services: &[B256]) -> B256 {
    keccak256((services.to_vec(),).abi_encode_params())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_the_contracts_constants() {
        // keccak256("agentkeys.setScope.v1") as AgentKeysScope.OP_SET_SCOPE computes it.
        assert_eq!(OpTag::SetScope.hash(), keccak256(b"agentkeys.setScope.v1"));
        assert_ne!(OpTag::SetScope.hash(), OpTag::RevokeScope.hash());
    }

    #[test]
    fn a_dynamic_array_is_encoded_with_its_offset() {
        let s = vec![B256::repeat_byte(1)];
        let encoded = (s.clone(),).abi_encode_params();
        // offset 0x20, length 1, one word: abi.encode(bytes32[]) in Solidity.
        assert_eq!(encoded.len(), 96);
        assert_eq!(encoded[31], 0x20);
        assert_eq!(encoded[63], 1);
        assert_eq!(scope_params(&s), keccak256(&encoded));
    }

    fn domain(chain_id: u64, contract: u8) -> Domain {
        Domain {
            chain_id,
            contract: Address([contract; 20]),
        }
    }

    #[test]
    fn every_input_changes_the_challenge() {
        let op = Omni([1; 32]);
        let d = domain(31337, 1);
        let base = registry(OpTag::RevokeMaster, &op, B256::ZERO, d, 0);
        assert_ne!(base, registry(OpTag::RevokeMaster, &op, B256::ZERO, d, 1));
        assert_ne!(
            base,
            registry(OpTag::RevokeMaster, &op, B256::ZERO, domain(1, 1), 0)
        );
        assert_ne!(
            base,
            registry(OpTag::RevokeMaster, &op, B256::ZERO, domain(31337, 2), 0)
        );
        assert_ne!(
            base,
            registry(OpTag::SetRecoveryThreshold, &op, B256::ZERO, d, 0)
        );
        assert_ne!(
            base,
            registry(OpTag::RevokeMaster, &Omni([2; 32]), B256::ZERO, d, 0)
        );
        let actor = Omni([3; 32]);
        let s = scope(OpTag::RevokeScope, &op, &actor, B256::ZERO, d, 0);
        assert_ne!(
            s,
            scope(
                OpTag::RevokeScope,
                &op,
                &actor,
                B256::ZERO,
                domain(31337, 2),
                0
            )
        );
    }

    #[test]
    fn every_input_changes_a_consent() {
        let (op, actor, dev) = (Omni([1; 32]), Omni([2; 32]), Address([3; 20]));
        let d = domain(31337, 1);
        let base = agent_consent(&op, &actor, &dev, d);
        assert_ne!(base, agent_consent(&Omni([9; 32]), &actor, &dev, d));
        assert_ne!(base, agent_consent(&op, &Omni([9; 32]), &dev, d));
        assert_ne!(base, agent_consent(&op, &actor, &Address([9; 20]), d));
        assert_ne!(base, agent_consent(&op, &actor, &dev, domain(1, 1)));
        assert_ne!(base, agent_consent(&op, &actor, &dev, domain(31337, 2)));
        let m = master_consent(&op, &dev, 7, d);
        assert_ne!(m, master_consent(&op, &dev, 1, d));
        assert_ne!(m, master_consent(&op, &dev, 7, domain(31337, 2)));
        assert_ne!(m, base);
    }
}
