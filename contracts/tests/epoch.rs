//! K3EpochCounter on revm, on both hard forks: one epoch forward at a time, governance only,
//! and governance handed over in two steps (propose, then accept by the proposed address).

mod common;

use agentkeys_contracts::bindings::K3EpochCounter;
use agentkeys_contracts::{Evm, Receipt, Revert, SpecId};
use alloy::primitives::Address;
use alloy::sol_types::SolError;
use common::registry::{events, expect, SPECS};
use common::*;

const GOV: Address = Address::repeat_byte(0x60);
const NEXT_GOV: Address = Address::repeat_byte(0x61);
const STRANGER: Address = Address::repeat_byte(0x99);

fn setup(spec: SpecId) -> (Evm, Address) {
    let mut evm = Evm::new(CHAIN_ID, spec);
    let epoch = deploy_epoch(&mut evm, GOV);
    (evm, epoch)
}

/// Runs `test` on a fresh counter on each hard fork.
fn on_both_forks(test: impl Fn(&mut Evm, Address)) {
    for spec in SPECS {
        let (mut evm, epoch) = setup(spec);
        test(&mut evm, epoch);
    }
}

fn current(evm: &mut Evm, epoch: Address) -> u32 {
    view(evm, epoch, K3EpochCounter::currentEpochCall {})
}

fn governance(evm: &mut Evm, epoch: Address) -> (Address, Address) {
    (
        view(evm, epoch, K3EpochCounter::signerGovernanceCall {}),
        view(evm, epoch, K3EpochCounter::pendingGovernanceCall {}),
    )
}

fn advance(
    evm: &mut Evm,
    from: Address,
    epoch: Address,
    new_epoch: u32,
) -> Result<Receipt, Revert> {
    send(
        evm,
        from,
        epoch,
        K3EpochCounter::advanceEpochCall {
            newEpoch: new_epoch,
        },
    )
}

fn propose(
    evm: &mut Evm,
    from: Address,
    epoch: Address,
    proposed: Address,
) -> Result<Receipt, Revert> {
    send(
        evm,
        from,
        epoch,
        K3EpochCounter::proposeGovernanceCall { proposed },
    )
}

fn accept(evm: &mut Evm, from: Address, epoch: Address) -> Result<Receipt, Revert> {
    send(evm, from, epoch, K3EpochCounter::acceptGovernanceCall {})
}

fn not_next(result: Result<Receipt, Revert>) -> (u32, u32) {
    let e: K3EpochCounter::EpochNotNext = expect(result);
    (e.current, e.requested)
}

fn not_pending(result: Result<Receipt, Revert>) -> Address {
    expect::<K3EpochCounter::NotPendingGovernance>(result).sender
}

fn not_governance(result: Result<Receipt, Revert>) {
    let err = result.expect_err("expected NotGovernance");
    assert_eq!(
        err.selector(),
        Some(K3EpochCounter::NotGovernance::SELECTOR),
        "{err:?}"
    );
    assert_eq!(
        err.data().map(|d| d.len()),
        Some(4),
        "NotGovernance carries no arguments"
    );
}

#[test]
fn starts_at_one_with_the_constructor_governance_and_says_so() {
    for spec in SPECS {
        let mut evm = Evm::new(CHAIN_ID, spec);
        let receipt = evm
            .deploy_receipt(addr(0xd0), epoch_init_code(GOV))
            .unwrap();
        let epoch = receipt.contract_address.unwrap();
        assert_eq!(current(&mut evm, epoch), 1);
        assert_eq!(governance(&mut evm, epoch), (GOV, Address::ZERO));
        let ev: Vec<K3EpochCounter::GovernanceTransferred> = events(&receipt, epoch);
        assert_eq!(ev.len(), 1);
        assert_eq!((ev[0].previous, ev[0].current), (Address::ZERO, GOV));
    }
}

#[test]
fn constructor_refuses_zero_governance() {
    for spec in SPECS {
        let mut evm = Evm::new(CHAIN_ID, spec);
        let err = evm
            .deploy(addr(1), epoch_init_code(Address::ZERO))
            .unwrap_err();
        assert_eq!(
            err.selector(),
            Some(K3EpochCounter::ZeroGovernance::SELECTOR)
        );
    }
}

#[test]
fn governance_advances_one_epoch_at_a_time_with_an_event_each() {
    on_both_forks(|evm, epoch| {
        for next in 2..=4u32 {
            let receipt = advance(evm, GOV, epoch, next).unwrap();
            let ev: Vec<K3EpochCounter::EpochAdvanced> = events(&receipt, epoch);
            assert_eq!(ev.len(), 1);
            assert_eq!((ev[0].previous, ev[0].current), (next - 1, next));
            assert_eq!(current(evm, epoch), next);
        }
    });
}

#[test]
fn a_jump_is_refused_with_epoch_not_next() {
    on_both_forks(|evm, epoch| {
        // +2, a larger jump, and the jump that would end rotation for good.
        for jump in [3, 40, u32::MAX] {
            assert_eq!(not_next(advance(evm, GOV, epoch, jump)), (1, jump));
        }
        assert_eq!(current(evm, epoch), 1);
        advance(evm, GOV, epoch, 2).unwrap();
        assert_eq!(not_next(advance(evm, GOV, epoch, 4)), (2, 4));
        assert_eq!(not_next(advance(evm, GOV, epoch, u32::MAX)), (2, u32::MAX));
        assert_eq!(current(evm, epoch), 2);
    });
}

#[test]
fn the_same_or_an_earlier_epoch_is_refused_with_epoch_not_next() {
    on_both_forks(|evm, epoch| {
        assert_eq!(not_next(advance(evm, GOV, epoch, 1)), (1, 1));
        assert_eq!(not_next(advance(evm, GOV, epoch, 0)), (1, 0));
        for next in 2..=5 {
            advance(evm, GOV, epoch, next).unwrap();
        }
        for back in [0, 1, 4, 5] {
            assert_eq!(not_next(advance(evm, GOV, epoch, back)), (5, back));
        }
        assert_eq!(current(evm, epoch), 5);
    });
}

#[test]
fn a_replayed_advance_does_not_burn_a_second_epoch() {
    // The same governance call sent twice (a retry after a lost receipt) moves the epoch once.
    on_both_forks(|evm, epoch| {
        advance(evm, GOV, epoch, 2).unwrap();
        assert_eq!(not_next(advance(evm, GOV, epoch, 2)), (2, 2));
        assert_eq!(current(evm, epoch), 2);
    });
}

#[test]
fn anyone_but_governance_is_refused_with_not_governance() {
    on_both_forks(|evm, epoch| {
        for intruder in [addr(1), addr(0xd0), STRANGER, Address::ZERO] {
            not_governance(advance(evm, intruder, epoch, 2));
        }
        assert_eq!(current(evm, epoch), 1);
    });
}

#[test]
fn governance_is_checked_before_the_epoch() {
    // A stranger probing with a wrong epoch learns only that they are not governance.
    on_both_forks(|evm, epoch| {
        not_governance(advance(evm, STRANGER, epoch, 0));
        not_governance(advance(evm, STRANGER, epoch, u32::MAX));
    });
}

#[test]
fn governance_is_handed_over_in_two_steps_with_events() {
    on_both_forks(|evm, epoch| {
        let receipt = propose(evm, GOV, epoch, NEXT_GOV).unwrap();
        let ev: Vec<K3EpochCounter::GovernanceProposed> = events(&receipt, epoch);
        assert_eq!(ev.len(), 1);
        assert_eq!((ev[0].governance, ev[0].proposed), (GOV, NEXT_GOV));
        // Both addresses are topics, so a watcher can filter on either.
        assert_eq!(receipt.logs[0].topics()[2], NEXT_GOV.into_word());
        // Proposed is not yet governance: the old one still advances, the new one may not.
        assert_eq!(governance(evm, epoch), (GOV, NEXT_GOV));
        not_governance(advance(evm, NEXT_GOV, epoch, 2));
        advance(evm, GOV, epoch, 2).unwrap();

        let receipt = accept(evm, NEXT_GOV, epoch).unwrap();
        let ev: Vec<K3EpochCounter::GovernanceTransferred> = events(&receipt, epoch);
        assert_eq!(ev.len(), 1);
        assert_eq!((ev[0].previous, ev[0].current), (GOV, NEXT_GOV));
        assert_eq!(governance(evm, epoch), (NEXT_GOV, Address::ZERO));
        advance(evm, NEXT_GOV, epoch, 3).unwrap();
        assert_eq!(current(evm, epoch), 3);
    });
}

#[test]
fn after_the_hand_over_the_old_governance_is_refused() {
    on_both_forks(|evm, epoch| {
        propose(evm, GOV, epoch, NEXT_GOV).unwrap();
        accept(evm, NEXT_GOV, epoch).unwrap();
        not_governance(advance(evm, GOV, epoch, 2));
        not_governance(propose(evm, GOV, epoch, GOV));
        // The offer was spent: neither side can accept it again.
        assert_eq!(not_pending(accept(evm, NEXT_GOV, epoch)), NEXT_GOV);
        assert_eq!(not_pending(accept(evm, GOV, epoch)), GOV);
        assert_eq!(governance(evm, epoch), (NEXT_GOV, Address::ZERO));
        assert_eq!(current(evm, epoch), 1);
    });
}

#[test]
fn a_stranger_cannot_propose() {
    on_both_forks(|evm, epoch| {
        for intruder in [STRANGER, NEXT_GOV, Address::ZERO] {
            not_governance(propose(evm, intruder, epoch, intruder));
        }
        // Nor by proposing over a pending offer.
        propose(evm, GOV, epoch, NEXT_GOV).unwrap();
        not_governance(propose(evm, STRANGER, epoch, STRANGER));
        not_governance(propose(evm, NEXT_GOV, epoch, Address::ZERO));
        assert_eq!(governance(evm, epoch), (GOV, NEXT_GOV));
    });
}

#[test]
fn only_the_pending_address_can_accept() {
    on_both_forks(|evm, epoch| {
        // Nothing pending: nobody accepts, the zero address included.
        for sender in [NEXT_GOV, GOV, Address::ZERO] {
            assert_eq!(not_pending(accept(evm, sender, epoch)), sender);
        }
        propose(evm, GOV, epoch, NEXT_GOV).unwrap();
        // Not the governance that proposed, not a stranger.
        for sender in [GOV, STRANGER, Address::ZERO] {
            assert_eq!(not_pending(accept(evm, sender, epoch)), sender);
        }
        assert_eq!(governance(evm, epoch), (GOV, NEXT_GOV));
    });
}

#[test]
fn a_new_proposal_replaces_the_old_and_zero_withdraws_it() {
    on_both_forks(|evm, epoch| {
        propose(evm, GOV, epoch, STRANGER).unwrap();
        propose(evm, GOV, epoch, NEXT_GOV).unwrap();
        assert_eq!(not_pending(accept(evm, STRANGER, epoch)), STRANGER);

        let receipt = propose(evm, GOV, epoch, Address::ZERO).unwrap();
        let ev: Vec<K3EpochCounter::GovernanceProposed> = events(&receipt, epoch);
        assert_eq!((ev[0].governance, ev[0].proposed), (GOV, Address::ZERO));
        assert_eq!(governance(evm, epoch), (GOV, Address::ZERO));
        assert_eq!(not_pending(accept(evm, NEXT_GOV, epoch)), NEXT_GOV);
        assert_eq!(
            not_pending(accept(evm, Address::ZERO, epoch)),
            Address::ZERO
        );
        assert_eq!(governance(evm, epoch), (GOV, Address::ZERO));
    });
}

#[test]
fn governance_may_hand_over_twice_and_back() {
    on_both_forks(|evm, epoch| {
        propose(evm, GOV, epoch, NEXT_GOV).unwrap();
        accept(evm, NEXT_GOV, epoch).unwrap();
        propose(evm, NEXT_GOV, epoch, GOV).unwrap();
        accept(evm, GOV, epoch).unwrap();
        assert_eq!(governance(evm, epoch), (GOV, Address::ZERO));
        not_governance(advance(evm, NEXT_GOV, epoch, 2));
        advance(evm, GOV, epoch, 2).unwrap();
    });
}
