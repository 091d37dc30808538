//! Attempts on another operator's data, written into *that* operator's trail: a capability
//! asked for its operator (the broker), or its objects reached for with someone else's storage
//! credentials (the embedded S3 server). Only a device the chain holds as active gets a line,
//! only so many a minute, and a victim's trail takes only so many lines a minute in all: a key
//! made up on the spot, a flood from one device or from many, could otherwise write into
//! someone else's trail without end. Callers ask [`ForeignAttempts::admit`] first, before any
//! work of their own (chain reads to find the owner), so a refused flood costs nothing more.

use super::AuditEvent;
use crate::chain::authz::Authority;
use crate::http::rate_limit::RateLimiter;
use crate::vault::AuditSink;
use agentkeys_core::identity::{Address, Omni};
use std::sync::Arc;

/// Lines one device may add to other operators' trails per minute.
pub const DEFAULT_PER_DEVICE_PER_MINUTE: u32 = 30;
/// Lines one operator's trail takes per minute about attempts of others.
pub const DEFAULT_PER_VICTIM_PER_MINUTE: u32 = 60;
/// Devices and operators tracked by the limits (see `RateLimiter`).
const TRACKED: usize = 10_000;

pub struct ForeignAttempts {
    audit: Option<Arc<dyn AuditSink>>,
    per_device: RateLimiter<Address>,
    per_victim: RateLimiter<Omni>,
}

impl ForeignAttempts {
    pub fn new(audit: Option<Arc<dyn AuditSink>>, per_device_per_minute: u32) -> ForeignAttempts {
        ForeignAttempts {
            audit,
            per_device: RateLimiter::new(per_device_per_minute, TRACKED),
            per_victim: RateLimiter::new(
                if per_device_per_minute == 0 {
                    0
                } else {
                    DEFAULT_PER_VICTIM_PER_MINUTE
                },
                TRACKED,
            ),
        }
    }

    /// Whether an attempt by `device` may be recorded at all: there is a trail, the device is
    /// active on chain, and it is within its limit.
    pub async fn admit(&self, authority: &Authority, device: &Address) -> bool {
        if self.audit.is_none() {
            return false;
        }
        match authority.device(device).await {
            Ok(Some(d)) if !d.revoked => {}
            _ => return false,
        }
        if !self.per_device.allow(device) {
            tracing::warn!(%device, "too many attempts on other operators' data to record them all");
            return false;
        }
        true
    }

    /// Records an admitted attempt in `victim`'s trail, within that trail's own limit. Never
    /// fails the request it describes.
    pub async fn write(&self, victim: &Omni, event: AuditEvent) {
        let Some(audit) = &self.audit else { return };
        if !self.per_victim.allow(victim) {
            tracing::warn!(operator = %victim, "too many attempts on this operator's data to record them all");
            return;
        }
        if let Err(e) = audit.record(event).await {
            tracing::warn!(code = %e.code, "a refused attempt on another operator could not be audited");
        }
    }
}
