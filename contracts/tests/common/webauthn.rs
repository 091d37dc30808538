//! Real WebAuthn assertions from P-256 keys made in the test: the key signs
//! sha256(authenticatorData ‖ sha256(clientDataJSON)) exactly as an authenticator does, and the
//! browser-side clientDataJSON carries the base64url challenge. Every field can be spoiled by a
//! test through [`Payload`].

use std::cell::Cell;

use alloy::primitives::{B256, U256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use p256::ecdsa::signature::hazmat::PrehashSigner;
use p256::ecdsa::{Signature, SigningKey};
use sha2::{Digest, Sha256};

pub const UP: u8 = 0x01;
pub const UV: u8 = 0x04;
pub const ORIGIN: &str = "http://localhost:1234";

pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

pub fn rp_id_hash(rp_id: &str) -> B256 {
    B256::from(sha256(rp_id.as_bytes()))
}

/// What an authenticator and browser produce for one `navigator.credentials.get`.
pub struct Payload {
    pub ceremony: &'static str,
    /// The challenge exactly as it appears in clientDataJSON (already base64url).
    pub challenge_text: String,
    pub origin: &'static str,
    pub rp_id: &'static str,
    pub flags: u8,
    pub sign_count: u32,
}

impl Payload {
    pub fn new(challenge: B256, rp_id: &'static str, sign_count: u32) -> Payload {
        Payload {
            ceremony: "webauthn.get",
            challenge_text: URL_SAFE_NO_PAD.encode(challenge),
            origin: ORIGIN,
            rp_id,
            flags: UP | UV,
            sign_count,
        }
    }

    pub fn client_data_json(&self) -> String {
        format!(
            r#"{{"type":"{}","challenge":"{}","origin":"{}","crossOrigin":false}}"#,
            self.ceremony, self.challenge_text, self.origin
        )
    }

    pub fn authenticator_data(&self) -> Vec<u8> {
        let mut data = rp_id_hash(self.rp_id).to_vec();
        data.push(self.flags);
        data.extend_from_slice(&self.sign_count.to_be_bytes());
        data
    }

    pub fn sign(&self, key: &SigningKey) -> Signed {
        let authenticator_data = self.authenticator_data();
        let client_data_json = self.client_data_json();
        let message = [
            authenticator_data.as_slice(),
            &sha256(client_data_json.as_bytes()),
        ]
        .concat();
        let sig: Signature = key.sign_prehash(&sha256(&message)).expect("sign");
        // Authenticators may return either s; the verifier accepts only the low one.
        let sig = sig.normalize_s().unwrap_or(sig);
        let bytes = sig.to_bytes();
        // Locations are found by searching, as the daemon will do before submitting.
        let find = |needle: &str| {
            client_data_json
                .find(needle)
                .expect("field in clientDataJSON")
        };
        Signed {
            type_location: find(r#""type":""#),
            challenge_location: find(r#""challenge":""#),
            authenticator_data,
            client_data_json,
            r: U256::from_be_slice(&bytes[..32]),
            s: U256::from_be_slice(&bytes[32..]),
        }
    }
}

/// A signed assertion, independent of any contract's binding type.
#[derive(Clone, Debug)]
pub struct Signed {
    pub authenticator_data: Vec<u8>,
    pub client_data_json: String,
    pub challenge_location: usize,
    pub type_location: usize,
    pub r: U256,
    pub s: U256,
}

/// A passkey: a P-256 key, its RP ID, and the sign counter its authenticator keeps (bumped on
/// every assertion, as a device-bound authenticator does).
pub struct Passkey {
    pub key: SigningKey,
    pub rp_id: &'static str,
    pub counter: Cell<u32>,
}

impl Passkey {
    pub fn new(seed: u8, rp_id: &'static str) -> Passkey {
        Passkey {
            key: SigningKey::from_slice(&[seed; 32]).expect("key"),
            rp_id,
            counter: Cell::new(0),
        }
    }

    pub fn public(&self) -> (U256, U256) {
        let point = self.key.verifying_key().to_encoded_point(false);
        (
            U256::from_be_slice(point.x().expect("x")),
            U256::from_be_slice(point.y().expect("y")),
        )
    }

    pub fn rp_id_hash(&self) -> B256 {
        rp_id_hash(self.rp_id)
    }

    /// A valid assertion over `challenge` with the next sign count.
    pub fn assert(&self, challenge: B256) -> Signed {
        self.assert_with(challenge, |_| {})
    }

    /// An assertion with the next sign count, after `spoil` has changed the payload.
    pub fn assert_with(&self, challenge: B256, spoil: impl FnOnce(&mut Payload)) -> Signed {
        self.counter.set(self.counter.get() + 1);
        let mut payload = Payload::new(challenge, self.rp_id, self.counter.get());
        spoil(&mut payload);
        payload.sign(&self.key)
    }
}

/// Each contract's binding has its own `WebAuthnAssertion` type with the same fields.
macro_rules! into_binding {
    ($($binding:ident),*) => {$(
        impl From<Signed> for agentkeys_contracts::bindings::$binding::WebAuthnAssertion {
            fn from(s: Signed) -> Self {
                Self {
                    authenticatorData: s.authenticator_data.into(),
                    clientDataJSON: s.client_data_json.into_bytes().into(),
                    challengeLocation: U256::from(s.challenge_location),
                    typeLocation: U256::from(s.type_location),
                    r: s.r,
                    s: s.s,
                }
            }
        }
    )*};
}

into_binding!(K11Verifier, SidecarRegistry, AgentKeysScope);
