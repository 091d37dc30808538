//! The relay's pinned keys and chain in the client: every session and capability the relay
//! hands out is verified against them before any claim is used or anything is sent with it,
//! and every chain id the relay names must be the pinned one.

use std::path::PathBuf;
use std::sync::RwLock;

use agentkeys_core::cap::CLOCK_SKEW_SECS;
use agentkeys_core::cap::{check_cap_claims, verify_cap_signature, CapClaims, CapExpectation};
use agentkeys_core::chain::ChainStatus;
use agentkeys_core::error::{ApiError, ErrorCode};
use agentkeys_core::es256::Jwks;
use agentkeys_core::identity::{Address, Omni};
use agentkeys_core::names::{DataClass, Op, LIST_ALL};
use agentkeys_core::routes;
use agentkeys_core::session::{verify_session, SessionClaims};
use agentkeys_core::time_util::now_secs;

use super::RelayClient;
use crate::local::relay_pin::{self, PinSource, RelayPin};

/// The current pin, and the folder its file lives in (`None` in tests: memory only).
#[derive(Default)]
pub(crate) struct PinSlot {
    dir: Option<PathBuf>,
    current: RwLock<Option<RelayPin>>,
}

impl PinSlot {
    pub(crate) fn from_dir(dir: PathBuf) -> Result<PinSlot, ApiError> {
        let current = relay_pin::load(&dir)?;
        Ok(PinSlot {
            dir: Some(dir),
            current: RwLock::new(current),
        })
    }

    fn get(&self) -> Option<RelayPin> {
        self.current.read().ok().and_then(|p| p.clone())
    }

    pub(super) fn set(&self, pin: RelayPin) -> Result<(), ApiError> {
        if let Some(dir) = &self.dir {
            relay_pin::save(dir, &pin)?;
        }
        if let Ok(mut current) = self.current.write() {
            *current = Some(pin);
        }
        Ok(())
    }
}

/// What `init` did to the pin.
#[derive(Debug)]
pub struct PinResult {
    pub pin: RelayPin,
    /// The fingerprints replaced by `--repin`, when they differed.
    pub replaced: Option<Vec<String>>,
    /// No pin existed before.
    pub new: bool,
}

fn forged(what: &str) -> ApiError {
    ApiError::new(
        ErrorCode::RelaySignatureInvalid,
        format!(
            "{what}; something other than the relay pinned at `agentkeys init` may be \
             answering at its address, so nothing was sent to it. Start the real relay again \
             (`agentkeys up`); if you replaced it on purpose, run `agentkeys init --repin`"
        ),
    )
}

pub(crate) fn chain_mismatch(pinned: u64, named: u64, where_: &str) -> ApiError {
    ApiError::new(
        ErrorCode::RelayChainMismatch,
        format!(
            "the relay's {where_} names chain {named}, but this device pinned chain {pinned} at \
             `agentkeys init`; nothing was signed. If the relay moved to another chain on \
             purpose, run `agentkeys init --repin`"
        ),
    )
}

/// What a capability minted at the daemon's request must say.
pub(crate) struct CapAsked<'a> {
    pub issuer: &'a str,
    pub device: &'a Address,
    pub operator: &'a Omni,
    pub actor: &'a Omni,
    pub dc: DataClass,
    pub op: Op,
    pub svc: &'a str,
    pub now: u64,
}

impl RelayPin {
    /// The session answering this device's sign-in at the relay whose issuer is `issuer`.
    pub(crate) fn verify_session(
        &self,
        token: &str,
        issuer: &str,
        device: &Address,
        now: u64,
    ) -> Result<SessionClaims, ApiError> {
        let claims = verify_session(token, &self.jwks(), issuer, now).map_err(|code| {
            forged(&format!(
                "the relay's session token does not verify against the pinned relay key ({code})"
            ))
        })?;
        if claims.sub != *device {
            return Err(forged("the relay issued a session for another device"));
        }
        Ok(claims)
    }

    /// A capability the daemon just asked for: signed by a pinned key, for exactly what was
    /// asked, and minted now (a replayed older token could not have come from the relay).
    pub(crate) fn verify_cap(&self, token: &str, a: &CapAsked<'_>) -> Result<CapClaims, ApiError> {
        let claims = verify_cap_signature(token, &self.jwks()).map_err(|code| {
            forged(&format!(
                "the relay's capability token does not verify against the pinned relay key ({code})"
            ))
        })?;
        // The audience names the vault, which checks it; the daemon does not know its name.
        let expect = CapExpectation {
            issuer: a.issuer,
            audience: &claims.aud,
            op: a.op,
            data_class: a.dc,
            now: a.now,
        };
        check_cap_claims(&claims, &expect).map_err(|code| {
            forged(&format!(
                "the relay's capability is not the one asked for ({code})"
            ))
        })?;
        let svc_ok = if a.op == Op::List {
            claims.svc == LIST_ALL
        } else {
            claims.svc == a.svc
        };
        if !svc_ok
            || claims.cnf.eth_addr != *a.device
            || claims.opr != *a.operator
            || claims.sub != *a.actor
            || claims.iat + CLOCK_SKEW_SECS < a.now
        {
            return Err(forged(
                "the relay's capability is for another device, operator, actor or name, or \
                 was not minted now",
            ));
        }
        Ok(claims)
    }

    pub(crate) fn check_chain(&self, named: u64, where_: &str) -> Result<(), ApiError> {
        if named == self.chain_id {
            Ok(())
        } else {
            Err(chain_mismatch(self.chain_id, named, where_))
        }
    }
}

impl RelayClient {
    /// The relay's keys and chain as it states them now, unverified: the input of a pin.
    async fn relay_pin_candidate(&self, source: PinSource) -> Result<RelayPin, ApiError> {
        let jwks: Jwks = self.get_public(routes::JWKS).await?;
        let chain: ChainStatus = self.get_public(routes::CHAIN_STATUS).await?;
        RelayPin::from_relay(
            self.base_url(),
            &jwks,
            chain.chain_id,
            &chain.contracts,
            source,
            now_secs(),
        )
    }

    /// The pin to verify against. A daemon whose state predates pinning trusts the relay it
    /// meets first, as ssh does an unknown host, and says so loudly: refusing would stop every
    /// unattended agent at upgrade, and the relay it meets is the one it used until then.
    pub async fn pinned(&self) -> Result<RelayPin, ApiError> {
        if let Some(pin) = self.pin.get() {
            return Ok(pin);
        }
        let pin = self.relay_pin_candidate(PinSource::FirstUse).await?;
        tracing::warn!(
            relay = %self.base_url(),
            chain_id = pin.chain_id,
            keys = %pin.fingerprints().join(", "),
            "RELAY PINNED ON FIRST USE: this device had no pinned relay key (its state predates \
             pinning), so it now trusts the keys of whatever answered at the relay's address. \
             Compare the fingerprints with the `broker session key` line of the relay's log, or run \
             `agentkeys init` to pin deliberately"
        );
        self.pin.set(pin.clone())?;
        Ok(pin)
    }

    /// `agentkeys init`: pins the relay's keys and chain if none are pinned; with `repin`
    /// replaces a pin that differs; otherwise refuses a relay that differs from the pin.
    pub async fn pin_relay(&self, repin: bool) -> Result<PinResult, ApiError> {
        let fresh = self.relay_pin_candidate(PinSource::Init).await?;
        let old = self.pin.get();
        let replaced = match &old {
            Some(old) if old.same_relay(&fresh) => {
                if old.source == PinSource::Init {
                    return Ok(PinResult {
                        pin: old.clone(),
                        replaced: None,
                        new: false,
                    });
                }
                // Confirmed by `init`: no longer a first-use pin.
                None
            }
            Some(old) if !repin => {
                return Err(ApiError::new(
                    ErrorCode::RelayKeyChanged,
                    format!(
                        "the relay at {} signs with {} on chain {}, but this device pinned {} on \
                         chain {}. Something other than your relay may be answering there; \
                         nothing was changed. If you replaced the relay on purpose, run \
                         `agentkeys init --repin`",
                        self.base_url(),
                        fresh.fingerprints().join(", "),
                        fresh.chain_id,
                        old.fingerprints().join(", "),
                        old.chain_id
                    ),
                ))
            }
            Some(old) => Some(old.fingerprints()),
            None => None,
        };
        self.pin.set(fresh.clone())?;
        // Tokens of the relay pinned before must not be used with the new one.
        self.forget().await;
        Ok(PinResult {
            pin: fresh,
            replaced,
            new: old.as_ref().is_none_or(|o| o.source == PinSource::FirstUse),
        })
    }
}
