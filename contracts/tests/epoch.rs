//! K3EpochCounter on revm: forward-only epochs, governance only, one event per change.

mod common;

use agentkeys_contracts::bindings::K3EpochCounter;
use agentkeys_contracts::Revert;
use alloy::primitives::Address;
use alloy::sol_types::{SolError, SolEvent};
use common::*;

const GOV: Address = Address::repeat_byte(0x60);

fn setup() -> (agentkeys_contracts::Evm, Address) {
    let mut evm = chain();
    let epoch = deploy_epoch(&mut evm, GOV);
    (evm, epoch)
}

fn current(evm: &mut agentkeys_contracts::Evm, epoch: Address) -> u32 {
    view(evm, epoch, K3EpochCounter::currentEpochCall {})
}

fn advance(
    evm: &mut agentkeys_contracts::Evm,
    from: Address,
    epoch: Address,
    new_epoch: u32,
) -> Result<agentkeys_contracts::Receipt, Revert> {
    send(
        evm,
        from,
        epoch,
        K3EpochCounter::advanceEpochCall {
            newEpoch: new_epoch,
        },
    )
}

#[test]
fn starts_at_one_with_the_constructor_governance() {
    let (mut evm, epoch) = setup();
    assert_eq!(current(&mut evm, epoch), 1);
    assert_eq!(
        view(&mut evm, epoch, K3EpochCounter::signerGovernanceCall {}),
        GOV
    );
}

#[test]
fn constructor_refuses_zero_governance() {
    let mut evm = chain();
    let err = evm
        .deploy(addr(1), epoch_init_code(Address::ZERO))
        .unwrap_err();
    assert_eq!(
        err.selector(),
        Some(K3EpochCounter::ZeroGovernance::SELECTOR)
    );
}

#[test]
fn governance_advances_and_the_event_names_both_epochs() {
    let (mut evm, epoch) = setup();
    let receipt = advance(&mut evm, GOV, epoch, 2).unwrap();
    assert_eq!(current(&mut evm, epoch), 2);
    assert_eq!(receipt.logs.len(), 1);
    let log = &receipt.logs[0];
    assert_eq!(log.address, epoch);
    let event = K3EpochCounter::EpochAdvanced::decode_log_data(&log.data).unwrap();
    assert_eq!((event.previous, event.current), (1, 2));
}

#[test]
fn governance_may_skip_epochs() {
    let (mut evm, epoch) = setup();
    let receipt = advance(&mut evm, GOV, epoch, 40).unwrap();
    let event = K3EpochCounter::EpochAdvanced::decode_log_data(&receipt.logs[0].data).unwrap();
    assert_eq!((event.previous, event.current), (1, 40));
    advance(&mut evm, GOV, epoch, u32::MAX).unwrap();
    assert_eq!(current(&mut evm, epoch), u32::MAX);
}

#[test]
fn the_same_epoch_is_not_forward() {
    let (mut evm, epoch) = setup();
    let err = advance(&mut evm, GOV, epoch, 1).unwrap_err();
    assert_eq!(
        err.selector(),
        Some(K3EpochCounter::EpochNotForward::SELECTOR)
    );
    let decoded: K3EpochCounter::EpochNotForward = err.decode().unwrap();
    assert_eq!((decoded.current, decoded.requested), (1, 1));
}

#[test]
fn an_earlier_epoch_is_not_forward() {
    let (mut evm, epoch) = setup();
    advance(&mut evm, GOV, epoch, 5).unwrap();
    for back in [0, 1, 4] {
        let err = advance(&mut evm, GOV, epoch, back).unwrap_err();
        let decoded: K3EpochCounter::EpochNotForward = err.decode().unwrap();
        assert_eq!((decoded.current, decoded.requested), (5, back));
    }
    assert_eq!(current(&mut evm, epoch), 5);
}

#[test]
fn anyone_but_governance_is_refused_with_not_governance() {
    let (mut evm, epoch) = setup();
    for intruder in [addr(1), addr(0xd0), Address::ZERO] {
        let err = advance(&mut evm, intruder, epoch, 2).unwrap_err();
        assert_eq!(
            err.selector(),
            Some(K3EpochCounter::NotGovernance::SELECTOR)
        );
        assert_eq!(
            err.data().unwrap().len(),
            4,
            "NotGovernance carries no arguments"
        );
        assert!(matches!(err, Revert::Reverted { .. }));
    }
    assert_eq!(current(&mut evm, epoch), 1);
}

#[test]
fn governance_is_checked_before_the_epoch() {
    // A stranger probing with a backward epoch learns only that they are not governance.
    let (mut evm, epoch) = setup();
    let err = advance(&mut evm, addr(1), epoch, 0).unwrap_err();
    assert_eq!(
        err.selector(),
        Some(K3EpochCounter::NotGovernance::SELECTOR)
    );
}
