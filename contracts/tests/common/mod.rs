//! Shared test fixtures: a fresh chain, deployments from the committed artifacts, and typed
//! call helpers.
#![allow(dead_code)] // each test binary uses a different subset

pub mod registry;
pub mod webauthn;

use agentkeys_contracts::bindings::{CredentialAudit, K3EpochCounter, SidecarRegistry};
use agentkeys_contracts::{Evm, Receipt, Revert, SpecId};
use alloy::primitives::{keccak256, Address, Bytes, B256, U256};
use alloy::sol_types::{SolCall, SolConstructor};
use webauthn::Passkey;

pub const CHAIN_ID: u64 = 31_337;

pub fn addr(n: u8) -> Address {
    Address::with_last_byte(n)
}

pub fn chain() -> Evm {
    Evm::new(CHAIN_ID, SpecId::PRAGUE)
}

pub fn init_code(bytecode: &Bytes, ctor_args: Vec<u8>) -> Bytes {
    [bytecode.as_ref(), ctor_args.as_slice()].concat().into()
}

pub fn epoch_init_code(governance: Address) -> Bytes {
    let args = K3EpochCounter::constructorCall { governance }.abi_encode();
    init_code(&K3EpochCounter::BYTECODE, args)
}

pub fn audit_init_code(owner: Address, registry: Address) -> Bytes {
    let args = CredentialAudit::constructorCall {
        owner_: owner,
        registry_: registry,
    }
    .abi_encode();
    init_code(&CredentialAudit::BYTECODE, args)
}

/// P256Verifier, K11Verifier and a SidecarRegistry on them; the registry's address.
pub fn deploy_registry(evm: &mut Evm) -> Address {
    registry::deploy_verifiers_and_registry(evm)
}

/// Registers `device` (with `passkey`, every role) as the first master of its own operator;
/// that operator's omni.
pub fn register_first_master(
    evm: &mut Evm,
    registry: Address,
    device: Address,
    passkey: &Passkey,
) -> B256 {
    use alloy::sol_types::SolValue;
    const ALL_ROLES: u8 = 1 | 2 | 4;
    let op = view(
        evm,
        registry,
        SidecarRegistry::operatorOmniOfCall {
            firstMaster: device,
        },
    );
    let (x, y) = passkey.public();
    let params =
        keccak256((device, U256::from(ALL_ROLES), x, y, passkey.rp_id_hash()).abi_encode_params());
    let challenge = view(
        evm,
        registry,
        SidecarRegistry::challengeForCall {
            opTag: keccak256("agentkeys.registerFirstMaster.v1"),
            operatorOmni: op,
            paramsHash: params,
        },
    );
    let s = passkey.assert(challenge);
    let call = SidecarRegistry::registerFirstMasterDeviceCall {
        roles: ALL_ROLES,
        k11X: x,
        k11Y: y,
        rpIdHash: passkey.rp_id_hash(),
        assertion: s.into(),
    };
    send(evm, device, registry, call).expect("registerFirstMasterDevice");
    op
}

/// Registers agent "bot" (generation 1) of `master`'s operator, its key made from `seed` and
/// consenting over the registry's own digest; the agent's address.
pub fn register_agent(evm: &mut Evm, registry: Address, master: Address, seed: u8) -> Address {
    let agent = registry::K10::new(seed);
    let device = view(
        evm,
        registry,
        SidecarRegistry::getDeviceCall {
            deviceKeyHash: keccak256(master),
        },
    );
    let actor = view(
        evm,
        registry,
        SidecarRegistry::agentActorOfCall {
            operatorOmni: device.operatorOmni,
            label: "bot".into(),
            generation: 1,
        },
    );
    let digest = view(
        evm,
        registry,
        SidecarRegistry::agentConsentDigestCall {
            operatorOmni: device.operatorOmni,
            actorOmni: actor,
            agent: agent.address,
        },
    );
    let call = SidecarRegistry::registerAgentDeviceCall {
        agent: agent.address,
        label: "bot".into(),
        generation: 1,
        agentSig: agent.sign(digest),
    };
    send(evm, master, registry, call).expect("registerAgentDevice");
    agent.address
}

pub fn deploy_epoch(evm: &mut Evm, governance: Address) -> Address {
    evm.deploy(addr(0xd0), epoch_init_code(governance)).unwrap()
}

pub fn deploy_audit(evm: &mut Evm, owner: Address, registry: Address) -> Address {
    evm.deploy(owner, audit_init_code(owner, registry)).unwrap()
}

pub fn send<C: SolCall>(
    evm: &mut Evm,
    from: Address,
    to: Address,
    call: C,
) -> Result<Receipt, Revert> {
    evm.transact(from, to, call.abi_encode().into())
}

pub fn view<C: SolCall>(evm: &mut Evm, to: Address, call: C) -> C::Return {
    let out = evm.call(addr(0xee), to, call.abi_encode().into()).unwrap();
    C::abi_decode_returns(&out).unwrap()
}

pub fn try_view<C: SolCall>(evm: &mut Evm, to: Address, call: C) -> Result<C::Return, Revert> {
    let out = evm.call(addr(0xee), to, call.abi_encode().into())?;
    Ok(C::abi_decode_returns(&out).unwrap())
}
