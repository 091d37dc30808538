//! Gas used per contract function, as a transaction (21,000 intrinsic gas included), printed as
//! a table: `cargo test -p agentkeys-contracts --test gas -- --nocapture`.

mod common;

use agentkeys_contracts::bindings::{CredentialAudit, K3EpochCounter};
use agentkeys_contracts::merkle::MerkleTree;
use alloy::primitives::{keccak256, Address, B256, U256};
use alloy::sol_types::SolCall;
use common::webauthn::Passkey;
use common::*;

const OWNER: Address = Address::repeat_byte(0x0a);
const RELAY: Address = Address::repeat_byte(0x7e);
const OPERATOR: B256 = B256::repeat_byte(0x11);

#[test]
fn gas_table() {
    let mut evm = chain();
    let mut rows: Vec<(String, u64)> = Vec::new();

    let deployed = evm
        .deploy_receipt(addr(0xd0), epoch_init_code(OWNER))
        .unwrap();
    rows.push(("K3EpochCounter deploy".into(), deployed.gas_used));
    let epoch = deployed.contract_address.unwrap();
    let r = send(
        &mut evm,
        OWNER,
        epoch,
        K3EpochCounter::advanceEpochCall { newEpoch: 2 },
    )
    .unwrap();
    rows.push(("K3EpochCounter.advanceEpoch".into(), r.gas_used));

    let registry = deploy_registry(&mut evm);
    let deployed = evm
        .deploy_receipt(OWNER, audit_init_code(OWNER, registry))
        .unwrap();
    rows.push(("CredentialAudit deploy".into(), deployed.gas_used));
    let audit = deployed.contract_address.unwrap();
    let r = send(
        &mut evm,
        OWNER,
        audit,
        CredentialAudit::setAuditRelayCall {
            relay: RELAY,
            authorized: true,
        },
    )
    .unwrap();
    rows.push(("CredentialAudit.setAuditRelay".into(), r.gas_used));

    let records: Vec<B256> = (0..1024u32).map(|i| keccak256(i.to_be_bytes())).collect();
    let tree = MerkleTree::new(&records).unwrap();
    let append = CredentialAudit::appendRootCall {
        operatorOmni: OPERATOR,
        root: tree.root(),
        count: 1024,
    };
    let r = send(&mut evm, RELAY, audit, append.clone()).unwrap();
    rows.push((
        "CredentialAudit.appendRoot (first for operator)".into(),
        r.gas_used,
    ));
    let r = send(&mut evm, RELAY, audit, append).unwrap();
    rows.push(("CredentialAudit.appendRoot (next)".into(), r.gas_used));

    // Anchored by devices, which costs the registry lookups.
    let master = Address::repeat_byte(0xa1);
    let operator =
        register_first_master(&mut evm, registry, master, &Passkey::new(0x41, "localhost"));
    let agent = register_agent(&mut evm, registry, master, 0x61);
    let append = CredentialAudit::appendRootCall {
        operatorOmni: operator,
        root: tree.root(),
        count: 1024,
    };
    let r = send(&mut evm, master, audit, append.clone()).unwrap();
    rows.push((
        "CredentialAudit.appendRoot (by a master, first for operator)".into(),
        r.gas_used,
    ));
    let r = send(&mut evm, agent, audit, append).unwrap();
    rows.push((
        "CredentialAudit.appendRoot (by an agent, next)".into(),
        r.gas_used,
    ));

    let r = send(
        &mut evm,
        OWNER,
        audit,
        CredentialAudit::rootCountCall {
            operatorOmni: OPERATOR,
        },
    )
    .unwrap();
    rows.push(("CredentialAudit.rootCount".into(), r.gas_used));
    let r = send(
        &mut evm,
        OWNER,
        audit,
        CredentialAudit::getRootCall {
            operatorOmni: OPERATOR,
            index: U256::ZERO,
        },
    )
    .unwrap();
    rows.push(("CredentialAudit.getRoot".into(), r.gas_used));
    let verify = CredentialAudit::verifyEntryInRootCall {
        operatorOmni: OPERATOR,
        index: U256::ZERO,
        recordHash: records[0],
        proof: tree.proof(0).unwrap(),
    };
    let r = send(&mut evm, OWNER, audit, verify.clone()).unwrap();
    assert!(CredentialAudit::verifyEntryInRootCall::abi_decode_returns(&r.output).unwrap());
    rows.push((
        "CredentialAudit.verifyEntryInRoot (1024 records, 10-hash proof)".into(),
        r.gas_used,
    ));

    println!("\n| function | gas (tx, incl. 21,000 intrinsic) |\n|---|---:|");
    for (name, gas) in &rows {
        println!("| {name} | {gas} |");
    }
    // Loose ceilings so a regression that multiplies cost fails CI, not just the table.
    for (name, gas) in &rows {
        let ceiling = if name.ends_with("deploy") {
            1_000_000
        } else {
            120_000
        };
        assert!(*gas < ceiling, "{name} used {gas} gas");
    }
}
