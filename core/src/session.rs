//! Session tokens the broker issues after SIWE sign-in: compact JWS, ES256 under K1, `typ`
//! `agentkeys-session+jwt`. Only the broker verifies them.

use crate::error::ErrorCode;
use crate::es256::{verify_jwt, Es256Key, Jwks, JwtError, KeyPurpose};
use crate::identity::{Address, Omni};
use serde::{Deserialize, Serialize};

pub const SESSION_TYP: &str = "agentkeys-session+jwt";
pub const SESSION_TTL_SECS: u64 = 3600;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    pub iss: String,
    pub aud: String,
    /// the device address (K10)
    pub sub: Address,
    pub opr: Omni,
    pub act: Omni,
    pub role: String,
    pub iat: u64,
    pub exp: u64,
    pub jti: String,
}

impl SessionClaims {
    pub fn sign(&self, k1: &Es256Key) -> Result<String, ErrorCode> {
        if k1.purpose() != KeyPurpose::Session {
            return Err(ErrorCode::Internal);
        }
        k1.sign_jwt(SESSION_TYP, self)
            .map_err(|_| ErrorCode::Internal)
    }
}

pub fn verify_session(
    token: &str,
    jwks: &Jwks,
    issuer: &str,
    now: u64,
) -> Result<SessionClaims, ErrorCode> {
    let claims: SessionClaims =
        verify_jwt(token, jwks, KeyPurpose::Session, SESSION_TYP).map_err(|e| match e {
            JwtError::BadSignature
            | JwtError::Malformed
            | JwtError::Signing
            | JwtError::UnknownKey
            | JwtError::WrongPurpose
            | JwtError::WrongType => ErrorCode::SessionInvalid,
        })?;
    if claims.iss != issuer || claims.aud != issuer {
        return Err(ErrorCode::SessionInvalid);
    }
    if claims.exp <= now {
        return Err(ErrorCode::SessionExpired);
    }
    if claims.iat > now + crate::cap::CLOCK_SKEW_SECS {
        return Err(ErrorCode::SessionInvalid);
    }
    Ok(claims)
}
