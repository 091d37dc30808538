//! Capability tokens (ARCHITECTURE §5): compact JWS, ES256 under K1, `typ`
//! `agentkeys-cap+jwt`, verified by the vault with the broker's JWKS.

use crate::error::ErrorCode;
use crate::es256::{verify_jwt, Es256Key, Jwks, JwtError, KeyPurpose};
use crate::identity::{Address, Omni};
use crate::names::{validate_object_name, DataClass, Op, LIST_ALL};
use serde::{Deserialize, Serialize};

pub const CAP_TYP: &str = "agentkeys-cap+jwt";
pub const CAP_TTL_DEFAULT_SECS: u64 = 300;
pub const CAP_TTL_MIN_SECS: u64 = 60;
pub const CAP_TTL_MAX_SECS: u64 = 1800;
/// Tolerated clock difference between broker and vault for `iat`.
pub const CLOCK_SKEW_SECS: u64 = 60;

pub fn clamp_ttl(requested: Option<u64>) -> u64 {
    requested
        .unwrap_or(CAP_TTL_DEFAULT_SECS)
        .clamp(CAP_TTL_MIN_SECS, CAP_TTL_MAX_SECS)
}

/// RFC 7800 confirmation: the K10 address whose signature must accompany every use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    pub eth_addr: Address,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapClaims {
    pub iss: String,
    pub aud: String,
    /// actor_omni
    pub sub: Omni,
    /// operator_omni
    pub opr: Omni,
    pub op: Op,
    pub dc: DataClass,
    /// service or memory namespace; [`LIST_ALL`] for list capabilities
    pub svc: String,
    /// device key hash (0x-prefixed hex of keccak256 of the device address)
    pub dkh: String,
    pub epoch: u32,
    pub iat: u64,
    pub exp: u64,
    /// 16 random bytes, base64url
    pub jti: String,
    pub cnf: Confirmation,
}

impl CapClaims {
    pub fn sign(&self, k1: &Es256Key) -> Result<String, ErrorCode> {
        if k1.purpose() != KeyPurpose::Session {
            return Err(ErrorCode::Internal);
        }
        k1.sign_jwt(CAP_TYP, self).map_err(|_| ErrorCode::Internal)
    }
}

/// What the vault requires of a capability for the request at hand.
#[derive(Clone, Debug)]
pub struct CapExpectation<'a> {
    pub issuer: &'a str,
    pub audience: &'a str,
    pub op: Op,
    pub data_class: DataClass,
    pub now: u64,
}

/// Verifies signature, type, issuer, audience, time, data class and operation, in that order,
/// each failure with its own code. The service is checked by the caller against the body.
pub fn verify_cap(
    token: &str,
    jwks: &Jwks,
    expect: &CapExpectation<'_>,
) -> Result<CapClaims, ErrorCode> {
    let claims = verify_cap_signature(token, jwks)?;
    check_cap_claims(&claims, expect)?;
    Ok(claims)
}

/// The signature half of [`verify_cap`]: header, key and signature. Its result depends only on
/// the token and the key set, so a verifier may cache it per token; [`check_cap_claims`] must
/// still run on every use.
pub fn verify_cap_signature(token: &str, jwks: &Jwks) -> Result<CapClaims, ErrorCode> {
    verify_jwt(token, jwks, KeyPurpose::Session, CAP_TYP).map_err(|e| match e {
        JwtError::Malformed | JwtError::Signing => ErrorCode::CapMalformed,
        JwtError::WrongType => ErrorCode::CapWrongType,
        JwtError::UnknownKey | JwtError::WrongPurpose => ErrorCode::CapUnknownKey,
        JwtError::BadSignature => ErrorCode::CapBadSignature,
    })
}

/// The claims half of [`verify_cap`]: issuer, audience, time, data class, operation.
pub fn check_cap_claims(claims: &CapClaims, expect: &CapExpectation<'_>) -> Result<(), ErrorCode> {
    if claims.iss != expect.issuer {
        return Err(ErrorCode::CapWrongIssuer);
    }
    if claims.aud != expect.audience {
        return Err(ErrorCode::CapWrongAudience);
    }
    if claims.exp <= expect.now {
        return Err(ErrorCode::CapExpired);
    }
    if claims.iat > expect.now + CLOCK_SKEW_SECS {
        return Err(ErrorCode::CapNotYetValid);
    }
    if claims.exp <= claims.iat || claims.exp - claims.iat > CAP_TTL_MAX_SECS {
        return Err(ErrorCode::CapMalformed);
    }
    if claims.dc != expect.data_class {
        return Err(ErrorCode::CapDataClassMismatch);
    }
    if claims.op != expect.op {
        return Err(ErrorCode::CapOpMismatch);
    }
    let svc_ok = match claims.op {
        Op::List => claims.svc == LIST_ALL,
        _ => validate_object_name(&claims.svc).is_ok(),
    };
    if !svc_ok {
        return Err(ErrorCode::CapMalformed);
    }
    Ok(())
}

/// Reads a capability's claims WITHOUT verifying it. Only for the holder (the daemon), which
/// needs `jti` and `exp` of a token it just received over TLS from its broker; never use this
/// to make an access decision.
pub fn peek_claims(token: &str) -> Option<CapClaims> {
    let payload = token.split('.').nth(1)?;
    let bytes = crate::b64::decode_url(payload)?;
    serde_json::from_slice(&bytes).ok()
}
