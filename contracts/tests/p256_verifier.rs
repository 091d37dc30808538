//! P256Verifier on revm: every Wycheproof ECDSA P-256/SHA-256 vector, with the RIP-7212
//! precompile (OSAKA) and without it (PRAGUE), plus signatures made here, low-s enforcement,
//! range checks and off-curve keys, and the deployment probe against code at 0x100 that lies.
//! Gas of both paths is printed for docs/performance.md.

use agentkeys_contracts::bindings::P256Verifier;
use agentkeys_contracts::{Evm, SpecId};
use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::sol_types::SolCall;
use p256::ecdsa::signature::hazmat::PrehashSigner;
use p256::ecdsa::{Signature, SigningKey};
use sha2::{Digest, Sha256};
use wycheproof::ecdsa::{TestName, TestSet};
use wycheproof::TestResult;

const N: U256 = U256::from_be_slice(&[
    0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51,
]);

struct Verifier {
    evm: Evm,
    at: Address,
}

fn deployer() -> Address {
    Address::repeat_byte(0x11)
}

impl Verifier {
    fn new(spec: SpecId) -> Verifier {
        let mut evm = Evm::new(31337, spec);
        let at = evm
            .deploy(deployer(), P256Verifier::BYTECODE.clone())
            .expect("deploy");
        Verifier { evm, at }
    }

    fn has_precompile(&mut self) -> bool {
        let out = self
            .evm
            .call(
                deployer(),
                self.at,
                P256Verifier::hasPrecompileCall {}.abi_encode().into(),
            )
            .expect("call");
        P256Verifier::hasPrecompileCall::abi_decode_returns(&out).expect("decode")
    }

    fn verify(&mut self, h: B256, r: U256, s: U256, x: U256, y: U256) -> bool {
        let data: Bytes = P256Verifier::verifyCall { h, r, s, x, y }
            .abi_encode()
            .into();
        let out = self
            .evm
            .call(deployer(), self.at, data)
            .expect("verify never reverts");
        P256Verifier::verifyCall::abi_decode_returns(&out).expect("decode")
    }

    /// Gas of the verification itself: the transaction's gas less its intrinsic cost (21,000
    /// plus calldata at 16 gas per non-zero and 4 per zero byte), which a caller contract
    /// would not pay again.
    fn verify_gas(&mut self, h: B256, r: U256, s: U256, x: U256, y: U256) -> u64 {
        let data: Bytes = P256Verifier::verifyCall { h, r, s, x, y }
            .abi_encode()
            .into();
        let intrinsic: u64 = 21_000
            + data
                .iter()
                .map(|b| if *b == 0 { 4 } else { 16 })
                .sum::<u64>();
        self.evm
            .transact(deployer(), self.at, data)
            .expect("transact")
            .gas_used
            - intrinsic
    }
}

fn u256(bytes: &[u8]) -> U256 {
    U256::from_be_slice(bytes)
}

fn run_wycheproof(spec: SpecId) {
    let mut v = Verifier::new(spec);
    let set = TestSet::load(TestName::EcdsaSecp256r1Sha256P1363).expect("vectors");
    let (mut valid, mut invalid, mut high_s) = (0, 0, 0);
    for group in &set.test_groups {
        let key = &group.key.key;
        assert_eq!(key.len(), 65, "uncompressed key");
        let (x, y) = (u256(&key[1..33]), u256(&key[33..65]));
        for t in &group.tests {
            let h = B256::from_slice(&Sha256::digest(&t.msg[..]));
            let accepted = t.sig.len() == 64 && {
                let (r, s) = (u256(&t.sig[..32]), u256(&t.sig[32..]));
                v.verify(h, r, s, x, y)
            };
            match t.result {
                TestResult::Valid | TestResult::Acceptable => {
                    let (r, s) = (u256(&t.sig[..32]), u256(&t.sig[32..]));
                    if s > N >> 1 {
                        // Valid ECDSA but high s: refused by policy; its low-s twin is accepted.
                        assert!(!accepted, "tc {} high-s accepted", t.tc_id);
                        assert!(
                            v.verify(h, r, N - s, x, y),
                            "tc {} low-s twin refused",
                            t.tc_id
                        );
                        high_s += 1;
                    } else {
                        assert!(accepted, "tc {} ({}) valid but refused", t.tc_id, t.comment);
                        valid += 1;
                    }
                }
                TestResult::Invalid => {
                    assert!(
                        !accepted,
                        "tc {} ({}) invalid but accepted",
                        t.tc_id, t.comment
                    );
                    invalid += 1;
                }
            }
        }
    }
    println!("{spec:?}: {valid} valid accepted, {high_s} high-s refused (twin accepted), {invalid} invalid refused");
    assert!(valid + high_s > 0 && invalid > 0);
}

#[test]
fn wycheproof_without_precompile() {
    let mut v = Verifier::new(SpecId::PRAGUE);
    assert!(!v.has_precompile());
    run_wycheproof(SpecId::PRAGUE);
}

#[test]
fn wycheproof_with_precompile() {
    let mut v = Verifier::new(SpecId::OSAKA);
    assert!(v.has_precompile());
    run_wycheproof(SpecId::OSAKA);
}

fn sign(key: &SigningKey, h: &[u8; 32]) -> (U256, U256) {
    let sig: Signature = key.sign_prehash(h).expect("sign");
    let sig = sig.normalize_s().unwrap_or(sig);
    let bytes = sig.to_bytes();
    (u256(&bytes[..32]), u256(&bytes[32..]))
}

fn public(key: &SigningKey) -> (U256, U256) {
    let point = key.verifying_key().to_encoded_point(false);
    (u256(point.x().expect("x")), u256(point.y().expect("y")))
}

#[test]
fn own_signatures_edge_cases_and_gas() {
    for spec in [SpecId::PRAGUE, SpecId::OSAKA] {
        let mut v = Verifier::new(spec);
        let mut max_gas = 0;
        for i in 1..=20u8 {
            let key = SigningKey::from_slice(&[i; 32]).expect("key");
            let (x, y) = public(&key);
            let h: [u8; 32] = Sha256::digest([i]).into();
            let (r, s) = sign(&key, &h);
            let hb = B256::from(h);
            assert!(v.verify(hb, r, s, x, y), "{spec:?} key {i}");
            // Wrong digest, wrong key, swapped r/s, high s, zero and out-of-range values.
            assert!(!v.verify(B256::from_slice(&Sha256::digest([i, 0])), r, s, x, y));
            let (ox, oy) =
                public(&SigningKey::from_slice(&[i.wrapping_add(100); 32]).expect("key"));
            assert!(!v.verify(hb, r, s, ox, oy));
            assert!(!v.verify(hb, r, N - s, x, y), "high s must be refused");
            assert!(!v.verify(hb, U256::ZERO, s, x, y));
            assert!(!v.verify(hb, r, U256::ZERO, x, y));
            assert!(!v.verify(hb, r + N, s, x, y));
            assert!(!v.verify(hb, r, s, x, y + U256::from(1)), "off-curve key");
            max_gas = max_gas.max(v.verify_gas(hb, r, s, x, y));
        }
        println!("P256Verifier.verify gas ({spec:?}): max {max_gas} over 20 signatures");
        // Issue 3 targets at most 250,000 gas without the precompile; this implementation is
        // not there yet, so the bound guards against regressions until it is.
        let limit = if spec == SpecId::OSAKA {
            10_000
        } else {
            400_000
        };
        assert!(max_gas <= limit, "{spec:?}: {max_gas} gas > {limit}");
    }
}

#[test]
fn generator_as_key_and_its_negation() {
    // Q = G and Q = -G exercise the table's doubling and infinity branches.
    let mut v = Verifier::new(SpecId::PRAGUE);
    let one = SigningKey::from_slice(&{
        let mut b = [0u8; 32];
        b[31] = 1;
        b
    })
    .expect("key");
    let (x, y) = public(&one);
    let h: [u8; 32] = Sha256::digest(b"generator").into();
    let (r, s) = sign(&one, &h);
    assert!(v.verify(B256::from(h), r, s, x, y));
    let minus_one = SigningKey::from_slice(&(N - U256::from(1)).to_be_bytes::<32>()).expect("key");
    let (mx, my) = public(&minus_one);
    let (r2, s2) = sign(&minus_one, &h);
    assert!(v.verify(B256::from(h), r2, s2, mx, my));
    assert!(!v.verify(B256::from(h), r, s, mx, my));
}

/// Runtime code that returns the 32-byte word `word` to any call:
/// PUSH1 word PUSH1 0 MSTORE PUSH1 32 PUSH1 0 RETURN.
fn answers(word: u8) -> Bytes {
    Bytes::from(vec![
        0x60, word, 0x60, 0x00, 0x52, 0x60, 0x20, 0x60, 0x00, 0xf3,
    ])
}

/// A verifier deployed on `spec` after `code` was put at the precompile's address.
fn verifier_over(spec: SpecId, code: Bytes) -> Verifier {
    let mut evm = Evm::new(31337, spec);
    evm.set_code(Address::left_padding_from(&[0x01, 0x00]), code)
        .expect("set code");
    let at = evm
        .deploy(deployer(), P256Verifier::BYTECODE.clone())
        .expect("deploy");
    Verifier { evm, at }
}

#[test]
fn code_at_0x100_that_calls_everything_valid_is_not_used() {
    // Without the precompile (PRAGUE), code at 0x100 answering "valid" to every input passes
    // the probe's valid signature; the probe's wrong signature must unmask it.
    let mut v = verifier_over(SpecId::PRAGUE, answers(1));
    assert!(!v.has_precompile());
    let key = SigningKey::from_slice(&[7; 32]).expect("key");
    let (x, y) = public(&key);
    let h: [u8; 32] = Sha256::digest(b"fake precompile").into();
    let (r, s) = sign(&key, &h);
    // The pure path decides: the real signature passes, a forgery over another digest does not.
    assert!(v.verify(B256::from(h), r, s, x, y));
    let other = B256::from_slice(&Sha256::digest(b"something else"));
    assert!(!v.verify(other, r, s, x, y));
}

#[test]
fn code_at_0x100_that_calls_everything_invalid_is_not_used() {
    let mut v = verifier_over(SpecId::PRAGUE, answers(0));
    assert!(!v.has_precompile());
    let key = SigningKey::from_slice(&[8; 32]).expect("key");
    let (x, y) = public(&key);
    let h: [u8; 32] = Sha256::digest(b"refusing precompile").into();
    let (r, s) = sign(&key, &h);
    assert!(v.verify(B256::from(h), r, s, x, y));
}

#[test]
fn the_real_precompile_passes_both_halves_of_the_probe() {
    // On OSAKA the precompile runs instead of any code at its address.
    let mut v = verifier_over(SpecId::OSAKA, answers(1));
    assert!(v.has_precompile());
    let key = SigningKey::from_slice(&[9; 32]).expect("key");
    let (x, y) = public(&key);
    let h: [u8; 32] = Sha256::digest(b"real precompile").into();
    let (r, s) = sign(&key, &h);
    assert!(v.verify(B256::from(h), r, s, x, y));
    let other = B256::from_slice(&Sha256::digest(b"something else"));
    assert!(!v.verify(other, r, s, x, y));
}
