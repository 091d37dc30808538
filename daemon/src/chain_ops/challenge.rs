//! The 32-byte challenges of `SidecarRegistry` and `AgentKeysScope`, computed as the contracts
//! compute them (ARCHITECTURE §8): keccak256(abi.encode(op tag, operator, [actor,] params
//! hash, chain id, nonce)). A passkey signs exactly these bytes, so any difference is a
//! `ChallengeMismatch` revert; the end-to-end tests catch one.

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

/// `SidecarRegistry._challenge`.
pub fn registry(tag: OpTag, operator: &Omni, params: B256, chain_id: u64, nonce: u64) -> [u8; 32] {
    keccak256(
        (
            tag.hash(),
            b256(operator),
            params,
            U256::from(chain_id),
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
    chain_id: u64,
    nonce: u64,
) -> [u8; 32] {
    keccak256(
        (
            tag.hash(),
            b256(operator),
            b256(actor),
            params,
            U256::from(chain_id),
            U256::from(nonce),
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

    #[test]
    fn every_input_changes_the_challenge() {
        let op = Omni([1; 32]);
        let base = registry(OpTag::RevokeMaster, &op, B256::ZERO, 31337, 0);
        assert_ne!(
            base,
            registry(OpTag::RevokeMaster, &op, B256::ZERO, 31337, 1)
        );
        assert_ne!(base, registry(OpTag::RevokeMaster, &op, B256::ZERO, 1, 0));
        assert_ne!(
            base,
            registry(OpTag::SetRecoveryThreshold, &op, B256::ZERO, 31337, 0)
        );
        assert_ne!(
            base,
            registry(OpTag::RevokeMaster, &Omni([2; 32]), B256::ZERO, 31337, 0)
        );
    }
}
