//! Replay cache of proofs of possession. A proof is valid for ±60 s, so an entry is kept for
//! 2 × 60 s after its timestamp; after that the window check alone refuses it.

use agentkeys_core::device_key::RecoverableSignature;
use agentkeys_core::pop::POP_WINDOW_SECS;
use std::collections::HashMap;
use std::sync::Mutex;

const MAX_ENTRIES: usize = 1_000_000;

#[derive(Default)]
pub struct ReplayCache {
    seen: Mutex<HashMap<[u8; 65], u64>>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum ReplayVerdict {
    Fresh,
    Replayed,
    /// The cache is full of live entries: refuse rather than forget.
    Full,
}

impl ReplayCache {
    pub fn check_and_insert(&self, sig: &RecoverableSignature, ts: u64, now: u64) -> ReplayVerdict {
        let Ok(mut seen) = self.seen.lock() else {
            return ReplayVerdict::Full;
        };
        if seen.contains_key(sig) {
            return ReplayVerdict::Replayed;
        }
        if seen.len() >= MAX_ENTRIES {
            let horizon = now.saturating_sub(2 * POP_WINDOW_SECS);
            seen.retain(|_, t| *t >= horizon);
            if seen.len() >= MAX_ENTRIES {
                return ReplayVerdict::Full;
            }
        }
        seen.insert(*sig, ts);
        ReplayVerdict::Fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_use_is_replay() {
        let c = ReplayCache::default();
        assert_eq!(c.check_and_insert(&[1; 65], 10, 10), ReplayVerdict::Fresh);
        assert_eq!(
            c.check_and_insert(&[1; 65], 10, 11),
            ReplayVerdict::Replayed
        );
        assert_eq!(c.check_and_insert(&[2; 65], 10, 11), ReplayVerdict::Fresh);
    }
}
