//! ES256 (P-256) signing keys of the broker, tagged with their purpose, and their JWKS.
//!
//! K1 signs sessions and capabilities; K2 signs OIDC tokens for STS. A key file and a JWK both
//! carry the purpose, and every load and every verification names the purpose it expects, so a
//! key of one purpose is refused for the other.

use crate::b64;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use p256::ecdsa::SigningKey;
use p256::pkcs8::EncodePrivateKey;
use rand::rngs::OsRng;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use zeroize::Zeroizing;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyPurpose {
    /// K1: session JWTs and capability tokens.
    Session,
    /// K2: OIDC web-identity tokens.
    Oidc,
}

impl KeyPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyPurpose::Session => "session",
            KeyPurpose::Oidc => "oidc",
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum KeyFileError {
    Malformed,
    WrongPurpose { expected: KeyPurpose, found: String },
}

impl fmt::Display for KeyFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyFileError::Malformed => f.write_str("key file is malformed"),
            KeyFileError::WrongPurpose { expected, found } => write!(
                f,
                "key file is for purpose '{found}', expected '{}'",
                expected.as_str()
            ),
        }
    }
}

const KEY_FILE_TAG: &str = "agentkeys-es256-v1";

pub struct Es256Key {
    purpose: KeyPurpose,
    signing: SigningKey,
    encoding: EncodingKey,
    jwk: Jwk,
}

impl Es256Key {
    pub fn generate(purpose: KeyPurpose) -> Es256Key {
        Self::from_signing(purpose, SigningKey::random(&mut OsRng))
    }

    pub fn from_secret(purpose: KeyPurpose, secret: &[u8; 32]) -> Option<Es256Key> {
        SigningKey::from_slice(secret)
            .ok()
            .map(|s| Self::from_signing(purpose, s))
    }

    fn from_signing(purpose: KeyPurpose, signing: SigningKey) -> Es256Key {
        // jsonwebtoken's RustCrypto backend takes PKCS#8 DER; encoding a valid P-256 key
        // cannot fail, and an empty key would only make signing fail loudly later.
        let der = signing
            .to_pkcs8_der()
            .map(|d| d.as_bytes().to_vec())
            .unwrap_or_default();
        let encoding = EncodingKey::from_ec_der(&der);
        let jwk = Jwk::for_key(purpose, signing.verifying_key());
        Es256Key {
            purpose,
            signing,
            encoding,
            jwk,
        }
    }

    pub fn purpose(&self) -> KeyPurpose {
        self.purpose
    }

    pub fn kid(&self) -> &str {
        &self.jwk.kid
    }

    pub fn jwk(&self) -> &Jwk {
        &self.jwk
    }

    /// `agentkeys-es256-v1 <purpose> <hex secret>\n`; the caller writes it 0600.
    pub fn to_file_bytes(&self) -> Zeroizing<Vec<u8>> {
        let secret = Zeroizing::new(hex::encode(self.signing.to_bytes()));
        Zeroizing::new(
            format!(
                "{KEY_FILE_TAG} {} {}\n",
                self.purpose.as_str(),
                secret.as_str()
            )
            .into_bytes(),
        )
    }

    pub fn from_file_bytes(expected: KeyPurpose, bytes: &[u8]) -> Result<Es256Key, KeyFileError> {
        let text = std::str::from_utf8(bytes).map_err(|_| KeyFileError::Malformed)?;
        let mut parts = text.trim_end().split(' ');
        if parts.next() != Some(KEY_FILE_TAG) {
            return Err(KeyFileError::Malformed);
        }
        let purpose = parts.next().ok_or(KeyFileError::Malformed)?;
        if purpose != expected.as_str() {
            return Err(KeyFileError::WrongPurpose {
                expected,
                found: purpose.to_string(),
            });
        }
        let secret_hex = parts.next().ok_or(KeyFileError::Malformed)?;
        if parts.next().is_some() {
            return Err(KeyFileError::Malformed);
        }
        let mut secret = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(secret_hex, secret.as_mut()).map_err(|_| KeyFileError::Malformed)?;
        Self::from_secret(expected, &secret).ok_or(KeyFileError::Malformed)
    }

    /// Signs `claims` as a compact JWS with the given `typ` header.
    pub fn sign_jwt<T: Serialize>(&self, typ: &str, claims: &T) -> Result<String, JwtError> {
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some(typ.to_string());
        header.kid = Some(self.jwk.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).map_err(|_| JwtError::Signing)
    }
}

impl fmt::Debug for Es256Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Es256Key({}, kid {}, secret redacted)",
            self.purpose.as_str(),
            self.jwk.kid
        )
    }
}

/// A public P-256 JWK (RFC 7517) with the AgentKeys purpose as an extra member.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    pub y: String,
    pub kid: String,
    pub alg: String,
    #[serde(rename = "use")]
    pub use_: String,
    pub agentkeys_purpose: KeyPurpose,
}

impl Jwk {
    fn for_key(purpose: KeyPurpose, key: &p256::ecdsa::VerifyingKey) -> Jwk {
        let point = key.to_encoded_point(false);
        let x = b64::encode_url(point.x().map(|x| x.as_slice()).unwrap_or(&[]));
        let y = b64::encode_url(point.y().map(|y| y.as_slice()).unwrap_or(&[]));
        let kid = thumbprint(&x, &y);
        Jwk {
            kty: "EC".into(),
            crv: "P-256".into(),
            x,
            y,
            kid,
            alg: "ES256".into(),
            use_: "sig".into(),
            agentkeys_purpose: purpose,
        }
    }
}

/// RFC 7638 JWK thumbprint of a P-256 key, used as its `kid`.
pub fn thumbprint(x: &str, y: &str) -> String {
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    b64::encode_url(&Sha256::digest(canonical.as_bytes()))
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

impl Jwks {
    pub fn find(&self, kid: &str, purpose: KeyPurpose) -> Option<&Jwk> {
        self.keys
            .iter()
            .find(|k| k.kid == kid && k.agentkeys_purpose == purpose)
    }

    pub fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid == kid)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JwtError {
    Malformed,
    WrongType,
    UnknownKey,
    /// The kid exists but belongs to a key of another purpose.
    WrongPurpose,
    BadSignature,
    Signing,
}

/// Verifies a compact JWS's header and signature against `jwks` and decodes its claims. Time,
/// audience and issuer are checked by the caller, which knows which error code each failure
/// maps to and which `now` to use.
pub fn verify_jwt<T: DeserializeOwned>(
    token: &str,
    jwks: &Jwks,
    purpose: KeyPurpose,
    expected_typ: &str,
) -> Result<T, JwtError> {
    if token.len() > 8192 || token.split('.').count() != 3 {
        return Err(JwtError::Malformed);
    }
    let header = jsonwebtoken::decode_header(token).map_err(|_| JwtError::Malformed)?;
    if header.alg != Algorithm::ES256 {
        return Err(JwtError::Malformed);
    }
    if header.typ.as_deref() != Some(expected_typ) {
        return Err(JwtError::WrongType);
    }
    let kid = header.kid.ok_or(JwtError::Malformed)?;
    let jwk = match jwks.find(&kid, purpose) {
        Some(jwk) => jwk,
        None if jwks.has_kid(&kid) => return Err(JwtError::WrongPurpose),
        None => return Err(JwtError::UnknownKey),
    };
    let key = DecodingKey::from_ec_components(&jwk.x, &jwk.y).map_err(|_| JwtError::UnknownKey)?;
    let mut validation = Validation::new(Algorithm::ES256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    match jsonwebtoken::decode::<T>(token, &key, &validation) {
        Ok(data) => Ok(data.claims),
        Err(e) => match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => Err(JwtError::BadSignature),
            _ => Err(JwtError::Malformed),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_roundtrip_and_purpose() {
        let k = Es256Key::from_secret(KeyPurpose::Session, &[3u8; 32]).unwrap();
        let bytes = k.to_file_bytes();
        let back = Es256Key::from_file_bytes(KeyPurpose::Session, &bytes).unwrap();
        assert_eq!(back.kid(), k.kid());
        assert_eq!(
            Es256Key::from_file_bytes(KeyPurpose::Oidc, &bytes).unwrap_err(),
            KeyFileError::WrongPurpose {
                expected: KeyPurpose::Oidc,
                found: "session".into()
            }
        );
        assert!(!format!("{k:?}").contains(&hex::encode([3u8; 32])));
    }

    #[test]
    fn wrong_purpose_key_is_refused() {
        let k2 = Es256Key::from_secret(KeyPurpose::Oidc, &[4u8; 32]).unwrap();
        let token = k2
            .sign_jwt("agentkeys-cap+jwt", &serde_json::json!({"a": 1}))
            .unwrap();
        let jwks = Jwks {
            keys: vec![k2.jwk().clone()],
        };
        let r: Result<serde_json::Value, _> =
            verify_jwt(&token, &jwks, KeyPurpose::Session, "agentkeys-cap+jwt");
        assert_eq!(r.unwrap_err(), JwtError::WrongPurpose);
    }
}
