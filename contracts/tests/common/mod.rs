//! Shared test fixtures: a fresh chain, deployments from the committed artifacts, and typed
//! call helpers.
#![allow(dead_code)] // each test binary uses a different subset

pub mod webauthn;

use agentkeys_contracts::bindings::{CredentialAudit, K3EpochCounter};
use agentkeys_contracts::{Evm, Receipt, Revert, SpecId};
use alloy::primitives::{Address, Bytes};
use alloy::sol_types::{SolCall, SolConstructor};

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

pub fn audit_init_code(owner: Address) -> Bytes {
    let args = CredentialAudit::constructorCall { owner_: owner }.abi_encode();
    init_code(&CredentialAudit::BYTECODE, args)
}

pub fn deploy_epoch(evm: &mut Evm, governance: Address) -> Address {
    evm.deploy(addr(0xd0), epoch_init_code(governance)).unwrap()
}

pub fn deploy_audit(evm: &mut Evm, owner: Address) -> Address {
    evm.deploy(owner, audit_init_code(owner)).unwrap()
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
