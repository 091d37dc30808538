//! Attempts on another operator's data, written into *that* operator's trail: a capability
//! asked for its operator (the broker), or its objects reached for with someone else's storage
//! credentials (the embedded S3 server). Only a device the chain holds as active gets a line,
//! and only so many a minute: a key made up on the spot, or a flood from one device, could
//! otherwise write into someone else's trail without end.

use super::AuditEvent;
use crate::chain::authz::Authority;
use crate::http::rate_limit::RateLimiter;
use crate::vault::AuditSink;
use agentkeys_core::identity::Address;
use std::sync::Arc;

/// Lines one device may add to other operators' trails per minute.
pub const DEFAULT_PER_DEVICE_PER_MINUTE: u32 = 30;
/// Devices tracked by the limit (see `RateLimiter`).
const TRACKED_DEVICES: usize = 10_000;

pub struct ForeignAttempts {
    audit: Option<Arc<dyn AuditSink>>,
    per_device: RateLimiter<Address>,
}

impl ForeignAttempts {
    pub fn new(audit: Option<Arc<dyn AuditSink>>, per_device_per_minute: u32) -> ForeignAttempts {
        ForeignAttempts {
            audit,
            per_device: RateLimiter::new(per_device_per_minute, TRACKED_DEVICES),
        }
    }

    /// Records `event`, an attempt by `device`, unless the device is not active on chain or
    /// is over its limit. Never fails the request it describes.
    pub async fn record(&self, authority: &Authority, device: &Address, event: AuditEvent) {
        let Some(audit) = &self.audit else { return };
        match authority.device(device).await {
            Ok(Some(d)) if !d.revoked => {}
            _ => return,
        }
        if !self.per_device.allow(device) {
            tracing::warn!(%device, "too many attempts on other operators' data to record them all");
            return;
        }
        if let Err(e) = audit.record(event).await {
            tracing::warn!(code = %e.code, "a refused attempt on another operator could not be audited");
        }
    }
}
