//! SIWE nonces that cost nothing until they are used.
//!
//! `start` keeps no state: the nonce carries its own expiry and a MAC binding it to the
//! address it was issued for, under a key derived from K1 with a purpose tag (so relays that
//! share K1 accept each other's nonces, and nothing else of K1's is exposed). Layout, 80
//! lowercase hex digits (EIP-4361 wants an alphanumeric nonce of at least 8 characters):
//!
//! `hex(u64 BE expiry) ‖ hex(16 random bytes) ‖ hex(first 16 bytes of HMAC-SHA256(key,
//! "agentkeys-siwe-nonce-v1" ‖ address ‖ u64 BE expiry ‖ random))`
//!
//! State exists only for consumed nonces, until they expire, so that each is single-use. That
//! store is bounded; when it is full of live entries a verify is refused (`signin_busy`)
//! rather than risk accepting a replay.

use agentkeys_core::es256::Es256Key;
use agentkeys_core::identity::Address;
use agentkeys_core::ErrorCode;
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Mutex;
use zeroize::Zeroizing;

const TAG: &[u8] = b"agentkeys-siwe-nonce-v1";
const RANDOM_LEN: usize = 16;
const MAC_LEN: usize = 16;
const RAW_LEN: usize = 8 + RANDOM_LEN + MAC_LEN;
pub const NONCE_LEN: usize = 2 * RAW_LEN;
/// Consumed nonces remembered at most; a live one is at most the challenge TTL old.
const MAX_CONSUMED: usize = 100_000;

type Random = [u8; RANDOM_LEN];

pub struct SiweNonces {
    key: Zeroizing<[u8; 32]>,
    consumed: Mutex<Consumed>,
    max_consumed: usize,
}

#[derive(Default)]
struct Consumed {
    until: HashMap<Random, u64>,
    /// The same entries by expiry, so that expired ones leave in order, without a scan.
    by_expiry: BinaryHeap<Reverse<(u64, Random)>>,
}

impl SiweNonces {
    pub fn new(k1: &Es256Key) -> SiweNonces {
        SiweNonces::with_capacity(k1, MAX_CONSUMED)
    }

    fn with_capacity(k1: &Es256Key, max_consumed: usize) -> SiweNonces {
        let mut key = Zeroizing::new([0u8; 32]);
        let secret = k1.to_file_bytes();
        // 32 bytes is far below HKDF-SHA256's output limit, so expand cannot fail.
        let _ = Hkdf::<Sha256>::new(None, &secret).expand(TAG, key.as_mut());
        SiweNonces {
            key,
            consumed: Mutex::new(Consumed::default()),
            max_consumed,
        }
    }

    fn mac(&self, address: &Address, expires: u64, random: &Random) -> Hmac<Sha256> {
        // new_from_slice accepts keys of any length; the fallback is unreachable.
        let mut mac = Hmac::<Sha256>::new_from_slice(self.key.as_ref())
            .unwrap_or_else(|_| Hmac::<Sha256>::new(&Default::default()));
        mac.update(TAG);
        mac.update(&address.0);
        mac.update(&expires.to_be_bytes());
        mac.update(random);
        mac
    }

    /// A nonce for `address`, valid until `expires` (unix seconds).
    pub fn issue(&self, address: &Address, expires: u64) -> String {
        let mut random = [0u8; RANDOM_LEN];
        rand::rngs::OsRng.fill_bytes(&mut random);
        let tag = self.mac(address, expires, &random).finalize().into_bytes();
        let mut raw = Vec::with_capacity(RAW_LEN);
        raw.extend_from_slice(&expires.to_be_bytes());
        raw.extend_from_slice(&random);
        raw.extend_from_slice(&tag[..MAC_LEN]);
        hex::encode(raw)
    }

    /// Accepts `nonce` once, for the address it was issued to and before it expires:
    /// `siwe_nonce_invalid` otherwise, `signin_busy` when too many live nonces are consumed.
    pub fn consume(&self, nonce: &str, address: &Address, now: u64) -> Result<(), ErrorCode> {
        let (expires, random) = self.check(nonce, address)?;
        if expires <= now {
            return Err(ErrorCode::SiweNonceInvalid);
        }
        let mut c = self.consumed.lock().map_err(|_| ErrorCode::Internal)?;
        while let Some(Reverse((t, r))) = c.by_expiry.peek().copied() {
            if t > now {
                break;
            }
            c.by_expiry.pop();
            c.until.remove(&r);
        }
        if c.until.contains_key(&random) {
            return Err(ErrorCode::SiweNonceInvalid);
        }
        if c.until.len() >= self.max_consumed {
            return Err(ErrorCode::SigninBusy);
        }
        c.until.insert(random, expires);
        c.by_expiry.push(Reverse((expires, random)));
        Ok(())
    }

    /// The expiry and randomness of a nonce this relay issued for `address`.
    fn check(&self, nonce: &str, address: &Address) -> Result<(u64, Random), ErrorCode> {
        let invalid = ErrorCode::SiweNonceInvalid;
        // Lowercase only: one nonce, one spelling.
        if nonce.len() != NONCE_LEN
            || !nonce
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(invalid);
        }
        let mut raw = [0u8; RAW_LEN];
        hex::decode_to_slice(nonce, &mut raw).map_err(|_| invalid)?;
        let mut expiry = [0u8; 8];
        expiry.copy_from_slice(&raw[..8]);
        let mut random = [0u8; RANDOM_LEN];
        random.copy_from_slice(&raw[8..8 + RANDOM_LEN]);
        let expires = u64::from_be_bytes(expiry);
        // verify_truncated_left compares in constant time.
        self.mac(address, expires, &random)
            .verify_truncated_left(&raw[8 + RANDOM_LEN..])
            .map_err(|_| invalid)?;
        Ok((expires, random))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentkeys_core::es256::KeyPurpose;

    fn nonces(capacity: usize) -> SiweNonces {
        let k1 = Es256Key::from_secret(KeyPurpose::Session, &[0x11; 32]).unwrap();
        SiweNonces::with_capacity(&k1, capacity)
    }

    const A: Address = Address([0xaa; 20]);
    const B: Address = Address([0xbb; 20]);

    #[test]
    fn issued_nonces_are_alphanumeric_and_single_use() {
        let n = nonces(10);
        let nonce = n.issue(&A, 100);
        assert_eq!(nonce.len(), NONCE_LEN);
        assert!(nonce.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(nonce, n.issue(&A, 100));
        assert_eq!(n.consume(&nonce, &A, 50), Ok(()));
        assert_eq!(n.consume(&nonce, &A, 50), Err(ErrorCode::SiweNonceInvalid));
    }

    #[test]
    fn refusals() {
        let n = nonces(10);
        let nonce = n.issue(&A, 100);
        // Another address, an expired nonce, or one this key never issued.
        assert_eq!(n.consume(&nonce, &B, 50), Err(ErrorCode::SiweNonceInvalid));
        assert_eq!(n.consume(&nonce, &A, 100), Err(ErrorCode::SiweNonceInvalid));
        let k1 = Es256Key::from_secret(KeyPurpose::Session, &[0x12; 32]).unwrap();
        let foreign = SiweNonces::new(&k1).issue(&A, 100);
        assert_eq!(
            n.consume(&foreign, &A, 50),
            Err(ErrorCode::SiweNonceInvalid)
        );
        // A later expiry with the old MAC, a flipped MAC bit, uppercase, another length.
        let later = format!("{:016x}{}", 10_000u64, &nonce[16..]);
        let mut flipped = nonce.clone().into_bytes();
        flipped[NONCE_LEN - 1] = if flipped[NONCE_LEN - 1] == b'0' {
            b'1'
        } else {
            b'0'
        };
        let flipped = String::from_utf8(flipped).unwrap();
        for bad in [
            later,
            flipped,
            nonce.to_uppercase(),
            nonce[..NONCE_LEN - 2].to_string(),
            "abcdefgh12345678".into(),
        ] {
            assert_eq!(
                n.consume(&bad, &A, 50),
                Err(ErrorCode::SiweNonceInvalid),
                "{bad}"
            );
        }
        // None of those refusals used the nonce up.
        assert_eq!(n.consume(&nonce, &A, 50), Ok(()));
    }

    #[test]
    fn the_consumed_store_is_bounded_and_refuses_when_full() {
        let n = nonces(2);
        let a = n.issue(&A, 100);
        let b = n.issue(&A, 200);
        let c = n.issue(&A, 300);
        assert_eq!(n.consume(&a, &A, 10), Ok(()));
        assert_eq!(n.consume(&b, &A, 10), Ok(()));
        assert_eq!(n.consume(&c, &A, 10), Err(ErrorCode::SigninBusy));
        // Full, yet a used nonce is still refused as used, never accepted.
        assert_eq!(n.consume(&a, &A, 10), Err(ErrorCode::SiweNonceInvalid));
        // Once the first expires its slot frees.
        assert_eq!(n.consume(&c, &A, 100), Ok(()));
        assert_eq!(n.consume(&b, &A, 100), Err(ErrorCode::SiweNonceInvalid));
    }
}
