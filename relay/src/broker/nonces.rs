//! Single-use SIWE nonces with expiry. In memory: a nonce only has to survive the few seconds
//! between start and verify, and a restart simply makes the client start again.

use std::collections::HashMap;
use std::sync::Mutex;

/// Caps memory under a flood of `start` calls; the oldest entries are expired first.
const MAX_OUTSTANDING: usize = 100_000;

#[derive(Default)]
pub struct NonceStore {
    inner: Mutex<HashMap<String, u64>>,
}

impl NonceStore {
    /// Records `nonce` as issued until `expires_at`. False when the store is full.
    pub fn issue(&self, nonce: &str, expires_at: u64, now: u64) -> bool {
        let Ok(mut map) = self.inner.lock() else {
            return false;
        };
        if map.len() >= MAX_OUTSTANDING {
            map.retain(|_, exp| *exp > now);
            if map.len() >= MAX_OUTSTANDING {
                return false;
            }
        }
        map.insert(nonce.to_string(), expires_at);
        true
    }

    /// Consumes `nonce`: true only the first time, and only before it expires.
    pub fn consume(&self, nonce: &str, now: u64) -> bool {
        let Ok(mut map) = self.inner.lock() else {
            return false;
        };
        matches!(map.remove(nonce), Some(exp) if exp > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_use_and_expiry() {
        let s = NonceStore::default();
        assert!(s.issue("a", 100, 0));
        assert!(s.consume("a", 50));
        assert!(!s.consume("a", 50));
        assert!(s.issue("b", 100, 0));
        assert!(!s.consume("b", 100));
        assert!(!s.consume("never", 0));
    }
}
