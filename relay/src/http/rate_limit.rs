//! Keyed rate limits and budgets (GCRA: one "theoretical arrival time" per key), bounded in
//! memory.
//!
//! A budget of `n` per period allows spending all `n` at once, then refills evenly over the
//! period; a request may cost more than one unit (gas, for sponsored transactions). Keys live in
//! two generations swapped every period: a key untouched for a whole generation is back to a
//! full budget anyway, so dropping the older generation forgets nothing that matters. Past
//! `max_keys` live keys, new keys share one overflow bucket: the memory stays bounded and a
//! flood of fresh keys (many addresses, many IPv6 networks) slows itself, not known keys.
//!
//! Times are scaled by `n` (one unit of budget refills every `period` scaled milliseconds), so
//! the arithmetic stays exact whatever the budget.

use axum::extract::{ConnectInfo, Request};
use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const MINUTE_MS: u64 = 60_000;

pub struct RateLimiter<K> {
    /// Units per period; `None` is unlimited.
    budget: Option<u64>,
    period_ms: u64,
    max_keys: usize,
    start: Instant,
    state: Mutex<Generations<K>>,
}

struct Generations<K> {
    current: HashMap<K, u128>,
    previous: HashMap<K, u128>,
    rotated_at: u64,
    overflow: u128,
}

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    /// `per_minute` requests per minute; 0 means unlimited.
    pub fn new(per_minute: u32, max_keys: usize) -> RateLimiter<K> {
        RateLimiter::budget(
            u64::from(per_minute),
            Duration::from_millis(MINUTE_MS),
            max_keys,
        )
    }

    /// `units` per `period`; 0 means unlimited.
    pub fn budget(units: u64, period: Duration, max_keys: usize) -> RateLimiter<K> {
        RateLimiter {
            budget: (units > 0).then_some(units),
            period_ms: u64::try_from(period.as_millis()).unwrap_or(u64::MAX).max(1),
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
        self.take(key, 1)
    }

    /// Takes `cost` units for `key`; false (and nothing taken) when they do not fit in what is
    /// left of its budget.
    pub fn take(&self, key: &K, cost: u64) -> bool {
        let now = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.take_at(key, cost, now)
    }

    #[cfg(test)]
    fn allow_at(&self, key: &K, now: u64) -> bool {
        self.take_at(key, 1, now)
    }

    fn take_at(&self, key: &K, cost: u64, now: u64) -> bool {
        let Some(n) = self.budget else {
            return true;
        };
        let Ok(mut g) = self.state.lock() else {
            return false;
        };
        if now.saturating_sub(g.rotated_at) >= self.period_ms {
            g.previous = std::mem::take(&mut g.current);
            g.rotated_at = now;
        }
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
        let period = u128::from(self.period_ms);
        let now = u128::from(now) * u128::from(n);
        let tat = tat.max(now) + u128::from(cost) * period;
        if tat - now > u128::from(n) * period {
            return false;
        }
        if tracked {
            g.current.insert(key.clone(), tat);
        } else {
            g.overflow = tat;
        }
        true
    }
}

/// The rate-limit key of a request's client (see [`peer_key`]).
pub fn request_peer_key(req: &Request) -> IpAddr {
    peer_key(
        req.extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0),
    )
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
    fn a_budget_is_spent_by_cost_and_refills_evenly() {
        // 1,000 units an hour: 3.6 s per unit.
        let l = RateLimiter::budget(1_000, Duration::from_secs(3_600), 10);
        assert!(l.take_at(&1, 600, 0));
        assert!(!l.take_at(&1, 401, 0), "more than what is left");
        assert!(l.take_at(&1, 400, 0));
        assert!(!l.take_at(&1, 1, 0));
        assert!(!l.take_at(&1, 1, 3_599));
        assert!(l.take_at(&1, 1, 3_600));
        // Half an hour later, half the budget is back, not more.
        assert!(!l.take_at(&1, 501, 1_803_600));
        assert!(l.take_at(&1, 500, 1_803_600));
        // A single request larger than the whole budget never passes.
        assert!(!l.take_at(&2, 1_001, 0));
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
