//! Fixed keys, clocks and expectations shared by the fuzz targets, so every target verifies
//! against the same deterministic world and a crash reproduces from its input alone.

use std::sync::OnceLock;

use agentkeys_core::device_key::DeviceKey;
use agentkeys_core::es256::{Es256Key, Jwks, KeyPurpose};
use agentkeys_core::identity::Omni;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The verifier's clock (2027-01-15).
pub const NOW: u64 = 1_800_000_000;
pub const ISSUER: &str = "https://relay.example";
pub const CHAIN_ID: u64 = 31_337;

/// K1 of the broker the targets verify against.
pub fn session_key() -> &'static Es256Key {
    static KEY: OnceLock<Es256Key> = OnceLock::new();
    KEY.get_or_init(|| {
        Es256Key::from_secret(KeyPurpose::Session, &[0x11; 32]).unwrap_or_else(|| unreachable!())
    })
}

/// The broker's JWKS: K1, plus an OIDC key so that a wrong-purpose kid is reachable.
pub fn jwks() -> &'static Jwks {
    static JWKS: OnceLock<Jwks> = OnceLock::new();
    JWKS.get_or_init(|| {
        let oidc =
            Es256Key::from_secret(KeyPurpose::Oidc, &[0x12; 32]).unwrap_or_else(|| unreachable!());
        Jwks {
            keys: vec![session_key().jwk().clone(), oidc.jwk().clone()],
        }
    })
}

/// A device key (K10): the signer of proofs, SIWE messages and approval requests.
pub fn device_key() -> &'static DeviceKey {
    static KEY: OnceLock<DeviceKey> = OnceLock::new();
    KEY.get_or_init(|| DeviceKey::from_bytes(&[0x22; 32]).unwrap_or_else(|| unreachable!()))
}

pub fn operator() -> Omni {
    Omni([0x33; 32])
}

pub fn actor() -> Omni {
    Omni([0x44; 32])
}

/// A value that parsed must serialize and parse back to the same JSON: the wire form of every
/// type is stable, so what one side signs or compares the other side reads alike.
pub fn json_round_trip<T: DeserializeOwned + Serialize>(bytes: &[u8]) -> Option<T> {
    let value: T = serde_json::from_slice(bytes).ok()?;
    let first = serde_json::to_vec(&value).unwrap_or_else(|e| panic!("serialize: {e}"));
    let again: T = serde_json::from_slice(&first)
        .unwrap_or_else(|e| panic!("own serialization does not parse back: {e}"));
    let second = serde_json::to_vec(&again).unwrap_or_else(|e| panic!("serialize: {e}"));
    assert_eq!(first, second, "serialization is not stable");
    Some(value)
}

/// The passkey (K11) the ceremony targets expect, and its public key as the chain holds it.
pub fn passkey_signing() -> &'static p256::ecdsa::SigningKey {
    static KEY: OnceLock<p256::ecdsa::SigningKey> = OnceLock::new();
    KEY.get_or_init(|| {
        p256::ecdsa::SigningKey::from_slice(&[0x07; 32]).unwrap_or_else(|_| unreachable!())
    })
}

pub fn passkey_public() -> agentkeys_core::passkey::P256PublicKey {
    let point = passkey_signing().verifying_key().to_encoded_point(false);
    let mut x = [0u8; 32];
    let mut y = [0u8; 32];
    x.copy_from_slice(point.x().map(|c| c.as_slice()).unwrap_or(&[0; 32]));
    y.copy_from_slice(point.y().map(|c| c.as_slice()).unwrap_or(&[0; 32]));
    agentkeys_core::passkey::P256PublicKey { x, y }
}
