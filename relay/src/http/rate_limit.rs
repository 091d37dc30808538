//! Keyed rate limits (GCRA: one "theoretical arrival time" per key), bounded in memory.
//!
//! A limit of `n` per minute allows a burst of `n`, then one every `60/n` s. Keys live in two
//! generations swapped every minute: a key untouched for a whole generation is back to a full
//! burst anyway, so dropping the older generation forgets nothing that matters. Past
//! `max_keys` live keys, new keys share one overflow bucket: the memory stays bounded and a
//! flood of fresh keys (many addresses, many IPv6 networks) slows itself, not known keys.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::Instant;

const PERIOD_MS: u64 = 60_000;

pub struct RateLimiter<K> {
    /// Requests per minute; `None` is unlimited.
    per_minute: Option<u32>,
    max_keys: usize,
    start: Instant,
    state: Mutex<Generations<K>>,
}

struct Generations<K> {
    current: HashMap<K, u64>,
    previous: HashMap<K, u64>,
    rotated_at: u64,
    overflow: u64,
}

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    /// `per_minute` 0 means unlimited.
    pub fn new(per_minute: u32, max_keys: usize) -> RateLimiter<K> {
        RateLimiter {
            per_minute: (per_minute > 0).then_some(per_minute),
            max_keys,
            start: Instant::now(),
            state: Mutex::new(Generations {
                current: HashMap::new(),
                previous: HashMap::new(),
                rotated_at: 0,
                overflow: 0,
            }),
        }
    }

    /// Takes one request's worth for `key`; false when the key is over its limit.
    pub fn allow(&self, key: &K) -> bool {
        let now = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.allow_at(key, now)
    }

    fn allow_at(&self, key: &K, now: u64) -> bool {
        let Some(n) = self.per_minute else {
            return true;
        };
        let Ok(mut g) = self.state.lock() else {
            return false;
        };
        if now.saturating_sub(g.rotated_at) >= PERIOD_MS {
            g.previous = std::mem::take(&mut g.current);
            g.rotated_at = now;
        }
        let interval = PERIOD_MS / u64::from(n.max(1));
        let tolerance = PERIOD_MS.saturating_sub(interval);
        let earlier = match g.current.get(key) {
            Some(t) => Some(*t),
            None => {
                // Promoted whether or not this request passes, so that a refused key is not
                // forgotten at the next swap.
                let moved = g.previous.remove(key);
                if let Some(t) = moved {
                    g.current.insert(key.clone(), t);
                }
                moved
            }
        };
        let tracked = earlier.is_some() || g.current.len() < self.max_keys;
        let tat = if tracked {
            earlier.unwrap_or(0)
        } else {
            g.overflow
        };
        let tat = tat.max(now);
        if tat - now > tolerance {
            return false;
        }
        if tracked {
            g.current.insert(key.clone(), tat + interval);
        } else {
            g.overflow = tat + interval;
        }
        true
    }
}

/// The rate-limit key of a peer: its IPv4 address, or its IPv6 /64 (one host usually holds a
/// whole /64, so finer keys would give it billions of buckets).
pub fn peer_key(peer: Option<SocketAddr>) -> IpAddr {
    match peer.map(|p| p.ip().to_canonical()) {
        Some(IpAddr::V6(v6)) => {
            let mut octets = v6.octets();
            octets[8..].fill(0);
            IpAddr::from(octets)
        }
        Some(v4) => v4,
        // In-process callers (tests) have no connection; they share one key.
        None => IpAddr::from([0, 0, 0, 0]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_steady_rate() {
        let l = RateLimiter::new(6, 10);
        assert!((0..6).all(|_| l.allow_at(&1, 1_000)));
        assert!(!l.allow_at(&1, 1_000));
        // Another key is untouched.
        assert!(l.allow_at(&2, 1_000));
        // One more every 10 s.
        assert!(!l.allow_at(&1, 10_999));
        assert!(l.allow_at(&1, 11_000));
        assert!(!l.allow_at(&1, 11_000));
        // After a full minute idle, the whole burst is back.
        assert!((0..6).all(|_| l.allow_at(&1, 80_000)));
        assert!(!l.allow_at(&1, 80_000));
    }

    #[test]
    fn unlimited_when_zero() {
        let l = RateLimiter::new(0, 1);
        assert!((0..10_000).all(|i| l.allow_at(&i, 0)));
    }

    #[test]
    fn a_limited_key_stays_limited_across_a_rotation() {
        let l = RateLimiter::new(2, 10);
        assert!(l.allow_at(&1, 59_000) && l.allow_at(&1, 59_000));
        assert!(!l.allow_at(&1, 59_500));
        // The swap at 60 s keeps the key (previous generation); still 30 s per request.
        assert!(!l.allow_at(&1, 60_100));
        assert!(l.allow_at(&1, 89_000));
    }

    #[test]
    fn memory_is_bounded_and_new_keys_share_the_overflow() {
        let l = RateLimiter::new(3, 100);
        for k in 0..100 {
            assert!(l.allow_at(&k, 0));
        }
        // Keys past the bound share one bucket of 3; known keys keep their own.
        assert!((100..103).all(|k| l.allow_at(&k, 0)));
        assert!(!l.allow_at(&103, 0));
        assert!(!l.allow_at(&5000, 0));
        assert!(l.allow_at(&7, 0));
        let g = l.state.lock().unwrap();
        assert_eq!(g.current.len() + g.previous.len(), 100);
    }

    #[test]
    fn ipv6_peers_are_keyed_by_their_slash_64() {
        let a: SocketAddr = "[2001:db8:1:2:aaaa::1]:5".parse().unwrap();
        let b: SocketAddr = "[2001:db8:1:2:bbbb::9]:6".parse().unwrap();
        let c: SocketAddr = "[2001:db8:1:3::1]:6".parse().unwrap();
        assert_eq!(peer_key(Some(a)), peer_key(Some(b)));
        assert_ne!(peer_key(Some(a)), peer_key(Some(c)));
        let mapped: SocketAddr = "[::ffff:192.0.2.7]:1".parse().unwrap();
        assert_eq!(
            peer_key(Some(mapped)),
            "192.0.2.7".parse::<IpAddr>().unwrap()
        );
    }
}
