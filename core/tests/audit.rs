//! Known-answer vectors for the audit formats (`agentkeys_core::audit`): the record hash
//! `agentkeys/audit/v1` that chains the relay's log, and the batch tree whose roots
//! `CredentialAudit` anchors. If one changes, records or roots written by older builds stop
//! verifying.

use agentkeys_core::audit::{
    decode_hash, leaf_hash, node_hash, record_hash, root_from_proof, view_hash, RecordFields,
    GENESIS_PREV_HASH,
};
use agentkeys_core::chain::AuditRecordView;

fn show(name: &str, value: &str) {
    println!("{name} = {value}");
}

fn fields<'a>(op: &'a str, outcome: &'a str) -> RecordFields<'a> {
    RecordFields {
        operator: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        device: "0xabababababababababababababababababababab",
        actor: "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210",
        service: "github",
        op,
        data_class: "credentials",
        outcome,
        // SHA-256("jti-1")
        cap_jti_hash: "5964da055ae31cf8eb7230e190a504899c6f60f07f9f1cd3cade9fbf226e8c28",
    }
}

const H1: &str = "76638dc3979d85836471333feb597b1c11d51f6e8c9aac0236015b87d9235dd7";
const H2: &str = "ba39b1906d851bf460a35ff34095a4f3c2d64f20b56a1d944b68521b0de15e0f";

#[test]
fn record_hash_vectors() {
    let genesis = decode_hash(GENESIS_PREV_HASH).unwrap();
    assert_eq!(genesis, [0u8; 32]);
    let h1 = record_hash(&genesis, 1, 1_700_000_000_000, &fields("fetch", "ok"));
    show("record 1", &h1);
    assert_eq!(h1, H1);
    // A non-genesis prev_hash and a negative time exercise the other paths.
    let h2 = record_hash(
        &decode_hash(&h1).unwrap(),
        2,
        -5,
        &fields("store", "pop_replayed"),
    );
    show("record 2", &h2);
    assert_eq!(h2, H2);
}

#[test]
fn view_hash_matches_the_record_hash() {
    let f = fields("fetch", "ok");
    let mut v = AuditRecordView {
        id: 1,
        time_ms: 1_700_000_000_000,
        operator: f.operator.into(),
        device: f.device.into(),
        actor: f.actor.into(),
        service: f.service.into(),
        op: f.op.into(),
        data_class: f.data_class.into(),
        outcome: f.outcome.into(),
        cap_jti_hash: f.cap_jti_hash.into(),
        prev_hash: GENESIS_PREV_HASH.into(),
        hash: H1.into(),
    };
    assert_eq!(view_hash(&v).as_deref(), Some(H1));
    v.prev_hash = GENESIS_PREV_HASH.to_uppercase().replace('0', "A");
    assert_eq!(view_hash(&v), None);
}

#[test]
fn tree_vectors() {
    let r1 = decode_hash(H1).unwrap();
    let r2 = decode_hash(H2).unwrap();
    let r3 = [0x33u8; 32];
    let l1 = leaf_hash(&r1);
    show("leaf(record 1)", &hex::encode(l1));
    assert_eq!(hex::encode(l1), LEAF1);
    let (l2, l3) = (leaf_hash(&r2), leaf_hash(&r3));
    let n12 = node_hash(&l1, &l2);
    let root = node_hash(&n12, &l3);
    show("root(1, 2, 3)", &hex::encode(root));
    assert_eq!(hex::encode(root), ROOT3);
    // A one-record batch: the root is the leaf.
    assert_eq!(root_from_proof(&r1, &[]), l1);
    // Sorted pairs: every record's path leads to the root; the odd third is promoted.
    assert_eq!(root_from_proof(&r1, &[l2, l3]), root);
    assert_eq!(root_from_proof(&r2, &[l1, l3]), root);
    assert_eq!(root_from_proof(&r3, &[n12]), root);
    assert_ne!(root_from_proof(&r3, &[l1]), root);
}

const LEAF1: &str = "77397b714cb2ff920f0d46c9ab839724bea00783c1723814622c370762bdb80c";
const ROOT3: &str = "b5ac9e648c72acd26c35039aabede524d15d0b9e02ce181fcb4dcb7365970113";
