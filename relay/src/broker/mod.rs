//! The broker role: SIWE sign-in → session JWT, capability minting per (data class, op) route,
//! and the JWKS the vault verifies capabilities with.

mod caps;
mod nonces;
mod signin;
#[cfg(test)]
mod signin_tests;

pub use nonces::SiweNonces;

use crate::audit::foreign::ForeignAttempts;
use crate::chain::authz::Authority;
use crate::config::SigninLimits;
use crate::http::bearer_token;
use crate::http::rate_limit::RateLimiter;
use crate::keys;
use crate::signer::DekSigner;
use agentkeys_core::es256::{Es256Key, Jwks, KeyPurpose};
use agentkeys_core::identity::Address;
use agentkeys_core::routes::{self, ALL_CLASS_OPS as ALL_CLASS_OPS_ROUTES};
use agentkeys_core::session::{verify_session, SessionClaims};
use agentkeys_core::time_util::now_secs;
use agentkeys_core::{ApiError, ErrorCode};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::Router;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use zeroize::Zeroizing;

pub const K1_FILE: &str = "broker/k1-session.key";
pub const K2_FILE: &str = "broker/k2-oidc.key";

pub struct Broker {
    /// `iss` of sessions and capabilities; also the SIWE URI.
    pub issuer: String,
    /// SIWE domain (the authority of the issuer URL).
    pub domain: String,
    pub chain_id: u64,
    pub vault_audience: String,
    pub k1: Es256Key,
    /// K2: web-identity tokens only (purpose `oidc`); never accepted for a session or a cap.
    pub k2: Es256Key,
    pub nonces: SiweNonces,
    pub limits: SigninLimiter,
    pub signer: Arc<dyn DekSigner>,
    /// Devices, scopes and the epoch, as the chain has them.
    pub authority: Arc<Authority>,
    /// Where refused attempts on another operator's data are recorded.
    pub foreign: Arc<ForeignAttempts>,
}

/// Keys tracked per limiter; past that, new keys share one bucket (see `RateLimiter`).
const LIMITER_KEYS: usize = 100_000;

/// Sign-in rate limits: every `siwe/start` and `siwe/verify` per client IP, and sign-ins per
/// device key. The device-key limit counts only verified signatures: counted on the address a
/// request merely names, anyone could lock a victim's key out of signing in.
pub struct SigninLimiter {
    pub per_ip: RateLimiter<IpAddr>,
    pub per_address: RateLimiter<Address>,
}

impl SigninLimiter {
    pub fn new(limits: SigninLimits) -> SigninLimiter {
        SigninLimiter {
            per_ip: RateLimiter::new(limits.per_ip_per_minute, LIMITER_KEYS),
            per_address: RateLimiter::new(limits.per_address_per_minute, LIMITER_KEYS),
        }
    }
}

impl Broker {
    pub fn load_k1(data_dir: &Path) -> Result<Es256Key, String> {
        load_key(data_dir, K1_FILE, KeyPurpose::Session)
    }

    pub fn load_k2(data_dir: &Path) -> Result<Es256Key, String> {
        load_key(data_dir, K2_FILE, KeyPurpose::Oidc)
    }

    /// The session a request's bearer token carries, verified against K1 and this issuer.
    pub fn session(&self, headers: &HeaderMap) -> Result<SessionClaims, ApiError> {
        let token = bearer_token(headers).ok_or(ErrorCode::SessionMissing)?;
        Ok(verify_session(
            token,
            &self.jwks(),
            &self.issuer,
            now_secs(),
        )?)
    }

    /// K1 and K2, each tagged with its purpose: a verifier asks for the purpose it expects.
    pub fn jwks(&self) -> Jwks {
        Jwks {
            keys: vec![self.k1.jwk().clone(), self.k2.jwk().clone()],
        }
    }
}

/// The key of `purpose` in `file` under the data directory, created at first use.
fn load_key(data_dir: &Path, file: &str, purpose: KeyPurpose) -> Result<Es256Key, String> {
    let path = data_dir.join(file);
    let bytes = keys::load_or_create(&path, || {
        Zeroizing::new(Es256Key::generate(purpose).to_file_bytes().to_vec())
    })
    .map_err(|e| e.to_string())?;
    Es256Key::from_file_bytes(purpose, &bytes).map_err(|e| format!("{}: {e}", path.display()))
}

pub fn domain_of(url: &str) -> String {
    agentkeys_core::siwe_msg::domain_of(url).to_string()
}

pub fn router(broker: Arc<Broker>) -> Router {
    let mut r = Router::new()
        .route(routes::JWKS, get(signin::jwks))
        .route(routes::SIWE_START, post(signin::start))
        .route(routes::SIWE_VERIFY, post(signin::verify));
    for (dc, op, path) in ALL_CLASS_OPS_ROUTES
        .iter()
        .map(|(dc, op)| (*dc, *op, routes::cap_route(*dc, *op)))
    {
        r = r.route(path, post(move |state, req| caps::mint(state, req, dc, op)));
    }
    r.with_state(broker)
}
