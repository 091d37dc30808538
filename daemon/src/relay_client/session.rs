//! Sign-in with the device key (SIWE) and the cached session it yields.

use std::fmt;

use agentkeys_core::device_key::DeviceKey;
use agentkeys_core::error::{ApiError, ErrorCode};
use agentkeys_core::identity::{Address, Omni};
use agentkeys_core::routes;
use agentkeys_core::siwe_msg::{self, SiweChallenge};
use agentkeys_core::time_util::now_secs;
use agentkeys_core::wire::{SessionResponse, SiweStartRequest, SiweVerifyRequest};
use zeroize::Zeroizing;

use super::http::{decode, encode, Http};
use crate::local::relay_pin::RelayPin;

/// Sessions are renewed this long before they expire, so a request never carries a session
/// that lapses in flight.
const SESSION_MARGIN_SECS: u64 = 60;

#[derive(Clone)]
pub(crate) struct CachedSession {
    pub token: Zeroizing<String>,
    pub expires_at: u64,
    pub device: Address,
    pub operator: Omni,
    pub actor: Omni,
    /// The relay's `iss`, which its capabilities must carry too.
    pub issuer: String,
}

impl fmt::Debug for CachedSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedSession")
            .field("token", &"redacted")
            .field("expires_at", &self.expires_at)
            .field("device", &self.device)
            .finish()
    }
}

impl CachedSession {
    pub(crate) fn usable_for(&self, device: &Address, now: u64) -> bool {
        self.device == *device && now + SESSION_MARGIN_SECS < self.expires_at
    }
}

/// Signs in with `key`; refuses to sign a challenge for another relay than the configured one
/// or another chain than the pinned one, and a session not signed by a pinned key.
pub(crate) async fn sign_in(
    http: &Http,
    pin: &RelayPin,
    key: &DeviceKey,
) -> Result<CachedSession, ApiError> {
    let address = key.address();
    let start = encode(&SiweStartRequest { address })?;
    let reply = http.post(routes::SIWE_START, None, None, start).await?;
    let challenge: SiweChallenge = decode(routes::SIWE_START, &reply)?;
    siwe_msg::check_challenge_for(&challenge, http.base()).map_err(|_| {
        ApiError::new(
            ErrorCode::RelayProtocol,
            format!(
                "the relay's sign-in challenge names {} ({}), not the relay this device is configured for ({}); refusing to sign",
                challenge.domain,
                challenge.uri,
                http.base()
            ),
        )
    })?;
    pin.check_chain(challenge.chain_id, "sign-in challenge")?;
    let message = siwe_msg::build_message(&challenge, &address).map_err(|code| {
        ApiError::new(
            ErrorCode::RelayProtocol,
            format!("the relay's sign-in challenge cannot be signed ({code})"),
        )
    })?;
    let signature = format!("0x{}", hex::encode(key.sign_personal(message.as_bytes())));
    let verify = encode(&SiweVerifyRequest { message, signature })?;
    let reply = http.post(routes::SIWE_VERIFY, None, None, verify).await?;
    let session: SessionResponse = decode(routes::SIWE_VERIFY, &reply)?;
    // The relay's issuer is the SIWE URI checked above; its claims, not the answer's plain
    // fields, say who the session is for.
    let claims = pin.verify_session(&session.session, &challenge.uri, &address, now_secs())?;
    tracing::info!(device = %address, expires_at = claims.exp, "signed in to the relay");
    Ok(CachedSession {
        token: Zeroizing::new(session.session.clone()),
        expires_at: claims.exp,
        device: address,
        operator: claims.opr,
        actor: claims.act,
        issuer: claims.iss,
    })
}
