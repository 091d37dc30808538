//! K10: the device's secp256k1 key. Its EVM address is the device identity; it signs SIWE
//! messages (EIP-191) and proofs of possession (a purpose-tagged keccak digest).

use crate::identity::{keccak256, Address};
use k256::ecdsa::{RecoveryId, Signature, SigningKey, VerifyingKey};
use rand::rngs::OsRng;
use std::fmt;
use zeroize::Zeroizing;

/// A recoverable secp256k1 signature: r ‖ s ‖ v with v in {27, 28} (Ethereum convention).
pub type RecoverableSignature = [u8; 65];

/// The one recovery-id encoding accepted: 27 or 28, what `personal_sign` and [`DeviceKey`]
/// produce. Accepting 0/1 as well would give every signature a second spelling.
const V_BASE: u8 = 27;

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
                out[64] = V_BASE + recid.to_byte();
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

/// The signature and recovery id of a canonical encoding: v in {27, 28} and a low s. Each
/// signed digest then has exactly one accepted signature per key (RFC 6979 aside), so nothing
/// downstream can be fooled by a re-spelled copy.
fn canonical_parts(sig: &RecoverableSignature) -> Option<(Signature, RecoveryId)> {
    let signature = Signature::from_slice(&sig[..64]).ok()?;
    if signature.normalize_s().is_some() {
        return None;
    }
    let v = sig[64].checked_sub(V_BASE)?;
    let recid = RecoveryId::from_byte(v)?;
    // x-reduced recovery ids (2, 3) never occur for honest secp256k1 signatures.
    if recid.is_x_reduced() {
        return None;
    }
    Some((signature, recid))
}

/// Recovers the signer's address of a digest. Refuses any non-canonical signature (high s,
/// v other than 27/28), so that a signature has one encoding.
pub fn recover_prehash(digest: &[u8; 32], sig: &RecoverableSignature) -> Option<Address> {
    let (signature, recid) = canonical_parts(sig)?;
    let key = VerifyingKey::recover_from_prehash(digest, &signature, recid).ok()?;
    Some(address_of(&key))
}

/// Parses `0x` + 130 hex digits into a signature in canonical form, or `None` (wrong length,
/// not hex, high s, v other than 27/28).
pub fn parse_signature_hex(text: &str) -> Option<RecoverableSignature> {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    let mut out = [0u8; 65];
    hex::decode_to_slice(digits, &mut out).ok()?;
    canonical_parts(&out)?;
    Some(out)
}

#[cfg(test)]
pub(crate) mod tests {
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

    /// The same signature with s mirrored to n - s and the recovery parity flipped: valid
    /// ECDSA, but the non-canonical spelling.
    pub(crate) fn high_s_twin(sig: &RecoverableSignature) -> RecoverableSignature {
        let low = Signature::from_slice(&sig[..64]).unwrap();
        let (r, s) = low.split_scalars();
        let high = Signature::from_scalars(r, -*s).unwrap();
        let mut out = *sig;
        out[..64].copy_from_slice(&high.to_bytes());
        out[64] ^= 1;
        out
    }

    #[test]
    fn only_the_canonical_encoding_recovers() {
        let key = DeviceKey::from_bytes(&[7u8; 32]).unwrap();
        let digest = keccak256(b"hello");
        let sig = key.sign_prehash(&digest);
        assert!(sig[64] == 27 || sig[64] == 28);
        let hex_of = |s: &RecoverableSignature| format!("0x{}", hex::encode(s));
        assert_eq!(parse_signature_hex(&hex_of(&sig)), Some(sig));
        // v as 0/1, or any other byte, is refused both when parsing and when recovering.
        let parity = sig[64] - 27;
        for v in [parity, parity ^ 1, sig[64] + 27, 26, 29, 255] {
            let mut other = sig;
            other[64] = v;
            assert_eq!(parse_signature_hex(&hex_of(&other)), None, "v = {v}");
            assert_eq!(recover_prehash(&digest, &other), None, "v = {v}");
        }
        // The high-s twin is a valid ECDSA signature of the same key (k256 recovers it after
        // normalising), and still refused.
        let twin = high_s_twin(&sig);
        let norm = Signature::from_slice(&twin[..64]).unwrap().normalize_s();
        assert_eq!(
            norm.map(|n| n.to_bytes()),
            Some(Signature::from_slice(&sig[..64]).unwrap().to_bytes())
        );
        assert_eq!(parse_signature_hex(&hex_of(&twin)), None);
        assert_eq!(recover_prehash(&digest, &twin), None);
    }

    #[test]
    fn debug_hides_secret() {
        let key = DeviceKey::from_bytes(&[7u8; 32]).unwrap();
        let dbg = format!("{key:?}");
        assert!(!dbg.contains(&hex::encode([7u8; 32])));
    }
}
