//! Temporary S3 credentials of the embedded server. An access key id is `ASIA` and 16 random
//! hex digits; its secret is HMAC(session key, purpose ‖ access key id); the session token
//! carries the claims (device, actor, operator, class, expiry, access key id) and their HMAC.
//! So the server checks a request with the session key alone, a token cannot be moved to
//! another access key, actor or class, and the device that minted it can be looked up on chain
//! on every request (a revoked device's keys stop working).

use std::path::Path;
use std::sync::Arc;

use agentkeys_core::b64;
use agentkeys_core::identity::{Address, Omni};
use agentkeys_core::names::DataClass;
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::keys;
use crate::s3server::TemporaryKeys;

pub const SESSION_KEY_FILE: &str = "s3/session.key";
const SECRET_PURPOSE: &[u8] = b"agentkeys/s3-temporary-secret/v1";
const TOKEN_PURPOSE: &[u8] = b"agentkeys/s3-session-token/v1";
/// Version 2 added the device; version 1 tokens (which lack it) are refused.
const TOKEN_PREFIX: &str = "akst2";
const ACCESS_KEY_PREFIX: &str = "ASIA";
/// Longest token accepted; a real one is about 300 bytes.
const MAX_TOKEN_BYTES: usize = 2048;

/// What a session token binds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    /// The device whose session minted the keys.
    pub device: Address,
    pub actor: Omni,
    pub operator: Omni,
    pub data_class: DataClass,
    /// Unix seconds.
    pub exp: u64,
    pub access_key: String,
}

/// Who the keys are for: the minting device, acting as `actor` for `operator`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Holder {
    pub device: Address,
    pub operator: Omni,
    pub actor: Omni,
}

/// Minted credentials (the secret and token are secrets).
pub struct Minted {
    pub access_key_id: String,
    pub secret_access_key: Zeroizing<String>,
    pub session_token: Zeroizing<String>,
    pub expiration: u64,
}

pub struct SessionKeyring {
    key: Zeroizing<[u8; 32]>,
}

type HmacSha256 = Hmac<Sha256>;

impl SessionKeyring {
    /// The key under `data_dir`, created (0600) at first boot.
    pub fn load(data_dir: &Path) -> Result<Arc<SessionKeyring>, String> {
        let path = data_dir.join(SESSION_KEY_FILE);
        let bytes = keys::load_or_create(&path, || {
            let mut k = Zeroizing::new(vec![0u8; 32]);
            rand::rngs::OsRng.fill_bytes(&mut k);
            k
        })
        .map_err(|e| e.to_string())?;
        let key: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| format!("{} is not 32 bytes", path.display()))?;
        Ok(Arc::new(SessionKeyring {
            key: Zeroizing::new(key),
        }))
    }

    #[cfg(test)]
    pub fn from_key(key: [u8; 32]) -> SessionKeyring {
        SessionKeyring {
            key: Zeroizing::new(key),
        }
    }

    fn mac(&self, purpose: &[u8], data: &[u8]) -> HmacSha256 {
        // HMAC takes a key of any length; this cannot fail.
        let mut m = <HmacSha256 as Mac>::new_from_slice(self.key.as_ref())
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        m.update(purpose);
        m.update(data);
        m
    }

    fn secret(&self, access_key: &str) -> Zeroizing<String> {
        let tag = self
            .mac(SECRET_PURPOSE, access_key.as_bytes())
            .finalize()
            .into_bytes();
        Zeroizing::new(b64::encode_url(&tag))
    }

    pub fn mint(&self, holder: Holder, data_class: DataClass, ttl_secs: u64, now: u64) -> Minted {
        let mut id = [0u8; 8];
        rand::rngs::OsRng.fill_bytes(&mut id);
        let access_key = format!("{ACCESS_KEY_PREFIX}{}", hex::encode_upper(id));
        let claims = SessionClaims {
            device: holder.device,
            actor: holder.actor,
            operator: holder.operator,
            data_class,
            exp: now + ttl_secs,
            access_key: access_key.clone(),
        };
        // Serializing these plain fields cannot fail.
        let payload = b64::encode_url(&serde_json::to_vec(&claims).unwrap_or_default());
        let tag = self
            .mac(TOKEN_PURPOSE, payload.as_bytes())
            .finalize()
            .into_bytes();
        Minted {
            secret_access_key: self.secret(&access_key),
            access_key_id: access_key,
            session_token: Zeroizing::new(format!(
                "{TOKEN_PREFIX}.{payload}.{}",
                b64::encode_url(&tag)
            )),
            expiration: claims.exp,
        }
    }

    /// The claims of `token` if its MAC is right and it is not expired at `now`.
    pub fn verify(&self, token: &str, now: u64) -> Option<SessionClaims> {
        if token.len() > MAX_TOKEN_BYTES {
            return None;
        }
        let mut parts = token.split('.');
        let (prefix, payload, tag) = (parts.next()?, parts.next()?, parts.next()?);
        if prefix != TOKEN_PREFIX || parts.next().is_some() {
            return None;
        }
        let tag = b64::decode_url(tag)?;
        // verify_slice compares in constant time.
        self.mac(TOKEN_PURPOSE, payload.as_bytes())
            .verify_slice(&tag)
            .ok()?;
        let claims: SessionClaims = serde_json::from_slice(&b64::decode_url(payload)?).ok()?;
        (claims.exp > now).then_some(claims)
    }
}

impl TemporaryKeys for SessionKeyring {
    fn secret_for(&self, access_key: &str) -> Option<Zeroizing<String>> {
        let hex = access_key.strip_prefix(ACCESS_KEY_PREFIX)?;
        let ours = hex.len() == 16
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b));
        ours.then(|| self.secret(access_key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_bind_their_claims_and_expire() {
        let k = SessionKeyring::from_key([1; 32]);
        let holder = Holder {
            device: Address([4; 20]),
            operator: Omni([3; 32]),
            actor: Omni([2; 32]),
        };
        let m = k.mint(holder, DataClass::Credentials, 60, 1000);
        assert!(m.access_key_id.starts_with("ASIA") && m.access_key_id.len() == 20);
        let c = k.verify(&m.session_token, 1000).unwrap();
        assert_eq!(
            (c.device, c.actor, c.operator, c.data_class, c.exp),
            (
                Address([4; 20]),
                Omni([2; 32]),
                Omni([3; 32]),
                DataClass::Credentials,
                1060
            )
        );
        assert_eq!(c.access_key, m.access_key_id);
        assert!(k.verify(&m.session_token, 1060).is_none(), "expired");
        // Another key's tokens, and edited tokens, are refused.
        assert!(SessionKeyring::from_key([9; 32])
            .verify(&m.session_token, 1000)
            .is_none());
        let mut forged = m.session_token.to_string();
        forged.insert(10, 'x');
        assert!(k.verify(&forged, 1000).is_none());
        // The secret is derived from the access key alone, and only for keys of this shape.
        assert_eq!(
            k.secret_for(&m.access_key_id).unwrap().as_str(),
            m.secret_access_key.as_str()
        );
        assert!(k.secret_for("AKIAIOSFODNN7EXAMPLE").is_none());
        assert!(k.secret_for("ASIA0123456789abcdef").is_none());
    }
}
