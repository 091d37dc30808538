//! Fixtures shared by the tests of the contracts built on SidecarRegistry: identities, master
//! devices with passkeys, deployment of the verifier chain, and typed error and event checks.

use super::webauthn::{sha256, Passkey};
use super::{init_code, CHAIN_ID};
use agentkeys_contracts::bindings::{K11Verifier, P256Verifier, SidecarRegistry};
use agentkeys_contracts::{Evm, Receipt, Revert, SpecId};
use alloy::primitives::{keccak256, Address, Bytes, B256, U256};
use alloy::sol_types::{SolConstructor, SolError, SolEvent, SolValue};
use k256::ecdsa::SigningKey;

pub const SPECS: [SpecId; 2] = [SpecId::OSAKA, SpecId::PRAGUE];
pub const CAP_MINT: u8 = 1;
pub const RECOVERY: u8 = 2;
pub const SCOPE_MGMT: u8 = 4;
pub const ALL: u8 = CAP_MINT | RECOVERY | SCOPE_MGMT;

pub fn deployer() -> Address {
    Address::repeat_byte(0xd0)
}

pub fn outsider() -> Address {
    Address::repeat_byte(0x99)
}

pub fn device_hash(address: Address) -> B256 {
    keccak256(address)
}

/// agentkeys_core's derivation, written out: sha256("agentkeys" ‖ "evm" ‖ "0x…" lowercase).
pub fn operator_omni(first_master: Address) -> B256 {
    let hex = format!("{first_master:#x}");
    assert_eq!(hex, hex.to_lowercase());
    assert_eq!(hex.len(), 42);
    B256::from(sha256(format!("agentkeysevm{hex}").as_bytes()))
}

pub fn tag(name: &str) -> B256 {
    keccak256(name.as_bytes())
}

/// A K10 device key (secp256k1) made from `seed`, and its EVM address.
#[derive(Clone)]
pub struct K10 {
    pub key: SigningKey,
    pub address: Address,
}

impl K10 {
    pub fn new(seed: u8) -> K10 {
        let key = SigningKey::from_slice(&[seed; 32]).expect("seed is a valid scalar");
        let point = key.verifying_key().to_encoded_point(false);
        let address = Address::from_slice(&keccak256(&point.as_bytes()[1..])[12..]);
        K10 { key, address }
    }

    /// r ‖ s ‖ v over `digest` as is (no EIP-191 prefix): low s, v 27 or 28.
    pub fn sign(&self, digest: B256) -> Bytes {
        let (sig, recid) = self
            .key
            .sign_prehash_recoverable(digest.as_slice())
            .expect("sign");
        let mut out = sig.to_bytes().to_vec();
        out.push(27 + recid.to_byte());
        out.into()
    }
}

/// The malleable twin of a low-s signature: s' = n - s, v flipped. ecrecover accepts it.
pub fn high_s(sig: &Bytes) -> Bytes {
    let n = U256::from_str_radix(
        "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
        16,
    )
    .expect("n");
    let s = U256::from_be_slice(&sig[32..64]);
    let mut out = sig.to_vec();
    out[32..64].copy_from_slice(&(n - s).to_be_bytes::<32>());
    out[64] = if sig[64] == 27 { 28 } else { 27 };
    out.into()
}

/// agentkeys_core's agent derivation, written out: sha256("agentkeys-hdkd-v1" ‖ operator ‖
/// "//" ‖ label ‖ "/" ‖ decimal generation).
pub fn agent_actor(op: B256, label: &str, generation: u32) -> B256 {
    let mut data = b"agentkeys-hdkd-v1".to_vec();
    data.extend_from_slice(op.as_slice());
    data.extend_from_slice(format!("//{label}/{generation}").as_bytes());
    B256::from(sha256(&data))
}

/// keccak256(abi.encode(OP_AGENT_CONSENT, operator, actor, agent, chainid, registry)).
pub fn agent_consent(registry: Address, op: B256, actor: B256, agent: Address) -> B256 {
    keccak256(
        (
            tag("agentkeys.agentConsent.v1"),
            op,
            actor,
            agent,
            U256::from(CHAIN_ID),
            registry,
        )
            .abi_encode_params(),
    )
}

/// keccak256(abi.encode(OP_MASTER_CONSENT, operator, newDevice, roles, chainid, registry)).
pub fn master_consent(registry: Address, op: B256, device: Address, roles: u8) -> B256 {
    keccak256(
        (
            tag("agentkeys.masterConsent.v1"),
            op,
            device,
            U256::from(roles),
            U256::from(CHAIN_ID),
            registry,
        )
            .abi_encode_params(),
    )
}

/// A master device: its K10 key and address, its passkey, its roles.
pub struct Master {
    pub address: Address,
    pub k10: K10,
    pub passkey: Passkey,
    pub roles: u8,
}

impl Master {
    pub fn new(n: u8, roles: u8) -> Master {
        let k10 = K10::new(0xa0 | n);
        Master {
            address: k10.address,
            k10,
            passkey: Passkey::new(0x40 + n, "localhost"),
            roles,
        }
    }

    pub fn hash(&self) -> B256 {
        device_hash(self.address)
    }

    /// The device as `registerAdditionalMasterDevice` names it.
    pub fn as_new_master(&self) -> SidecarRegistry::NewMaster {
        let (x, y) = self.passkey.public();
        SidecarRegistry::NewMaster {
            device: self.address,
            roles: self.roles,
            k11X: x,
            k11Y: y,
            rpIdHash: self.passkey.rp_id_hash(),
        }
    }

    /// Its K10 consent to join `op` through `registry`.
    pub fn consent(&self, registry: Address, op: B256) -> Bytes {
        self.k10
            .sign(master_consent(registry, op, self.address, self.roles))
    }

    /// paramsHash of the two registration operations: abi.encode(device, roles, x, y, rpIdHash).
    pub fn registration_params(&self) -> B256 {
        let (x, y) = self.passkey.public();
        keccak256(
            (
                self.address,
                // uint8 is ABI-encoded as one 32-byte word, like a uint256 of the same value.
                U256::from(self.roles),
                x,
                y,
                self.passkey.rp_id_hash(),
            )
                .abi_encode_params(),
        )
    }
}

/// P256Verifier, K11Verifier and SidecarRegistry deployed by [`deployer`]; the registry.
pub fn deploy_verifiers_and_registry(evm: &mut Evm) -> Address {
    let p256 = evm
        .deploy(deployer(), P256Verifier::BYTECODE.clone())
        .expect("deploy P256Verifier");
    let args = K11Verifier::constructorCall { p256_: p256 }.abi_encode();
    let k11 = evm
        .deploy(deployer(), init_code(&K11Verifier::BYTECODE, args))
        .expect("deploy K11Verifier");
    let args = SidecarRegistry::constructorCall { k11_: k11 }.abi_encode();
    evm.deploy(deployer(), init_code(&SidecarRegistry::BYTECODE, args))
        .expect("deploy SidecarRegistry")
}

pub fn new_chain(spec: SpecId) -> Evm {
    Evm::new(CHAIN_ID, spec)
}

/// The custom error `E` the call reverted with (fails the test on any other outcome).
pub fn expect<E: SolError>(result: Result<Receipt, Revert>) -> E {
    let err = result.expect_err(&format!("expected {}", E::SIGNATURE));
    assert_eq!(
        err.selector(),
        Some(E::SELECTOR),
        "expected {}, got {err:?}",
        E::SIGNATURE
    );
    err.decode::<E>().expect("decode error")
}

/// Every event `E` in the receipt, each checked to come from `emitter`.
pub fn events<E: SolEvent>(receipt: &Receipt, emitter: Address) -> Vec<E> {
    receipt
        .logs
        .iter()
        .filter(|log| log.topics().first() == Some(&E::SIGNATURE_HASH))
        .map(|log| {
            assert_eq!(log.address, emitter);
            E::decode_log_data(&log.data).expect("decode event")
        })
        .collect()
}
