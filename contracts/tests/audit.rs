//! CredentialAudit on revm: who may anchor (an authorized relay, or an active master of the
//! operator; never an agent), per-operator roots, and inclusion proofs from the Rust Merkle
//! builder checked by the contract.

mod common;

use agentkeys_contracts::bindings::{CredentialAudit, SidecarRegistry};
use agentkeys_contracts::merkle::MerkleTree;
use agentkeys_contracts::SpecId;
use agentkeys_contracts::{Evm, Receipt, Revert};
use alloy::primitives::{keccak256, Address, B256, U256};
use alloy::sol_types::{SolCall, SolError, SolEvent, SolValue};
use common::registry::{events, tag, Master, ALL, SPECS};
use common::*;

const OWNER: Address = Address::repeat_byte(0x0a);
const RELAY: Address = Address::repeat_byte(0x7e);
const OPERATOR: B256 = B256::repeat_byte(0x11);
const OTHER_OPERATOR: B256 = B256::repeat_byte(0x22);

fn setup() -> (Evm, Address) {
    let (evm, audit, _) = setup_with_registry();
    (evm, audit)
}

/// The audit contract (with RELAY authorized) and the registry it consults.
fn setup_with_registry() -> (Evm, Address, Address) {
    setup_on(chain())
}

/// [`setup_with_registry`] on the chain `evm`.
fn setup_on(mut evm: Evm) -> (Evm, Address, Address) {
    let registry = deploy_registry(&mut evm);
    let audit = deploy_audit(&mut evm, OWNER, registry);
    send(
        &mut evm,
        OWNER,
        audit,
        CredentialAudit::setAuditRelayCall {
            relay: RELAY,
            authorized: true,
        },
    )
    .unwrap();
    (evm, audit, registry)
}

fn append(
    evm: &mut Evm,
    from: Address,
    audit: Address,
    operator: B256,
    root: B256,
    count: u64,
) -> Result<Receipt, Revert> {
    send(
        evm,
        from,
        audit,
        CredentialAudit::appendRootCall {
            operatorOmni: operator,
            root,
            count,
        },
    )
}

fn root_count(evm: &mut Evm, audit: Address, operator: B256) -> U256 {
    view(
        evm,
        audit,
        CredentialAudit::rootCountCall {
            operatorOmni: operator,
        },
    )
}

fn verify(
    evm: &mut Evm,
    audit: Address,
    index: u64,
    record: B256,
    proof: Vec<B256>,
) -> Result<bool, Revert> {
    try_view(
        evm,
        audit,
        CredentialAudit::verifyEntryInRootCall {
            operatorOmni: OPERATOR,
            index: U256::from(index),
            recordHash: record,
            proof,
        },
    )
}

fn records(batch: u8, n: u8) -> Vec<B256> {
    (0..n).map(|i| keccak256([batch, i])).collect()
}

#[test]
fn constructor_sets_the_owner_and_registry_and_refuses_zero_or_codeless() {
    let (mut evm, audit, registry) = setup_with_registry();
    assert_eq!(view(&mut evm, audit, CredentialAudit::ownerCall {}), OWNER);
    assert_eq!(
        view(&mut evm, audit, CredentialAudit::registryCall {}),
        registry
    );
    let err = evm
        .deploy(OWNER, audit_init_code(Address::ZERO, registry))
        .unwrap_err();
    assert_eq!(err.selector(), Some(CredentialAudit::ZeroAddress::SELECTOR));
    for codeless in [Address::ZERO, addr(0x42)] {
        let err = evm
            .deploy(OWNER, audit_init_code(OWNER, codeless))
            .unwrap_err();
        let decoded: CredentialAudit::RegistryWithoutCode = err.decode().unwrap();
        assert_eq!(decoded.registry, codeless);
    }
}

#[test]
fn owner_authorizes_and_deauthorizes_relays_with_events() {
    let mut evm = chain();
    let registry = deploy_registry(&mut evm);
    let audit = deploy_audit(&mut evm, OWNER, registry);
    let is_relay = |evm: &mut Evm| view(evm, audit, CredentialAudit::isAuditRelayCall(RELAY));
    assert!(!is_relay(&mut evm));
    for authorized in [true, false] {
        let receipt = send(
            &mut evm,
            OWNER,
            audit,
            CredentialAudit::setAuditRelayCall {
                relay: RELAY,
                authorized,
            },
        )
        .unwrap();
        assert_eq!(is_relay(&mut evm), authorized);
        let event = CredentialAudit::AuditRelaySet::decode_log_data(&receipt.logs[0].data).unwrap();
        assert_eq!((event.relay, event.authorized), (RELAY, authorized));
    }
}

#[test]
fn only_the_owner_sets_relays() {
    let (mut evm, audit) = setup();
    for intruder in [RELAY, addr(3)] {
        let err = send(
            &mut evm,
            intruder,
            audit,
            CredentialAudit::setAuditRelayCall {
                relay: intruder,
                authorized: true,
            },
        )
        .unwrap_err();
        assert_eq!(err.selector(), Some(CredentialAudit::NotOwner::SELECTOR));
    }
}

#[test]
fn the_zero_address_cannot_be_a_relay() {
    let (mut evm, audit) = setup();
    let err = send(
        &mut evm,
        OWNER,
        audit,
        CredentialAudit::setAuditRelayCall {
            relay: Address::ZERO,
            authorized: true,
        },
    )
    .unwrap_err();
    assert_eq!(err.selector(), Some(CredentialAudit::ZeroAddress::SELECTOR));
}

#[test]
fn a_relay_appends_roots_with_index_time_and_event() {
    let (mut evm, audit) = setup();
    assert_eq!(root_count(&mut evm, audit, OPERATOR), U256::ZERO);
    for (i, (root, count)) in [(B256::repeat_byte(1), 3u64), (B256::repeat_byte(2), 8)]
        .into_iter()
        .enumerate()
    {
        evm.set_timestamp(1_800_000_000 + i as u64);
        let receipt = append(&mut evm, RELAY, audit, OPERATOR, root, count).unwrap();
        let returned =
            CredentialAudit::appendRootCall::abi_decode_returns(&receipt.output).unwrap();
        assert_eq!(returned, U256::from(i));
        let log = &receipt.logs[0];
        assert_eq!(log.address, audit);
        let event = CredentialAudit::RootAppended::decode_log_data(&log.data).unwrap();
        assert_eq!(
            (event.operatorOmni, event.index, event.root, event.count),
            (OPERATOR, U256::from(i), root, count)
        );
        // Both indexed fields are topics, so the relay can filter by operator and index.
        assert_eq!(log.data.topics()[1], OPERATOR);
        assert_eq!(log.data.topics()[2], B256::from(U256::from(i)));
        let stored = view(
            &mut evm,
            audit,
            CredentialAudit::getRootCall {
                operatorOmni: OPERATOR,
                index: U256::from(i),
            },
        );
        assert_eq!(
            (stored.root, stored.count, stored.anchoredAt),
            (root, count, 1_800_000_000 + i as u64)
        );
    }
    assert_eq!(root_count(&mut evm, audit, OPERATOR), U256::from(2));
}

#[test]
fn roots_are_kept_per_operator() {
    let (mut evm, audit) = setup();
    append(&mut evm, RELAY, audit, OPERATOR, B256::repeat_byte(1), 1).unwrap();
    let receipt = append(
        &mut evm,
        RELAY,
        audit,
        OTHER_OPERATOR,
        B256::repeat_byte(9),
        1,
    )
    .unwrap();
    let event = CredentialAudit::RootAppended::decode_log_data(&receipt.logs[0].data).unwrap();
    assert_eq!(event.index, U256::ZERO, "each operator's list starts at 0");
    assert_eq!(root_count(&mut evm, audit, OPERATOR), U256::from(1));
    assert_eq!(root_count(&mut evm, audit, OTHER_OPERATOR), U256::from(1));
    let other = view(
        &mut evm,
        audit,
        CredentialAudit::getRootCall {
            operatorOmni: OTHER_OPERATOR,
            index: U256::ZERO,
        },
    );
    assert_eq!(other.root, B256::repeat_byte(9));
}

#[test]
fn unauthorized_senders_cannot_append() {
    let (mut evm, audit) = setup();
    for sender in [OWNER, addr(5), Address::ZERO] {
        let err = append(&mut evm, sender, audit, OPERATOR, B256::repeat_byte(1), 1).unwrap_err();
        let decoded: CredentialAudit::NotAuthorizedToAppend = err.decode().unwrap();
        assert_eq!((decoded.operatorOmni, decoded.sender), (OPERATOR, sender));
    }
    assert_eq!(root_count(&mut evm, audit, OPERATOR), U256::ZERO);
}

#[test]
fn a_deauthorized_relay_cannot_append() {
    let (mut evm, audit) = setup();
    send(
        &mut evm,
        OWNER,
        audit,
        CredentialAudit::setAuditRelayCall {
            relay: RELAY,
            authorized: false,
        },
    )
    .unwrap();
    let err = append(&mut evm, RELAY, audit, OPERATOR, B256::repeat_byte(1), 1).unwrap_err();
    assert_eq!(
        err.selector(),
        Some(CredentialAudit::NotAuthorizedToAppend::SELECTOR)
    );
}

#[test]
fn zero_root_and_empty_batch_are_refused() {
    let (mut evm, audit) = setup();
    let err = append(&mut evm, RELAY, audit, OPERATOR, B256::ZERO, 1).unwrap_err();
    assert_eq!(err.selector(), Some(CredentialAudit::ZeroRoot::SELECTOR));
    let err = append(&mut evm, RELAY, audit, OPERATOR, B256::repeat_byte(1), 0).unwrap_err();
    assert_eq!(err.selector(), Some(CredentialAudit::EmptyBatch::SELECTOR));
}

#[test]
fn reading_past_the_last_root_is_refused() {
    let (mut evm, audit) = setup();
    let err = try_view(
        &mut evm,
        audit,
        CredentialAudit::getRootCall {
            operatorOmni: OPERATOR,
            index: U256::ZERO,
        },
    )
    .unwrap_err();
    let decoded: CredentialAudit::RootIndexOutOfRange = err.decode().unwrap();
    assert_eq!(
        (decoded.operatorOmni, decoded.index, decoded.rootCount),
        (OPERATOR, U256::ZERO, U256::ZERO)
    );
    let err = verify(&mut evm, audit, 0, B256::repeat_byte(1), vec![]).unwrap_err();
    assert_eq!(
        err.selector(),
        Some(CredentialAudit::RootIndexOutOfRange::SELECTOR)
    );
}

#[test]
fn every_record_of_trees_of_1_2_3_5_8_is_proven_on_chain() {
    let (mut evm, audit) = setup();
    let sizes = [1u8, 2, 3, 5, 8];
    let batches: Vec<(Vec<B256>, MerkleTree)> = sizes
        .iter()
        .map(|&n| {
            let recs = records(n, n);
            let tree = MerkleTree::new(&recs).unwrap();
            (recs, tree)
        })
        .collect();
    for (recs, tree) in &batches {
        append(
            &mut evm,
            RELAY,
            audit,
            OPERATOR,
            tree.root(),
            recs.len() as u64,
        )
        .unwrap();
    }
    for (index, (recs, tree)) in batches.iter().enumerate() {
        for (i, record) in recs.iter().enumerate() {
            let proof = tree.proof(i).unwrap();
            assert!(
                verify(&mut evm, audit, index as u64, *record, proof).unwrap(),
                "batch {index} record {i}"
            );
        }
    }
}

#[test]
fn a_wrong_proof_index_or_leaf_is_refused() {
    let (mut evm, audit) = setup();
    let first = records(1, 5);
    let second = records(2, 5);
    let tree = MerkleTree::new(&first).unwrap();
    let other_tree = MerkleTree::new(&second).unwrap();
    append(&mut evm, RELAY, audit, OPERATOR, tree.root(), 5).unwrap();
    append(&mut evm, RELAY, audit, OPERATOR, other_tree.root(), 5).unwrap();
    let proof = tree.proof(1).unwrap();
    assert!(verify(&mut evm, audit, 0, first[1], proof.clone()).unwrap());

    // wrong proof: another record's path, a tampered sibling, a truncated and an empty proof
    assert!(!verify(&mut evm, audit, 0, first[1], tree.proof(2).unwrap()).unwrap());
    let mut tampered = proof.clone();
    tampered[0] = B256::repeat_byte(0xff);
    assert!(!verify(&mut evm, audit, 0, first[1], tampered).unwrap());
    assert!(!verify(
        &mut evm,
        audit,
        0,
        first[1],
        proof[..proof.len() - 1].to_vec()
    )
    .unwrap());
    assert!(!verify(&mut evm, audit, 0, first[1], vec![]).unwrap());
    // wrong index: the right proof against the operator's other root
    assert!(!verify(&mut evm, audit, 1, first[1], proof.clone()).unwrap());
    // wrong leaf: a record not in the batch, and the leaf hash passed off as the record
    assert!(!verify(&mut evm, audit, 0, keccak256(b"forged"), proof.clone()).unwrap());
    let leaf = agentkeys_contracts::merkle::leaf_hash(first[1]);
    assert!(!verify(&mut evm, audit, 0, leaf, proof).unwrap());
}

#[test]
fn a_root_of_another_operator_does_not_prove_a_record() {
    let (mut evm, audit) = setup();
    let recs = records(3, 3);
    let tree = MerkleTree::new(&recs).unwrap();
    append(&mut evm, RELAY, audit, OTHER_OPERATOR, tree.root(), 3).unwrap();
    append(&mut evm, RELAY, audit, OPERATOR, B256::repeat_byte(7), 3).unwrap();
    assert!(!verify(&mut evm, audit, 0, recs[0], tree.proof(0).unwrap()).unwrap());
}

fn expect_refused(evm: &mut Evm, audit: Address, sender: Address, operator: B256) {
    let err = append(evm, sender, audit, operator, B256::repeat_byte(1), 1).unwrap_err();
    assert_eq!(
        err.selector(),
        Some(CredentialAudit::NotAuthorizedToAppend::SELECTOR),
        "{sender}: {err:?}"
    );
    let decoded: CredentialAudit::NotAuthorizedToAppend = err.decode().unwrap();
    assert_eq!((decoded.operatorOmni, decoded.sender), (operator, sender));
}

/// An operator with two active masters and an active agent, and another operator with its
/// own master, registered in the registry the audit contract consults.
struct Devices {
    op: B256,
    master: Master,
    second_master: Master,
    agent: Address,
    other_op: B256,
    other_master: Master,
}

/// The audit contract (RELAY authorized) on `spec`, its registry and the devices above.
fn setup_with_devices(spec: SpecId) -> (Evm, Address, Address, Devices) {
    let (mut evm, audit, registry) = setup_on(Evm::new(CHAIN_ID, spec));
    let master = Master::new(1, ALL);
    let op = register_first_master(&mut evm, registry, master.address, &master.passkey);
    let second_master = Master::new(2, ALL);
    add_master(&mut evm, registry, op, &master, &second_master);
    let agent = register_agent(&mut evm, registry, master.address, 0x61);
    let other_master = Master::new(3, ALL);
    let other_op = register_first_master(
        &mut evm,
        registry,
        other_master.address,
        &other_master.passkey,
    );
    assert_ne!(op, other_op);
    let devices = Devices {
        op,
        master,
        second_master,
        agent,
        other_op,
        other_master,
    };
    (evm, audit, registry, devices)
}

/// `new` added as a master of `op`, approved by `approver`'s passkey and its own.
fn add_master(evm: &mut Evm, registry: Address, op: B256, approver: &Master, new: &Master) {
    let challenge = view(
        evm,
        registry,
        SidecarRegistry::challengeForCall {
            opTag: tag("agentkeys.registerAdditionalMaster.v1"),
            operatorOmni: op,
            paramsHash: new.registration_params(),
        },
    );
    let call = SidecarRegistry::registerAdditionalMasterDeviceCall {
        m: new.as_new_master(),
        deviceSig: new.consent(registry, op),
        approverDeviceKeyHashes: vec![approver.hash()],
        assertions: vec![approver.passkey.assert(challenge).into()],
        newDeviceAssertion: new.passkey.assert(challenge).into(),
    };
    send(evm, approver.address, registry, call).expect("registerAdditionalMasterDevice");
}

/// `target` revoked as a master of `op`, approved by `approver`'s passkey.
fn revoke_master(evm: &mut Evm, registry: Address, op: B256, approver: &Master, target: &Master) {
    let challenge = view(
        evm,
        registry,
        SidecarRegistry::challengeForCall {
            opTag: tag("agentkeys.revokeMaster.v1"),
            operatorOmni: op,
            paramsHash: keccak256(target.hash().abi_encode()),
        },
    );
    let call = SidecarRegistry::revokeMasterDeviceCall {
        targetDeviceKeyHash: target.hash(),
        approverDeviceKeyHashes: vec![approver.hash()],
        assertions: vec![approver.passkey.assert(challenge).into()],
    };
    send(evm, approver.address, registry, call).expect("revokeMasterDevice");
}

#[test]
fn a_relay_and_the_operators_active_masters_append_its_roots() {
    for spec in SPECS {
        let (mut evm, audit, _, d) = setup_with_devices(spec);
        for (i, sender) in [d.master.address, d.second_master.address]
            .into_iter()
            .enumerate()
        {
            let root = B256::repeat_byte(0x30 + i as u8);
            let receipt = append(&mut evm, sender, audit, d.op, root, 2).unwrap();
            let ev: Vec<CredentialAudit::RootAppended> = events(&receipt, audit);
            assert_eq!(
                (ev[0].operatorOmni, ev[0].index, ev[0].root),
                (d.op, U256::from(i), root)
            );
        }
        assert_eq!(root_count(&mut evm, audit, d.op), U256::from(2));
        // The other operator's master anchors for its own operator.
        append(
            &mut evm,
            d.other_master.address,
            audit,
            d.other_op,
            B256::repeat_byte(9),
            1,
        )
        .unwrap();
        assert_eq!(root_count(&mut evm, audit, d.other_op), U256::from(1));
        // A relay anchors for any operator.
        append(&mut evm, RELAY, audit, d.op, B256::repeat_byte(8), 1).unwrap();
        append(&mut evm, RELAY, audit, d.other_op, B256::repeat_byte(8), 1).unwrap();
        assert_eq!(root_count(&mut evm, audit, d.op), U256::from(3));
        assert_eq!(root_count(&mut evm, audit, d.other_op), U256::from(2));
    }
}

#[test]
fn an_agent_cannot_anchor_its_own_audit_trail() {
    // The agent is the party being audited: not for its operator, not for any other.
    for spec in SPECS {
        let (mut evm, audit, registry, d) = setup_with_devices(spec);
        let active: bool = view(
            &mut evm,
            registry,
            SidecarRegistry::isActiveCall {
                deviceKeyHash: keccak256(d.agent),
            },
        );
        assert!(active, "the agent is an active device of the operator");
        expect_refused(&mut evm, audit, d.agent, d.op);
        expect_refused(&mut evm, audit, d.agent, d.other_op);
        assert_eq!(root_count(&mut evm, audit, d.op), U256::ZERO);
    }
}

#[test]
fn a_master_of_another_operator_cannot_append() {
    for spec in SPECS {
        let (mut evm, audit, _, d) = setup_with_devices(spec);
        expect_refused(&mut evm, audit, d.other_master.address, d.op);
        expect_refused(&mut evm, audit, d.master.address, d.other_op);
        expect_refused(&mut evm, audit, d.second_master.address, d.other_op);
        assert_eq!(root_count(&mut evm, audit, d.op), U256::ZERO);
        assert_eq!(root_count(&mut evm, audit, d.other_op), U256::ZERO);
    }
}

#[test]
fn a_revoked_master_cannot_append() {
    for spec in SPECS {
        let (mut evm, audit, registry, d) = setup_with_devices(spec);
        append(
            &mut evm,
            d.second_master.address,
            audit,
            d.op,
            B256::repeat_byte(1),
            1,
        )
        .unwrap();
        revoke_master(&mut evm, registry, d.op, &d.master, &d.second_master);
        expect_refused(&mut evm, audit, d.second_master.address, d.op);
        // The operator's remaining master still may.
        append(
            &mut evm,
            d.master.address,
            audit,
            d.op,
            B256::repeat_byte(2),
            1,
        )
        .unwrap();
        assert_eq!(root_count(&mut evm, audit, d.op), U256::from(2));
    }
}

#[test]
fn a_revoked_agent_and_strangers_cannot_append() {
    for spec in SPECS {
        let (mut evm, audit, registry, d) = setup_with_devices(spec);
        send(
            &mut evm,
            d.master.address,
            registry,
            SidecarRegistry::revokeAgentDeviceCall {
                deviceKeyHash: keccak256(d.agent),
            },
        )
        .expect("revokeAgentDevice");
        expect_refused(&mut evm, audit, d.agent, d.op);
        // Unknown senders, the owner (not a relay) included.
        for stranger in [addr(5), OWNER, Address::ZERO] {
            expect_refused(&mut evm, audit, stranger, d.op);
        }
        assert_eq!(root_count(&mut evm, audit, d.op), U256::ZERO);
    }
}
