//! Per-child agent tokens. Only their SHA-256 is kept, so the table itself is no secret and a
//! lookup leaks nothing about a token through timing. Tokens live until revoked (when the
//! child exits) or the daemon stops; an agent's revocation drops all of its tokens.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use agentkeys_core::error::{ApiError, ErrorCode};
use agentkeys_core::identity::sha256;
use rand::RngCore;
use zeroize::Zeroizing;

/// Children alive at once; far above any real use, low enough to bound memory.
const MAX_TOKENS: usize = 4096;

#[derive(Default)]
pub struct AgentTokens {
    by_hash: Mutex<HashMap<[u8; 32], String>>,
}

impl AgentTokens {
    pub fn issue(&self, agent: &str) -> Result<Zeroizing<String>, ApiError> {
        let mut raw = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(raw.as_mut());
        let token = Zeroizing::new(format!("akt_{}", hex::encode(raw.as_ref())));
        let mut table = self.by_hash.lock().unwrap_or_else(PoisonError::into_inner);
        if table.len() >= MAX_TOKENS {
            return Err(ApiError::new(
                ErrorCode::Timeout,
                "too many agent tokens are live; stop some `agentkeys run` children first",
            ));
        }
        table.insert(sha256(token.as_bytes()), agent.to_string());
        Ok(token)
    }

    /// The agent the token was issued for.
    pub fn agent_of(&self, token: &str) -> Option<String> {
        self.by_hash
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&sha256(token.as_bytes()))
            .cloned()
    }

    pub fn revoke(&self, token: &str) -> bool {
        self.by_hash
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&sha256(token.as_bytes()))
            .is_some()
    }

    pub fn revoke_agent(&self, agent: &str) {
        self.by_hash
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|_, a| a != agent);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_name_their_agent_until_revoked() {
        let t = AgentTokens::default();
        let a = t.issue("coder").unwrap();
        let b = t.issue("writer").unwrap();
        assert_ne!(*a, *b);
        assert_eq!(t.agent_of(&a).as_deref(), Some("coder"));
        assert_eq!(t.agent_of("akt_00").as_deref(), None);
        assert!(t.revoke(&a));
        assert_eq!(t.agent_of(&a), None);
        t.revoke_agent("writer");
        assert_eq!(t.agent_of(&b), None);
    }
}
