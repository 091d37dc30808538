//! K10: the device's secp256k1 key. Its EVM address is the device identity; it signs SIWE
//! messages (EIP-191) and proofs of possession (a purpose-tagged keccak digest).

use crate::identity::{keccak256, Address};
use k256::ecdsa::{RecoveryId, Signature, SigningKey, VerifyingKey};
use rand::rngs::OsRng;
use std::fmt;
use zeroize::Zeroizing;

/// A recoverable secp256k1 signature: r ‖ s ‖ v with v in {27, 28} (Ethereum convention).
pub type RecoverableSignature = [u8; 65];

pub struct DeviceKey {
    key: SigningKey,
}

impl DeviceKey {
    pub fn generate() -> DeviceKey {
        DeviceKey {
            key: SigningKey::random(&mut OsRng),
        }
    }

    pub fn from_bytes(secret: &[u8; 32]) -> Option<DeviceKey> {
        SigningKey::from_slice(secret)
            .ok()
            .map(|key| DeviceKey { key })
    }

    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.key.to_bytes().into())
    }

    pub fn address(&self) -> Address {
        address_of(self.key.verifying_key())
    }

    /// EIP-191 `personal_sign`, as wallets sign SIWE messages.
    pub fn sign_personal(&self, message: &[u8]) -> RecoverableSignature {
        self.sign_prehash(&eip191_hash(message))
    }

    /// Signs a 32-byte digest that the caller has already domain-separated.
    pub fn sign_prehash(&self, digest: &[u8; 32]) -> RecoverableSignature {
        // RFC 6979 signing over a fixed-size digest cannot fail for a valid key; fall back to
        // an all-zero signature (which never verifies) rather than panicking. k256 already
        // returns low-s signatures with the matching recovery id.
        match self.key.sign_prehash_recoverable(digest) {
            Ok((sig, recid)) => {
                let mut out = [0u8; 65];
                out[..64].copy_from_slice(&sig.to_bytes());
                out[64] = 27 + recid.to_byte();
                out
            }
            Err(_) => [0u8; 65],
        }
    }
}

impl fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceKey({}, secret redacted)", self.address())
    }
}

pub fn address_of(key: &VerifyingKey) -> Address {
    let point = key.to_encoded_point(false);
    let hash = keccak256(&point.as_bytes()[1..]);
    let mut out = [0u8; 20];
    out.copy_from_slice(&hash[12..]);
    Address(out)
}

pub fn eip191_hash(message: &[u8]) -> [u8; 32] {
    let mut data = format!("\x19Ethereum Signed Message:\n{}", message.len()).into_bytes();
    data.extend_from_slice(message);
    keccak256(&data)
}

/// Recovers the signer's address of a digest. Refuses high-s signatures so that each signature
/// has one encoding (a replay cache keyed on signatures would otherwise see two).
pub fn recover_prehash(digest: &[u8; 32], sig: &RecoverableSignature) -> Option<Address> {
    let signature = Signature::from_slice(&sig[..64]).ok()?;
    if signature.normalize_s().is_some() {
        return None;
    }
    let v = match sig[64] {
        27 | 28 => sig[64] - 27,
        0 | 1 => sig[64],
        _ => return None,
    };
    let recid = RecoveryId::from_byte(v)?;
    let key = VerifyingKey::recover_from_prehash(digest, &signature, recid).ok()?;
    Some(address_of(&key))
}

pub fn parse_signature_hex(text: &str) -> Option<RecoverableSignature> {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    let mut out = [0u8; 65];
    hex::decode_to_slice(digits, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_recover() {
        let key = DeviceKey::from_bytes(&[7u8; 32]).unwrap();
        let digest = keccak256(b"hello");
        let sig = key.sign_prehash(&digest);
        assert_eq!(recover_prehash(&digest, &sig), Some(key.address()));
        let mut other = digest;
        other[0] ^= 1;
        assert_ne!(recover_prehash(&other, &sig), Some(key.address()));
    }

    #[test]
    fn debug_hides_secret() {
        let key = DeviceKey::from_bytes(&[7u8; 32]).unwrap();
        let dbg = format!("{key:?}");
        assert!(!dbg.contains(&hex::encode([7u8; 32])));
    }
}
