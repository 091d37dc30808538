//! The daemon's client of the relay: sign-in (SIWE with K10), capability minting and vault
//! calls with a proof of possession, with the session and capabilities cached.

mod calls;
mod caps;
pub mod chain_tx;
mod http;
mod session;

use std::time::Duration;

use agentkeys_core::cap::peek_claims;
use agentkeys_core::device_key::DeviceKey;
use agentkeys_core::error::{ApiError, ErrorCode};
use agentkeys_core::identity::{Address, Omni};
use agentkeys_core::names::{DataClass, Op, LIST_ALL};
use agentkeys_core::pop;
use agentkeys_core::routes;
use agentkeys_core::time_util::now_secs;
use agentkeys_core::wire::{CapRequest, CapResponse};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::Mutex;
use zeroize::Zeroizing;

use caps::CapCache;
use http::{decode, encode, Http};
use session::CachedSession;

const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

pub struct RelayClient {
    http: Http,
    // An async mutex so that concurrent requests wait for one sign-in instead of each
    // signing in.
    session: Mutex<Option<CachedSession>>,
    caps: CapCache,
}

impl RelayClient {
    pub fn new(base_url: &str) -> Result<RelayClient, ApiError> {
        Ok(RelayClient {
            http: Http::new(base_url)?,
            session: Mutex::new(None),
            caps: CapCache::default(),
        })
    }

    pub fn base_url(&self) -> &str {
        self.http.base()
    }

    pub async fn is_healthy(&self) -> bool {
        self.http.get(routes::HEALTHZ, HEALTH_TIMEOUT).await.is_ok()
    }

    /// Signs in afresh (dropping any cached session) and returns the operator.
    pub async fn sign_in(&self, key: &DeviceKey) -> Result<Omni, ApiError> {
        self.forget().await;
        let mut slot = self.session.lock().await;
        let fresh = session::sign_in(&self.http, key).await?;
        let operator = fresh.operator;
        *slot = Some(fresh);
        Ok(operator)
    }

    /// Drops the cached session and capabilities.
    pub async fn forget(&self) {
        self.caps.clear();
        *self.session.lock().await = None;
    }

    /// One vault operation on `name` (ignored for list). If the relay refuses a cached session
    /// or capability (restarted relay, rotated key), the caches are dropped and the operation
    /// is tried once more from a fresh sign-in.
    pub async fn vault<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        key: &DeviceKey,
        dc: DataClass,
        op: Op,
        name: &str,
        req: &Req,
    ) -> Result<Resp, ApiError> {
        let svc = if op == Op::List { LIST_ALL } else { name };
        let body = encode(req)?;
        match self.vault_once(key, dc, op, svc, &body).await {
            Err(e) if is_stale_token(&e) => {
                tracing::info!(code = %e.code, "relay refused a cached token; signing in again");
                self.forget().await;
                self.vault_once(key, dc, op, svc, &body).await
            }
            other => other,
        }
    }

    async fn vault_once<Resp: DeserializeOwned>(
        &self,
        key: &DeviceKey,
        dc: DataClass,
        op: Op,
        svc: &str,
        body: &Bytes,
    ) -> Result<Resp, ApiError> {
        // One timestamp for both: the cap cache hands a capability out once per proof second.
        let now = now_secs();
        let cap = self.cap(key, dc, op, svc, now).await?;
        let claims = peek_claims(&cap).ok_or_else(|| {
            ApiError::new(
                ErrorCode::RelayProtocol,
                "the relay returned a capability token the daemon cannot read",
            )
        })?;
        let path = routes::vault_route(dc, op);
        // A proof is single use, so every attempt signs its own.
        let proof = pop::sign(key, &claims.jti, "POST", path, body, now);
        let reply = self
            .http
            .post(path, Some(&cap), Some(&proof), body.clone())
            .await?;
        decode(path, &reply)
    }

    async fn cap(
        &self,
        key: &DeviceKey,
        dc: DataClass,
        op: Op,
        svc: &str,
        now: u64,
    ) -> Result<Zeroizing<String>, ApiError> {
        if let Some(cap) = self.caps.take_for_use(dc, op, svc, now) {
            return Ok(cap);
        }
        let address = key.address();
        let session = self.session_token(key, &address).await?;
        // A device is its own operator for now, acting for itself.
        let operator = Omni::operator(&address);
        let req = encode(&CapRequest {
            operator,
            actor: operator,
            service: svc.to_string(),
            ttl_secs: None,
        })?;
        let path = routes::cap_route(dc, op);
        let reply = self.http.post(path, Some(&session), None, req).await?;
        let minted: CapResponse = decode(path, &reply)?;
        let token = Zeroizing::new(minted.cap.clone());
        let expires_at = peek_claims(&token)
            .map(|c| c.exp.min(minted.expires_at))
            .unwrap_or(minted.expires_at);
        self.caps.put(dc, op, svc, token.clone(), expires_at, now);
        Ok(token)
    }

    async fn session_token(
        &self,
        key: &DeviceKey,
        address: &Address,
    ) -> Result<Zeroizing<String>, ApiError> {
        let mut slot = self.session.lock().await;
        if let Some(s) = slot.as_ref().filter(|s| s.usable_for(address, now_secs())) {
            return Ok(s.token.clone());
        }
        let fresh = session::sign_in(&self.http, key).await?;
        let token = fresh.token.clone();
        *slot = Some(fresh);
        Ok(token)
    }
}

/// 401 with a `cap_*` or `session_*` code: the relay no longer accepts a token we cached.
fn is_stale_token(e: &ApiError) -> bool {
    e.status() == 401 && {
        let code = e.code.as_str();
        code.starts_with("cap_") || code.starts_with("session_")
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod retry_tests {
    use super::*;

    #[test]
    fn only_refused_tokens_are_retried() {
        assert!(is_stale_token(&ErrorCode::CapExpired.into()));
        assert!(is_stale_token(&ErrorCode::SessionInvalid.into()));
        assert!(!is_stale_token(&ErrorCode::CapOpMismatch.into())); // 403
        assert!(!is_stale_token(&ErrorCode::PopReplayed.into()));
        assert!(!is_stale_token(&ErrorCode::RelayUnreachable.into()));
    }
}
