//! Capabilities whose signature already verified, keyed by the token's SHA-256, so a cached
//! capability used for many requests costs one ECDSA verification instead of one per request.
//! Only the signature result is cached: issuer, audience, expiry, class and operation are
//! checked on every use, and each use still needs its own proof of possession.

use agentkeys_core::cap::CapClaims;
use std::collections::HashMap;
use std::sync::Mutex;

const MAX_ENTRIES: usize = 100_000;

#[derive(Default)]
pub struct VerifiedCaps {
    entries: Mutex<HashMap<[u8; 32], CapClaims>>,
}

impl VerifiedCaps {
    pub fn get(&self, token_hash: &[u8; 32]) -> Option<CapClaims> {
        self.entries.lock().ok()?.get(token_hash).cloned()
    }

    pub fn insert(&self, token_hash: [u8; 32], claims: CapClaims, now: u64) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, c| c.exp > now);
            if entries.len() >= MAX_ENTRIES {
                // Everything live: start over rather than grow; the cost is re-verification.
                entries.clear();
            }
        }
        entries.insert(token_hash, claims);
    }
}
