//! SIWE sign-in: `start` hands out a challenge with a stateless nonce bound to the address
//! (see `nonces`); `verify` checks the signed message (domain, chain id, expiry, signature),
//! consumes the nonce and issues a session JWT. Both are rate-limited per client IP, and
//! sign-ins per device key (`rate_limited`).

use super::Broker;
use crate::http::rate_limit::request_peer_key;
use crate::http::{decode_json, json_ok, read_body, ApiFailure};
use agentkeys_core::chain::Tier;
use agentkeys_core::identity::Omni;
use agentkeys_core::session::{SessionClaims, SESSION_TTL_SECS};
use agentkeys_core::siwe_msg::{self, SiweChallenge, SiweExpectation};
use agentkeys_core::time_util::now_secs;
use agentkeys_core::wire::{SessionResponse, SiweStartRequest, SiweVerifyRequest};
use agentkeys_core::{b64, ErrorCode};
use axum::extract::{Request, State};
use axum::response::Response;
use rand::RngCore;
use std::sync::Arc;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The daemon signs a challenge as soon as it has it; a short life bounds how long a used
/// nonce must be remembered, and so how many a flood can make the broker remember.
const CHALLENGE_TTL_SECS: u64 = 120;
const SMALL_BODY: usize = 8 * 1024;

pub async fn jwks(State(b): State<Arc<Broker>>) -> Response {
    json_ok(&b.jwks())
}

fn rfc3339(secs: u64) -> Result<String, ApiFailure> {
    OffsetDateTime::from_unix_timestamp(secs as i64)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .ok_or_else(|| ErrorCode::Internal.into())
}

/// Counts the request against its client IP (IPv4 address or IPv6 /64).
fn limit_peer(b: &Broker, req: &Request) -> Result<(), ApiFailure> {
    if b.limits.per_ip.allow(&request_peer_key(req)) {
        Ok(())
    } else {
        Err(ErrorCode::RateLimited.into())
    }
}

pub async fn start(State(b): State<Arc<Broker>>, req: Request) -> Result<Response, ApiFailure> {
    limit_peer(&b, &req)?;
    let body = read_body(req.into_body(), SMALL_BODY).await?;
    let req: SiweStartRequest = decode_json(&body)?;
    let now = now_secs();
    let expires = now + CHALLENGE_TTL_SECS;
    // Nothing is stored: the nonce carries its expiry and a MAC over the address.
    let nonce = b.nonces.issue(&req.address, expires);
    Ok(json_ok(&SiweChallenge {
        domain: b.domain.clone(),
        uri: b.issuer.clone(),
        chain_id: b.chain_id,
        nonce,
        issued_at: rfc3339(now)?,
        expiration_time: rfc3339(expires)?,
    }))
}

pub async fn verify(State(b): State<Arc<Broker>>, req: Request) -> Result<Response, ApiFailure> {
    limit_peer(&b, &req)?;
    let body = read_body(req.into_body(), SMALL_BODY).await?;
    let req: SiweVerifyRequest = decode_json(&body)?;
    let now = now_secs();
    let expect = SiweExpectation {
        domain: &b.domain,
        chain_id: b.chain_id,
        now: OffsetDateTime::now_utc(),
    };
    let verified = siwe_msg::verify(&req.message, &req.signature, &expect)?;
    // Counted only once the signature is verified, and before the nonce is spent.
    if !b.limits.per_address.allow(&verified.address) {
        return Err(ErrorCode::RateLimited.into());
    }
    b.nonces.consume(&verified.nonce, &verified.address, now)?;
    // A registered device takes operator and actor from the chain; one not registered yet is
    // the would-be first master of its own operator, which lets it register itself (and
    // nothing else: capabilities need the registration).
    let (operator, actor, role) = match b.authority.device(&verified.address).await? {
        Some(d) if d.revoked => return Err(ErrorCode::DeviceRevoked.into()),
        Some(d) => match d.tier {
            Tier::Master => (d.operator, d.operator, "master"),
            Tier::Agent => (d.operator, d.actor, "agent"),
        },
        None => {
            let own = Omni::operator(&verified.address);
            (own, own, "unregistered")
        }
    };
    let mut jti = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut jti);
    let claims = SessionClaims {
        iss: b.issuer.clone(),
        aud: b.issuer.clone(),
        sub: verified.address,
        opr: operator,
        act: actor,
        role: role.into(),
        iat: now,
        exp: now + SESSION_TTL_SECS,
        jti: b64::encode_url(&jti),
    };
    let session = claims.sign(&b.k1)?;
    tracing::info!(device = %verified.address, operator = %operator, "signed in");
    Ok(json_ok(&SessionResponse {
        session,
        expires_at: claims.exp,
        device: verified.address,
        operator,
        actor,
    }))
}
