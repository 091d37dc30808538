//! K11Verifier on revm with real WebAuthn payloads: a P-256 key made here signs
//! sha256(authenticatorData ‖ sha256(clientDataJSON)) exactly as an authenticator does, and each
//! refusal is checked for its exact custom error. Everything runs with the RIP-7212 precompile
//! (OSAKA) and without it (PRAGUE), since the verifier takes a different path on each.

mod common;

use agentkeys_contracts::bindings::{K11Verifier, P256Verifier};
use agentkeys_contracts::{Evm, Revert, SpecId};
use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::sol_types::{SolCall, SolConstructor, SolError};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::webauthn::{rp_id_hash, sha256, Payload, ORIGIN, UP, UV};
use p256::ecdsa::SigningKey;

use K11Verifier::WebAuthnAssertion;

const SPECS: [SpecId; 2] = [SpecId::OSAKA, SpecId::PRAGUE];

const N: U256 = U256::from_be_slice(&[
    0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51,
]);

fn caller() -> Address {
    Address::repeat_byte(0x11)
}

fn key(seed: u8) -> SigningKey {
    SigningKey::from_slice(&[seed; 32]).expect("key")
}

fn public(key: &SigningKey) -> (U256, U256) {
    let point = key.verifying_key().to_encoded_point(false);
    (
        U256::from_be_slice(point.x().expect("x")),
        U256::from_be_slice(point.y().expect("y")),
    )
}

/// The shared assertion builder, signing into this contract's binding type.
trait SignAbi {
    fn sign_abi(&self, key: &SigningKey) -> WebAuthnAssertion;
}

impl SignAbi for Payload {
    fn sign_abi(&self, key: &SigningKey) -> WebAuthnAssertion {
        self.sign(key).into()
    }
}

fn payload(challenge: B256) -> Payload {
    Payload::new(challenge, "localhost", 0)
}

/// Locations are found by searching, as the daemon will do before submitting.
fn assertion(auth: Vec<u8>, json: String, r: U256, s: U256) -> WebAuthnAssertion {
    let find = |needle: &str| U256::from(json.find(needle).expect("field in clientDataJSON"));
    WebAuthnAssertion {
        typeLocation: find(r#""type":""#),
        challengeLocation: find(r#""challenge":""#),
        authenticatorData: auth.into(),
        clientDataJSON: json.into_bytes().into(),
        r,
        s,
    }
}

/// The device as the registry would have it stored.
struct Device {
    x: U256,
    y: U256,
    rp_id_hash: B256,
    require_uv: bool,
    stored_sign_count: u32,
}

impl Device {
    fn of(key: &SigningKey) -> Device {
        let (x, y) = public(key);
        Device {
            x,
            y,
            rp_id_hash: rp_id_hash("localhost"),
            require_uv: true,
            stored_sign_count: 0,
        }
    }
}

struct Chain {
    evm: Evm,
    k11: Address,
    spec: SpecId,
}

impl Chain {
    fn new(spec: SpecId) -> Chain {
        let mut evm = Evm::new(31337, spec);
        let p256 = evm
            .deploy(caller(), P256Verifier::BYTECODE.clone())
            .expect("deploy P256Verifier");
        let args = K11Verifier::constructorCall { p256_: p256 }.abi_encode();
        let init: Bytes = [K11Verifier::BYTECODE.as_ref(), &args].concat().into();
        let k11 = evm.deploy(caller(), init).expect("deploy K11Verifier");
        Chain { evm, k11, spec }
    }

    fn verify_call(
        a: &WebAuthnAssertion,
        challenge: B256,
        d: &Device,
    ) -> K11Verifier::verifyOrRevertCall {
        K11Verifier::verifyOrRevertCall {
            assertion: a.clone(),
            challenge,
            x: d.x,
            y: d.y,
            rpIdHash: d.rp_id_hash,
            requireUV: d.require_uv,
            storedSignCount: d.stored_sign_count,
        }
    }

    /// `verifyOrRevert` and `verify` together, asserting that they agree: the reverting entry
    /// point's result, and `verify` must say (true, n) exactly when it returns n.
    fn check(&mut self, a: &WebAuthnAssertion, challenge: B256, d: &Device) -> Result<u32, Revert> {
        let call = Self::verify_call(a, challenge, d);
        let reverting = self
            .evm
            .call(caller(), self.k11, call.abi_encode().into())
            .map(|out| K11Verifier::verifyOrRevertCall::abi_decode_returns(&out).expect("decode"));
        let boolean = K11Verifier::verifyCall {
            assertion: call.assertion,
            challenge: call.challenge,
            x: call.x,
            y: call.y,
            rpIdHash: call.rpIdHash,
            requireUV: call.requireUV,
            storedSignCount: call.storedSignCount,
        };
        let out = self
            .evm
            .call(caller(), self.k11, boolean.abi_encode().into())
            .expect("verify never reverts");
        let answer = K11Verifier::verifyCall::abi_decode_returns(&out).expect("decode");
        match &reverting {
            Ok(n) => assert_eq!(
                (answer.ok, answer.newSignCount),
                (true, *n),
                "{:?}",
                self.spec
            ),
            Err(_) => assert_eq!(
                (answer.ok, answer.newSignCount),
                (false, 0),
                "{:?}",
                self.spec
            ),
        }
        reverting
    }

    fn expect_ok(&mut self, a: &WebAuthnAssertion, challenge: B256, d: &Device) -> u32 {
        self.check(a, challenge, d)
            .unwrap_or_else(|e| panic!("{:?}: valid assertion refused: {e}", self.spec))
    }

    fn expect_error<E: SolError>(&mut self, a: &WebAuthnAssertion, challenge: B256, d: &Device) {
        let err = self.check(a, challenge, d).expect_err(&format!(
            "{:?}: expected {}",
            self.spec,
            E::SIGNATURE
        ));
        assert_eq!(
            err.selector(),
            Some(E::SELECTOR),
            "{:?}: expected {}, got {err:?}",
            self.spec,
            E::SIGNATURE
        );
    }

    /// Execution gas of a valid `verifyOrRevert`: the transaction's gas less its intrinsic cost
    /// (21,000 plus calldata at 16 gas per non-zero and 4 per zero byte), which a calling
    /// contract would not pay again.
    fn verify_gas(&mut self, a: &WebAuthnAssertion, challenge: B256, d: &Device) -> u64 {
        let data: Bytes = Self::verify_call(a, challenge, d).abi_encode().into();
        let zeros = data.iter().filter(|b| **b == 0).count() as u64;
        let non_zeros = data.len() as u64 - zeros;
        let intrinsic = 21_000 + 16 * non_zeros + 4 * zeros;
        let used = self
            .evm
            .transact(caller(), self.k11, data)
            .expect("valid assertion")
            .gas_used;
        // Since Prague (EIP-7623) a transaction pays at least a calldata floor; if that floor
        // were what was charged, the subtraction would not measure execution at all.
        let floor = 21_000 + 10 * (zeros + 4 * non_zeros);
        assert!(
            used > floor,
            "{:?}: gas {used} is the calldata floor",
            self.spec
        );
        used - intrinsic
    }
}

fn challenge(tag: &[u8]) -> B256 {
    B256::from(sha256(tag))
}

#[test]
fn valid_assertion_with_uv() {
    for spec in SPECS {
        let mut chain = Chain::new(spec);
        let k = key(1);
        let c = challenge(b"register agent");
        let mut p = payload(c);
        p.sign_count = 7;
        let mut d = Device::of(&k);
        d.stored_sign_count = 6;
        assert_eq!(chain.expect_ok(&p.sign_abi(&k), c, &d), 7);
    }
}

#[test]
fn valid_assertion_without_uv_when_not_required() {
    for spec in SPECS {
        let mut chain = Chain::new(spec);
        let k = key(2);
        let c = challenge(b"set scope");
        let mut p = payload(c);
        p.flags = UP;
        p.sign_count = 1;
        let mut d = Device::of(&k);
        d.require_uv = false;
        assert_eq!(chain.expect_ok(&p.sign_abi(&k), c, &d), 1);
    }
}

#[test]
fn zero_sign_counts_allowed_for_synced_passkeys() {
    for spec in SPECS {
        let mut chain = Chain::new(spec);
        let k = key(3);
        let c = challenge(b"synced");
        let p = payload(c);
        let d = Device::of(&k);
        // The same zero count, twice: a synced passkey never increments.
        assert_eq!(chain.expect_ok(&p.sign_abi(&k), c, &d), 0);
        assert_eq!(chain.expect_ok(&p.sign_abi(&k), c, &d), 0);
    }
}

#[test]
fn refuses_webauthn_create_type() {
    for spec in SPECS {
        let mut chain = Chain::new(spec);
        let k = key(4);
        let c = challenge(b"create");
        let mut p = payload(c);
        p.ceremony = "webauthn.create";
        chain.expect_error::<K11Verifier::WrongType>(&p.sign_abi(&k), c, &Device::of(&k));
    }
}

#[test]
fn refuses_type_location_pointing_elsewhere() {
    for spec in SPECS {
        let mut chain = Chain::new(spec);
        let k = key(5);
        let c = challenge(b"locations");
        let mut a = payload(c).sign_abi(&k);
        let d = Device::of(&k);
        a.typeLocation += U256::from(1);
        chain.expect_error::<K11Verifier::WrongType>(&a, c, &d);
        // Far out of range must be a refusal, not an arithmetic overflow or an out-of-bounds.
        a.typeLocation = U256::MAX;
        chain.expect_error::<K11Verifier::WrongType>(&a, c, &d);
        let mut a = payload(c).sign_abi(&k);
        a.challengeLocation = U256::MAX;
        chain.expect_error::<K11Verifier::ChallengeMismatch>(&a, c, &d);
        a.challengeLocation = U256::from(a.clientDataJSON.len() - 10);
        chain.expect_error::<K11Verifier::ChallengeMismatch>(&a, c, &d);
    }
}

#[test]
fn refuses_wrong_challenge() {
    for spec in SPECS {
        let mut chain = Chain::new(spec);
        let k = key(6);
        let c = challenge(b"expected");
        // Properly signed, but for another operation's challenge.
        let a = payload(challenge(b"other")).sign_abi(&k);
        chain.expect_error::<K11Verifier::ChallengeMismatch>(&a, c, &Device::of(&k));
    }
}

#[test]
fn refuses_challenge_with_other_padding_or_length() {
    for spec in SPECS {
        let mut chain = Chain::new(spec);
        let k = key(7);
        let c = challenge(b"padding");
        let d = Device::of(&k);
        let exact = URL_SAFE_NO_PAD.encode(c);
        assert_eq!(exact.len(), 43);
        let variants = [
            format!("{exact}="),
            exact[..42].to_string(),
            format!("{exact}A"),
            // The same bytes in standard base64, which differs wherever + or / would appear.
            base64::engine::general_purpose::STANDARD.encode(c),
        ];
        for text in variants {
            let mut p = payload(c);
            p.challenge_text = text;
            chain.expect_error::<K11Verifier::ChallengeMismatch>(&p.sign_abi(&k), c, &d);
        }
    }
}

#[test]
fn refuses_short_authenticator_data() {
    for spec in SPECS {
        let mut chain = Chain::new(spec);
        let k = key(8);
        let c = challenge(b"short");
        let p = payload(c);
        let mut auth = p.authenticator_data();
        auth.pop();
        let mut a = p.sign_abi(&k);
        a.authenticatorData = auth.into();
        chain.expect_error::<K11Verifier::AuthenticatorDataTooShort>(&a, c, &Device::of(&k));
    }
}

#[test]
fn refuses_wrong_rp_id_hash() {
    for spec in SPECS {
        let mut chain = Chain::new(spec);
        let k = key(9);
        let c = challenge(b"rp");
        let mut p = payload(c);
        p.rp_id = "companion.localhost";
        chain.expect_error::<K11Verifier::RpIdHashMismatch>(&p.sign_abi(&k), c, &Device::of(&k));
    }
}

#[test]
fn refuses_missing_user_presence() {
    for spec in SPECS {
        let mut chain = Chain::new(spec);
        let k = key(10);
        let c = challenge(b"up");
        let mut p = payload(c);
        p.flags = UV;
        let mut d = Device::of(&k);
        chain.expect_error::<K11Verifier::UserNotPresent>(&p.sign_abi(&k), c, &d);
        d.require_uv = false;
        chain.expect_error::<K11Verifier::UserNotPresent>(&p.sign_abi(&k), c, &d);
    }
}

#[test]
fn refuses_missing_user_verification_when_required() {
    for spec in SPECS {
        let mut chain = Chain::new(spec);
        let k = key(11);
        let c = challenge(b"uv");
        let mut p = payload(c);
        p.flags = UP;
        chain.expect_error::<K11Verifier::UserNotVerified>(&p.sign_abi(&k), c, &Device::of(&k));
    }
}

#[test]
fn refuses_high_s() {
    for spec in SPECS {
        let mut chain = Chain::new(spec);
        let k = key(12);
        let c = challenge(b"high s");
        let d = Device::of(&k);
        let mut a = payload(c).sign_abi(&k);
        chain.expect_ok(&a, c, &d);
        // The same signature in its other, equally valid ECDSA form.
        a.s = N - a.s;
        chain.expect_error::<K11Verifier::BadSignature>(&a, c, &d);
    }
}

#[test]
fn refuses_signature_by_another_key() {
    for spec in SPECS {
        let mut chain = Chain::new(spec);
        let c = challenge(b"other key");
        let a = payload(c).sign_abi(&key(13));
        chain.expect_error::<K11Verifier::BadSignature>(&a, c, &Device::of(&key(14)));
    }
}

#[test]
fn refuses_client_data_tampered_after_signing() {
    for spec in SPECS {
        let mut chain = Chain::new(spec);
        let k = key(15);
        let c = challenge(b"tamper");
        let a = payload(c).sign_abi(&k);
        let json = String::from_utf8(a.clientDataJSON.to_vec()).expect("utf8");
        let forged = json.replace(ORIGIN, "https://evil.example");
        assert_ne!(json, forged);
        // Type and challenge still check out, so only the signature can catch it.
        let a = assertion(a.authenticatorData.to_vec(), forged, a.r, a.s);
        chain.expect_error::<K11Verifier::BadSignature>(&a, c, &Device::of(&k));
    }
}

#[test]
fn refuses_flags_tampered_after_signing() {
    for spec in SPECS {
        let mut chain = Chain::new(spec);
        let k = key(16);
        let c = challenge(b"flags");
        let mut p = payload(c);
        p.flags = UP;
        let mut a = p.sign_abi(&k);
        // Claiming UV the authenticator never asserted.
        let mut auth = a.authenticatorData.to_vec();
        auth[32] |= UV;
        a.authenticatorData = auth.into();
        chain.expect_error::<K11Verifier::BadSignature>(&a, c, &Device::of(&k));
    }
}

#[test]
fn refuses_replayed_sign_count() {
    for spec in SPECS {
        let mut chain = Chain::new(spec);
        let k = key(17);
        let c = challenge(b"replay");
        let mut p = payload(c);
        p.sign_count = 5;
        let a = p.sign_abi(&k);
        let mut d = Device::of(&k);
        d.stored_sign_count = 4;
        assert_eq!(chain.expect_ok(&a, c, &d), 5);
        // The registry has stored 5; the very same assertion again.
        d.stored_sign_count = 5;
        chain.expect_error::<K11Verifier::SignCountNotIncreasing>(&a, c, &d);
        let err = chain.check(&a, c, &d).unwrap_err();
        assert_eq!(
            err.decode::<K11Verifier::SignCountNotIncreasing>(),
            Some(K11Verifier::SignCountNotIncreasing {
                stored: 5,
                presented: 5
            })
        );
    }
}

#[test]
fn refuses_lower_sign_count() {
    for spec in SPECS {
        let mut chain = Chain::new(spec);
        let k = key(18);
        let c = challenge(b"lower");
        let mut d = Device::of(&k);
        d.stored_sign_count = 9;
        for presented in [8, 0] {
            let mut p = payload(c);
            p.sign_count = presented;
            let err = chain.check(&p.sign_abi(&k), c, &d).unwrap_err();
            assert_eq!(
                err.decode::<K11Verifier::SignCountNotIncreasing>(),
                Some(K11Verifier::SignCountNotIncreasing {
                    stored: 9,
                    presented
                }),
                "{spec:?}: count {presented} after 9"
            );
        }
    }
}

#[test]
fn first_failing_check_is_reported() {
    for spec in SPECS {
        let mut chain = Chain::new(spec);
        let k = key(19);
        let c = challenge(b"order");
        let mut d = Device::of(&k);
        d.stored_sign_count = 100;
        // Wrong in every way at once, signed by another key: the type check comes first.
        let mut p = payload(challenge(b"not this one"));
        p.ceremony = "webauthn.create";
        p.rp_id = "companion.localhost";
        p.flags = 0;
        chain.expect_error::<K11Verifier::WrongType>(&p.sign_abi(&key(20)), c, &d);
        p.ceremony = "webauthn.get";
        chain.expect_error::<K11Verifier::ChallengeMismatch>(&p.sign_abi(&key(20)), c, &d);
        p.challenge_text = URL_SAFE_NO_PAD.encode(c);
        chain.expect_error::<K11Verifier::RpIdHashMismatch>(&p.sign_abi(&key(20)), c, &d);
        p.rp_id = "localhost";
        chain.expect_error::<K11Verifier::UserNotPresent>(&p.sign_abi(&key(20)), c, &d);
        p.flags = UP;
        chain.expect_error::<K11Verifier::UserNotVerified>(&p.sign_abi(&key(20)), c, &d);
        p.flags = UP | UV;
        chain.expect_error::<K11Verifier::BadSignature>(&p.sign_abi(&key(20)), c, &d);
        chain.expect_error::<K11Verifier::SignCountNotIncreasing>(&p.sign_abi(&k), c, &d);
    }
}

#[test]
fn base64url_matches_reference_encoder() {
    let mut chain = Chain::new(SpecId::PRAGUE);
    let mut inputs = vec![B256::ZERO, B256::repeat_byte(0xff), B256::repeat_byte(0xfb)];
    inputs.extend((0..50).map(|_| B256::from(rand::random::<[u8; 32]>())));
    for input in inputs {
        let out = chain
            .evm
            .call(
                caller(),
                chain.k11,
                K11Verifier::base64urlCall { data: input }
                    .abi_encode()
                    .into(),
            )
            .expect("pure");
        let encoded = K11Verifier::base64urlCall::abi_decode_returns(&out).expect("decode");
        assert_eq!(encoded.as_ref(), URL_SAFE_NO_PAD.encode(input).as_bytes());
    }
}

#[test]
fn constructor_refuses_verifier_without_code() {
    let mut evm = Evm::new(31337, SpecId::PRAGUE);
    let args = K11Verifier::constructorCall {
        p256_: Address::repeat_byte(0x42),
    }
    .abi_encode();
    let init: Bytes = [K11Verifier::BYTECODE.as_ref(), &args].concat().into();
    assert!(matches!(
        evm.deploy(caller(), init),
        Err(Revert::Reverted { .. })
    ));
}

#[test]
fn verify_or_revert_gas() {
    for spec in SPECS {
        let mut chain = Chain::new(spec);
        let k = key(21);
        let c = challenge(b"gas");
        let mut p = payload(c);
        p.sign_count = 2;
        let mut d = Device::of(&k);
        d.stored_sign_count = 1;
        let gas = chain.verify_gas(&p.sign_abi(&k), c, &d);
        println!("K11Verifier.verifyOrRevert gas ({spec:?}): {gas}");
        // The P-256 verification dominates; the WebAuthn checks around it add a few thousand.
        let limit = if spec == SpecId::OSAKA {
            25_000
        } else {
            300_000
        };
        assert!(gas <= limit, "{spec:?}: {gas} gas > {limit}");
    }
}
