//! K11 passkeys (ARCHITECTURE §3, §8, §10): what an enrollment ceremony yields, and the chain
//! payload of a WebAuthn assertion exactly as `K11Verifier`'s `WebAuthnAssertion` struct takes
//! it, with a local check that mirrors the contract's, so the daemon refuses before submitting
//! anything the chain would refuse. No alloy here: the daemon converts to the binding type.
//!
//! Byte strings travel as `0x`-prefixed lowercase hex.

use p256::ecdsa::signature::hazmat::PrehashVerifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::EncodedPoint;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::b64;

/// RP ID of the primary daemon's ceremonies.
pub const RP_ID_PRIMARY: &str = "localhost";
/// RP ID of the companion daemon's ceremonies.
pub const RP_ID_COMPANION: &str = "companion.localhost";

/// The exact bytes `K11Verifier` compares at `typeLocation` (the closing quote included).
pub const TYPE_GET_FIELD: &str = r#""type":"webauthn.get""#;
/// The prefix of the field `K11Verifier` compares at `challengeLocation`.
pub const CHALLENGE_PREFIX: &str = r#""challenge":""#;

/// authenticatorData flag bits.
pub const FLAG_UP: u8 = 0x01;
pub const FLAG_UV: u8 = 0x04;
/// rpIdHash (32) + flags (1) + signCount (4).
pub const AUTH_DATA_MIN_LENGTH: usize = 37;

pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// sha256 of the RP ID, as registered on chain and found at the start of authenticatorData.
pub fn rp_id_hash(rp_id: &str) -> [u8; 32] {
    sha256(rp_id.as_bytes())
}

/// The whole `"challenge":"<base64url>"` field (57 bytes) `K11Verifier` expects for `challenge`.
pub fn challenge_field(challenge: &[u8; 32]) -> String {
    format!("{CHALLENGE_PREFIX}{}\"", b64::encode_url(challenge))
}

/// An uncompressed P-256 public key (K11) as the contracts take it: x and y, 32 bytes each,
/// big-endian.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct P256PublicKey {
    #[serde(with = "hex32")]
    pub x: [u8; 32],
    #[serde(with = "hex32")]
    pub y: [u8; 32],
}

impl P256PublicKey {
    /// The key as a verifier, or `None` when (x, y) is not a point of the curve.
    pub fn verifying_key(&self) -> Option<VerifyingKey> {
        let point = EncodedPoint::from_affine_coordinates(&self.x.into(), &self.y.into(), false);
        VerifyingKey::from_encoded_point(&point).ok()
    }
}

/// What an enrollment ceremony yields: everything the registry stores for a K11.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolledPasskey {
    #[serde(with = "hex_bytes")]
    pub credential_id: Vec<u8>,
    pub public_key: P256PublicKey,
    pub rp_id: String,
    #[serde(with = "hex32")]
    pub rp_id_hash: [u8; 32],
    pub sign_count: u32,
}

/// `K11Verifier.WebAuthnAssertion`, field for field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainAssertion {
    #[serde(with = "hex_bytes")]
    pub authenticator_data: Vec<u8>,
    /// The browser's clientDataJSON, byte for byte (it is hashed, so never re-encoded).
    #[serde(with = "hex_bytes")]
    pub client_data_json: Vec<u8>,
    /// Byte offset of `"challenge":"…"` in `client_data_json`.
    pub challenge_location: u64,
    /// Byte offset of `"type":"webauthn.get"` in `client_data_json`.
    pub type_location: u64,
    #[serde(with = "hex32")]
    pub r: [u8; 32],
    /// Always the low s (≤ n/2): the on-chain verifier refuses the other.
    #[serde(with = "hex32")]
    pub s: [u8; 32],
}

/// The first check of [`ChainAssertion::check`] that failed; the same order and meaning as
/// `K11Verifier.Failure`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AssertionFailure {
    #[error("clientDataJSON has no \"type\":\"webauthn.get\" at the given offset")]
    WrongType,
    #[error("clientDataJSON does not carry the expected challenge at the given offset")]
    ChallengeMismatch,
    #[error("authenticatorData is shorter than 37 bytes")]
    AuthenticatorDataTooShort,
    #[error("authenticatorData is for another RP ID")]
    RpIdHashMismatch,
    #[error("the authenticator did not report user presence")]
    UserNotPresent,
    #[error("the authenticator did not verify the user (UV flag missing)")]
    UserNotVerified,
    #[error("the signature does not verify under the passkey, or its s is not low")]
    BadSignature,
}

impl ChainAssertion {
    /// The sign count in authenticatorData (0 when it is too short).
    pub fn sign_count(&self) -> u32 {
        match self.authenticator_data.get(33..37) {
            Some(b) => u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
            None => 0,
        }
    }

    /// The flags byte of authenticatorData (0 when it is too short).
    pub fn flags(&self) -> u8 {
        self.authenticator_data.get(32).copied().unwrap_or(0)
    }

    /// The contract's checks, in its order, except the stored sign count (which only the chain
    /// knows): type and challenge at their offsets, rpIdHash, UP, UV when required, and the
    /// signature over sha256(authenticatorData ‖ sha256(clientDataJSON)) with a low s.
    /// Returns the presented sign count.
    pub fn check(
        &self,
        challenge: &[u8; 32],
        key: &P256PublicKey,
        rp_id_hash: &[u8; 32],
        require_uv: bool,
    ) -> Result<u32, AssertionFailure> {
        let json = &self.client_data_json;
        if !field_at(json, self.type_location, TYPE_GET_FIELD.as_bytes()) {
            return Err(AssertionFailure::WrongType);
        }
        if !field_at(
            json,
            self.challenge_location,
            challenge_field(challenge).as_bytes(),
        ) {
            return Err(AssertionFailure::ChallengeMismatch);
        }
        let data = &self.authenticator_data;
        if data.len() < AUTH_DATA_MIN_LENGTH {
            return Err(AssertionFailure::AuthenticatorDataTooShort);
        }
        if data[..32] != rp_id_hash[..] {
            return Err(AssertionFailure::RpIdHashMismatch);
        }
        let flags = data[32];
        if flags & FLAG_UP == 0 {
            return Err(AssertionFailure::UserNotPresent);
        }
        if require_uv && flags & FLAG_UV == 0 {
            return Err(AssertionFailure::UserNotVerified);
        }
        if !self.signature_valid(key) {
            return Err(AssertionFailure::BadSignature);
        }
        Ok(self.sign_count())
    }

    /// The digest the authenticator signed: sha256(authenticatorData ‖ sha256(clientDataJSON)).
    pub fn signed_digest(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(&self.authenticator_data);
        h.update(sha256(&self.client_data_json));
        h.finalize().into()
    }

    fn signature_valid(&self, key: &P256PublicKey) -> bool {
        let Some(vk) = key.verifying_key() else {
            return false;
        };
        let Ok(sig) = Signature::from_scalars(self.r, self.s) else {
            return false;
        };
        // normalize_s answers Some only for a high s, which the on-chain verifier refuses.
        if sig.normalize_s().is_some() {
            return false;
        }
        vk.verify_prehash(&self.signed_digest(), &sig).is_ok()
    }
}

/// Whether `json[loc..loc + field.len()] == field`, without overflow on a huge `loc`.
fn field_at(json: &[u8], loc: u64, field: &[u8]) -> bool {
    let Ok(loc) = usize::try_from(loc) else {
        return false;
    };
    loc.checked_add(field.len())
        .and_then(|end| json.get(loc..end))
        .is_some_and(|found| found == field)
}

/// `0x` hex for a byte vector.
pub mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("0x{}", hex::encode(bytes)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        let digits = text
            .strip_prefix("0x")
            .ok_or_else(|| serde::de::Error::custom("expected 0x-prefixed hex"))?;
        hex::decode(digits).map_err(|_| serde::de::Error::custom("expected 0x-prefixed hex"))
    }
}

/// `0x` hex for exactly 32 bytes.
pub mod hex32 {
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        super::hex_bytes::serialize(bytes, s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let bytes = super::hex_bytes::deserialize(d)?;
        bytes
            .try_into()
            .map_err(|_| serde::de::Error::custom("expected 32 bytes"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::hazmat::PrehashSigner;
    use p256::ecdsa::SigningKey;

    fn key() -> (SigningKey, P256PublicKey) {
        let sk = SigningKey::from_slice(&[7u8; 32]).unwrap();
        let point = sk.verifying_key().to_encoded_point(false);
        let public = P256PublicKey {
            x: point.x().unwrap()[..].try_into().unwrap(),
            y: point.y().unwrap()[..].try_into().unwrap(),
        };
        (sk, public)
    }

    fn assertion(sk: &SigningKey, challenge: &[u8; 32], flags: u8) -> ChainAssertion {
        let json = format!(
            r#"{{"type":"webauthn.get","challenge":"{}","origin":"http://localhost:1","crossOrigin":false}}"#,
            b64::encode_url(challenge)
        );
        let mut data = rp_id_hash(RP_ID_PRIMARY).to_vec();
        data.push(flags);
        data.extend_from_slice(&5u32.to_be_bytes());
        let mut a = ChainAssertion {
            authenticator_data: data,
            challenge_location: json.find(CHALLENGE_PREFIX).unwrap() as u64,
            type_location: json.find(TYPE_GET_FIELD).unwrap() as u64,
            client_data_json: json.into_bytes(),
            r: [0; 32],
            s: [0; 32],
        };
        let sig: Signature = sk.sign_prehash(&a.signed_digest()).unwrap();
        let sig = sig.normalize_s().unwrap_or(sig);
        let bytes = sig.to_bytes();
        a.r.copy_from_slice(&bytes[..32]);
        a.s.copy_from_slice(&bytes[32..]);
        a
    }

    #[test]
    fn checks_in_the_contracts_order() {
        let (sk, public) = key();
        let challenge = [9u8; 32];
        let hash = rp_id_hash(RP_ID_PRIMARY);
        let good = assertion(&sk, &challenge, FLAG_UP | FLAG_UV);
        assert_eq!(good.check(&challenge, &public, &hash, true), Ok(5));
        assert_eq!(
            good.check(&[8u8; 32], &public, &hash, true),
            Err(AssertionFailure::ChallengeMismatch)
        );
        assert_eq!(
            good.check(&challenge, &public, &rp_id_hash(RP_ID_COMPANION), true),
            Err(AssertionFailure::RpIdHashMismatch)
        );
        let no_uv = assertion(&sk, &challenge, FLAG_UP);
        assert_eq!(
            no_uv.check(&challenge, &public, &hash, true),
            Err(AssertionFailure::UserNotVerified)
        );
        assert_eq!(no_uv.check(&challenge, &public, &hash, false), Ok(5));
        let mut moved = good.clone();
        moved.type_location += 1;
        assert_eq!(
            moved.check(&challenge, &public, &hash, true),
            Err(AssertionFailure::WrongType)
        );
        moved = good.clone();
        moved.challenge_location = u64::MAX;
        assert_eq!(
            moved.check(&challenge, &public, &hash, true),
            Err(AssertionFailure::ChallengeMismatch)
        );
        // The high s of the same signature verifies in p256 but not on chain.
        let mut high = good.clone();
        let sig = Signature::from_scalars(good.r, good.s).unwrap();
        let n_minus_s = -*sig.s();
        high.s.copy_from_slice(&n_minus_s.to_bytes());
        assert_eq!(
            high.check(&challenge, &public, &hash, true),
            Err(AssertionFailure::BadSignature)
        );
    }

    #[test]
    fn wire_form_is_hex() {
        let (sk, _) = key();
        let a = assertion(&sk, &[1u8; 32], FLAG_UP | FLAG_UV);
        let json = serde_json::to_value(&a).unwrap();
        assert!(json["r"].as_str().unwrap().starts_with("0x"));
        let back: ChainAssertion = serde_json::from_value(json).unwrap();
        assert_eq!(back, a);
        assert_eq!(challenge_field(&[0u8; 32]).len(), 57);
    }
}
