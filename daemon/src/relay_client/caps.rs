//! Capabilities cached per (data class, operation, name), so repeated reads of one secret do
//! not mint a token each time. Each use still carries a fresh proof of possession, made unique
//! by its random nonce, so one capability serves any number of concurrent requests.

use std::collections::HashMap;
use std::sync::Mutex;

use agentkeys_core::identity::Address;
use agentkeys_core::names::{DataClass, Op};
use zeroize::Zeroizing;

/// A cached capability is dropped this long before it expires, so it never lapses between
/// being picked and reaching the vault.
const CAP_MARGIN_SECS: u64 = 30;
/// Bound on the cache; distinct names are few in practice, but a client looping over names
/// must not grow the daemon without limit.
const MAX_ENTRIES: usize = 1024;

/// (device, class, operation, name): the daemon holds caps for itself and for its agents.
type CapKey = (Address, DataClass, Op, String);

/// A capability verified against the pinned relay key, with the `jti` its proofs name.
#[derive(Clone)]
pub(crate) struct Cap {
    pub token: Zeroizing<String>,
    pub jti: String,
}

struct CachedCap {
    cap: Cap,
    expires_at: u64,
}

#[derive(Default)]
pub(crate) struct CapCache {
    entries: Mutex<HashMap<CapKey, CachedCap>>,
}

impl CapCache {
    /// A cached capability, unless it expires soon.
    pub(crate) fn take_for_use(
        &self,
        device: &Address,
        dc: DataClass,
        op: Op,
        name: &str,
        now: u64,
    ) -> Option<Cap> {
        let entries = self.entries.lock().ok()?;
        let cap = entries
            .get(&(*device, dc, op, name.to_string()))
            .filter(|c| now + CAP_MARGIN_SECS < c.expires_at)?;
        Some(cap.cap.clone())
    }

    /// Caches a freshly minted capability.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn put(
        &self,
        device: &Address,
        dc: DataClass,
        op: Op,
        name: &str,
        cap: Cap,
        expires_at: u64,
        now: u64,
    ) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, c| now + CAP_MARGIN_SECS < c.expires_at);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(
            (*device, dc, op, name.to_string()),
            CachedCap { cap, expires_at },
        );
    }

    pub(crate) fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: Address = Address([7; 20]);

    fn cap(t: &str) -> Cap {
        Cap {
            token: Zeroizing::new(t.into()),
            jti: "j".into(),
        }
    }

    #[test]
    fn entries_expire_with_margin_and_are_keyed_by_name() {
        let cache = CapCache::default();
        let (cred, fetch) = (DataClass::Credentials, Op::Fetch);
        cache.put(&D, cred, fetch, "a", cap("t"), 1000, 0);
        assert!(cache.take_for_use(&D, cred, fetch, "a", 969).is_some());
        assert!(cache.take_for_use(&D, cred, fetch, "a", 970).is_none());
        assert!(cache.take_for_use(&D, cred, fetch, "b", 1).is_none());
        assert!(cache
            .take_for_use(&D, DataClass::Memory, fetch, "a", 1)
            .is_none());
        assert!(cache.take_for_use(&D, cred, Op::Store, "a", 1).is_none());
        cache.clear();
        assert!(cache.take_for_use(&D, cred, fetch, "a", 1).is_none());
    }

    #[test]
    fn a_capability_serves_many_proofs_in_one_second() {
        let cache = CapCache::default();
        let (cred, fetch) = (DataClass::Credentials, Op::Fetch);
        cache.put(&D, cred, fetch, "a", cap("t"), 1000, 10);
        assert!(cache.take_for_use(&D, cred, fetch, "a", 10).is_some());
        assert!(cache.take_for_use(&D, cred, fetch, "a", 10).is_some());
    }
}
