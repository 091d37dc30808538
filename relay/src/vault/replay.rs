//! Replay cache of proofs of possession, keyed on what a proof signs (the capability's jti and
//! the proof's nonce, see [`agentkeys_core::pop::replay_key`]), never on the signature bytes: a
//! signature re-spelled or re-made with another timestamp names the same (jti, nonce).
//! A proof is valid for ±60 s, so an entry is kept for 2 × 60 s after its timestamp; after
//! that the window check alone refuses it.

use agentkeys_core::pop::POP_WINDOW_SECS;
use std::collections::HashMap;
use std::sync::Mutex;

const MAX_ENTRIES: usize = 1_000_000;

pub type ReplayKey = [u8; 32];

#[derive(Default)]
pub struct ReplayCache {
    seen: Mutex<HashMap<ReplayKey, u64>>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum ReplayVerdict {
    Fresh,
    Replayed,
    /// The cache is full of live entries: refuse rather than forget.
    Full,
}

impl ReplayCache {
    pub fn check_and_insert(&self, key: &ReplayKey, ts: u64, now: u64) -> ReplayVerdict {
        let Ok(mut seen) = self.seen.lock() else {
            return ReplayVerdict::Full;
        };
        if seen.contains_key(key) {
            return ReplayVerdict::Replayed;
        }
        if seen.len() >= MAX_ENTRIES {
            let horizon = now.saturating_sub(2 * POP_WINDOW_SECS);
            seen.retain(|_, t| *t >= horizon);
            if seen.len() >= MAX_ENTRIES {
                return ReplayVerdict::Full;
            }
        }
        seen.insert(*key, ts);
        ReplayVerdict::Fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentkeys_core::device_key::DeviceKey;
    use agentkeys_core::pop;

    #[test]
    fn second_use_is_replay() {
        let c = ReplayCache::default();
        assert_eq!(c.check_and_insert(&[1; 32], 10, 10), ReplayVerdict::Fresh);
        assert_eq!(
            c.check_and_insert(&[1; 32], 10, 11),
            ReplayVerdict::Replayed
        );
        assert_eq!(c.check_and_insert(&[2; 32], 10, 11), ReplayVerdict::Fresh);
    }

    /// A proof and the same proof re-signed with another timestamp (what a holder of the key,
    /// not an eavesdropper, could make) share their (jti, nonce) and so one cache slot.
    #[test]
    fn the_same_jti_and_nonce_is_one_use() {
        let key = DeviceKey::from_bytes(&[0x42; 32]).unwrap();
        let addr = key.address();
        let nonce = "0123456789abcdef0123456789abcdef";
        let now = 1_760_000_000;
        let c = ReplayCache::default();
        let mut verdicts = vec![];
        for ts in [now, now - 5] {
            let h = pop::sign_with_nonce(&key, "jti", "POST", "/p", b"{}", ts, nonce);
            let v = pop::verify(&h, "jti", &addr, "POST", "/p", b"{}", now).unwrap();
            verdicts.push(c.check_and_insert(&v.replay_key, v.ts, now));
        }
        assert_eq!(verdicts, [ReplayVerdict::Fresh, ReplayVerdict::Replayed]);
    }
}
