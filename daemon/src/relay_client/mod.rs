//! The daemon's client of the relay: sign-in (SIWE with K10), capability minting and vault
//! calls with a proof of possession, with the session and capabilities cached.

pub mod approvals;
mod calls;
mod caps;
pub mod chain_tx;
mod direct;
mod http;
mod pin;
mod session;
mod storage_creds;

use std::collections::HashMap;
use std::time::Duration;

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

use caps::{Cap, CapCache};
use http::{decode, encode, Http};
pub use pin::PinResult;
use pin::{CapAsked, PinSlot};
use session::CachedSession;

const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

pub struct RelayClient {
    http: Http,
    // Per device key (this device and its agents). An async mutex so that concurrent
    // requests wait for one sign-in instead of each signing in.
    sessions: Mutex<HashMap<Address, CachedSession>>,
    caps: CapCache,
    storage: storage_creds::StorageCreds,
    /// The relay's session keys and chain, pinned at `init`.
    pin: PinSlot,
}

impl RelayClient {
    /// A client whose pin lives in memory only (tests).
    pub fn new(base_url: &str) -> Result<RelayClient, ApiError> {
        Self::with_pin(base_url, PinSlot::default())
    }

    /// A client whose pin is `relay_pin.json` in `data_dir`.
    pub fn with_pin_dir(
        base_url: &str,
        data_dir: &std::path::Path,
    ) -> Result<RelayClient, ApiError> {
        Self::with_pin(base_url, PinSlot::from_dir(data_dir.to_path_buf())?)
    }

    fn with_pin(base_url: &str, pin: PinSlot) -> Result<RelayClient, ApiError> {
        Ok(RelayClient {
            http: Http::new(base_url)?,
            sessions: Mutex::new(HashMap::new()),
            caps: CapCache::default(),
            storage: Default::default(),
            pin,
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
        let pin = self.pinned().await?;
        let mut sessions = self.sessions.lock().await;
        let fresh = session::sign_in(&self.http, &pin, key).await?;
        let operator = fresh.operator;
        sessions.insert(fresh.device, fresh);
        Ok(operator)
    }

    /// Drops every cached session and capability.
    pub async fn forget(&self) {
        self.caps.clear();
        self.storage.clear();
        self.sessions.lock().await.clear();
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
        self.vault_as(key, None, dc, op, name, req).await
    }

    /// [`RelayClient::vault`] for another actor than the session's: a master listing or
    /// deleting the objects of one of its operator's agents (`agent revoke --purge`).
    pub async fn vault_as<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        key: &DeviceKey,
        actor: Option<Omni>,
        dc: DataClass,
        op: Op,
        name: &str,
        req: &Req,
    ) -> Result<Resp, ApiError> {
        let svc = if op == Op::List { LIST_ALL } else { name };
        let body = encode(req)?;
        // Once a vault asked for the caller's storage credentials, they go with every request.
        let mut storage = self.storage.cached(&key.address(), dc);
        for attempt in 0..3 {
            match self
                .vault_once(key, actor, dc, op, svc, &body, storage.as_ref())
                .await
            {
                Err(e) if attempt < 2 && (is_stale_token(&e) || is_outdated_session(&e)) => {
                    tracing::info!(code = %e.code, "relay refused a cached token; signing in again");
                    self.forget().await;
                }
                Err(e) if attempt < 2 && e.code == ErrorCode::CallerCredentialsRequired => {
                    storage = Some(self.storage_creds(key, dc).await?);
                }
                Err(e) => return Err(self.after_failure(e).await),
                other => return other,
            }
        }
        Err(ApiError::new(
            ErrorCode::Internal,
            "the vault kept refusing",
        ))
    }

    #[allow(clippy::too_many_arguments)]
    async fn vault_once<Resp: DeserializeOwned>(
        &self,
        key: &DeviceKey,
        actor: Option<Omni>,
        dc: DataClass,
        op: Op,
        svc: &str,
        body: &Bytes,
        storage: Option<&agentkeys_core::cloud::AwsCredsResponse>,
    ) -> Result<Resp, ApiError> {
        // One timestamp for both: the cap cache hands a capability out once per proof second.
        let now = now_secs();
        let cap = self.cap(key, actor, dc, op, svc, now).await?;
        let path = routes::vault_route(dc, op);
        // A proof is single use, so every attempt signs its own.
        let proof = pop::sign(key, &cap.jti, "POST", path, body, now);
        let extra = storage.map(storage_creds::headers);
        let reply = self
            .http
            .post_with(
                path,
                Some(&cap.token),
                Some(&proof),
                extra.as_ref().map_or(&[][..], |h| &h[..]),
                body.clone(),
            )
            .await?;
        decode(path, &reply)
    }

    /// A capability for (`dc`, `op`, `svc`), verified against the pinned relay key. A store
    /// always gets one minted for it: that the relay answered the mint with a fresh token under
    /// the pinned key is what shows the value goes to the pinned relay, and not to whatever
    /// took its address since a cached token was minted.
    async fn cap(
        &self,
        key: &DeviceKey,
        actor: Option<Omni>,
        dc: DataClass,
        op: Op,
        svc: &str,
        now: u64,
    ) -> Result<Cap, ApiError> {
        let address = key.address();
        // The cache holds the session actor's capabilities only, and never a store's.
        let cached = actor.is_none() && op != Op::Store;
        if cached {
            if let Some(cap) = self.caps.take_for_use(&address, dc, op, svc, now) {
                return Ok(cap);
            }
        }
        let session = self.session(key, &address).await?;
        // The relay took operator and actor from the chain at sign-in: a master acts for its
        // operator, an agent for its own actor.
        let asked_actor = actor.unwrap_or(session.actor);
        let req = encode(&CapRequest {
            operator: session.operator,
            actor: asked_actor,
            service: svc.to_string(),
            ttl_secs: None,
        })?;
        let path = routes::cap_route(dc, op);
        let reply = self
            .http
            .post(path, Some(&session.token), None, req)
            .await?;
        let minted: CapResponse = decode(path, &reply)?;
        let claims = self.pinned().await?.verify_cap(
            &minted.cap,
            &CapAsked {
                issuer: &session.issuer,
                device: &address,
                operator: &session.operator,
                actor: &asked_actor,
                dc,
                op,
                svc,
                now,
            },
        )?;
        let cap = Cap {
            token: Zeroizing::new(minted.cap.clone()),
            jti: claims.jti,
        };
        if cached {
            let expires_at = claims.exp.min(minted.expires_at);
            self.caps
                .put(&address, dc, op, svc, cap.clone(), expires_at, now);
        }
        Ok(cap)
    }

    /// A relay that cannot be reached may be replaced by the time it answers again (a crash,
    /// another process on its port): nothing minted before is used after that.
    async fn after_failure(&self, e: ApiError) -> ApiError {
        if e.code == ErrorCode::RelayUnreachable {
            self.forget().await;
        }
        e
    }

    async fn session_token(
        &self,
        key: &DeviceKey,
        address: &Address,
    ) -> Result<Zeroizing<String>, ApiError> {
        Ok(self.session(key, address).await?.token)
    }

    async fn session(&self, key: &DeviceKey, address: &Address) -> Result<CachedSession, ApiError> {
        let mut sessions = self.sessions.lock().await;
        if let Some(s) = sessions
            .get(address)
            .filter(|s| s.usable_for(address, now_secs()))
        {
            return Ok(s.clone());
        }
        let pin = self.pinned().await?;
        let fresh = session::sign_in(&self.http, &pin, key).await?;
        sessions.insert(*address, fresh.clone());
        Ok(fresh)
    }
}

/// 401 with a `cap_*` or `session_*` code: the relay no longer accepts a token we cached.
fn is_stale_token(e: &ApiError) -> bool {
    e.status() == 401 && {
        let code = e.code.as_str();
        code.starts_with("cap_") || code.starts_with("session_")
    }
}

/// The session names an operator the chain no longer gives this device: it was issued before
/// the device was registered (a companion added as a master) or re-registered.
fn is_outdated_session(e: &ApiError) -> bool {
    matches!(
        e.code,
        ErrorCode::DeviceNotRegistered | ErrorCode::OperatorMismatch
    )
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
