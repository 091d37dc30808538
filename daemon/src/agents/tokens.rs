//! Per-child agent tokens. Only their SHA-256 is kept, so the table itself is no secret and a
//! lookup leaks nothing about a token through timing. Each token is bound to the process that
//! asked for it (`agentkeys run`, identified by the socket's peer credentials, never by what
//! it says): it works only while that process lives, so a `run` killed without a chance to
//! revoke takes its child's token with it. Tokens also end when revoked (when the child
//! exits), when their agent is revoked, or when the daemon stops.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use agentkeys_core::error::{ApiError, ErrorCode};
use agentkeys_core::identity::sha256;
use rand::RngCore;
use zeroize::Zeroizing;

use super::process::ProcessId;

/// Children alive at once; far above any real use, low enough to bound memory.
const MAX_TOKENS: usize = 4096;

/// How often [`AgentTokens::sweep`] drops the tokens of exited processes. Lookups check the
/// process themselves, so this bounds only how long a dead entry takes memory.
pub const SWEEP_INTERVAL: Duration = Duration::from_millis(250);

struct Entry {
    agent: String,
    owner: ProcessId,
}

#[derive(Default)]
pub struct AgentTokens {
    by_hash: Mutex<HashMap<[u8; 32], Entry>>,
}

impl AgentTokens {
    /// A token for `agent`, alive as long as `owner` is.
    pub fn issue(&self, agent: &str, owner: ProcessId) -> Result<Zeroizing<String>, ApiError> {
        let mut raw = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(raw.as_mut());
        let token = Zeroizing::new(format!("akt_{}", hex::encode(raw.as_ref())));
        let mut table = self.by_hash.lock().unwrap_or_else(PoisonError::into_inner);
        if table.len() >= MAX_TOKENS {
            table.retain(|_, e| e.owner.is_alive());
        }
        if table.len() >= MAX_TOKENS {
            return Err(ApiError::new(
                ErrorCode::Timeout,
                "too many agent tokens are live; stop some `agentkeys run` children first",
            ));
        }
        table.insert(
            sha256(token.as_bytes()),
            Entry {
                agent: agent.to_string(),
                owner,
            },
        );
        Ok(token)
    }

    /// The agent the token was issued for, while the process it is bound to lives.
    pub fn agent_of(&self, token: &str) -> Option<String> {
        let key = sha256(token.as_bytes());
        let mut table = self.by_hash.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = table.get(&key)?;
        if entry.owner.is_alive() {
            return Some(entry.agent.clone());
        }
        tracing::info!(
            agent = %entry.agent,
            pid = entry.owner.pid(),
            "agent token revoked: the process it was issued to has exited"
        );
        table.remove(&key);
        None
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
            .retain(|_, e| e.agent != agent);
    }

    /// Drops every token whose process has exited; returns how many.
    pub fn sweep(&self) -> usize {
        let mut table = self.by_hash.lock().unwrap_or_else(PoisonError::into_inner);
        let before = table.len();
        table.retain(|_, e| e.owner.is_alive());
        let dropped = before - table.len();
        if dropped > 0 {
            tracing::info!(
                dropped,
                "agent tokens revoked: the processes they were issued to have exited"
            );
        }
        dropped
    }

    #[cfg(test)]
    fn count(&self) -> usize {
        self.by_hash
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn me() -> ProcessId {
        ProcessId::of(std::process::id() as i32).unwrap()
    }

    #[test]
    fn tokens_name_their_agent_until_revoked() {
        let t = AgentTokens::default();
        let a = t.issue("coder", me()).unwrap();
        let b = t.issue("writer", me()).unwrap();
        assert_ne!(*a, *b);
        assert_eq!(t.agent_of(&a).as_deref(), Some("coder"));
        assert_eq!(t.agent_of("akt_00").as_deref(), None);
        assert!(t.revoke(&a));
        assert_eq!(t.agent_of(&a), None);
        t.revoke_agent("writer");
        assert_eq!(t.agent_of(&b), None);
        assert_eq!(t.count(), 0);
    }

    #[test]
    fn a_token_dies_with_the_process_it_was_issued_to() {
        let t = AgentTokens::default();
        let mut run = Command::new("sleep").arg("30").spawn().unwrap();
        let owner = ProcessId::of(run.id() as i32).unwrap();
        let looked_up = t.issue("coder", owner).unwrap();
        let swept = t.issue("coder", owner).unwrap();
        let other = t.issue("coder", me()).unwrap();
        assert_eq!(t.agent_of(&looked_up).as_deref(), Some("coder"));
        assert_eq!(t.sweep(), 0);

        run.kill().unwrap();
        run.wait().unwrap();
        assert_eq!(t.agent_of(&looked_up), None);
        assert_eq!(t.sweep(), 1);
        assert_eq!(t.agent_of(&swept), None);
        assert_eq!(t.agent_of(&other).as_deref(), Some("coder"));
        assert_eq!(t.count(), 1);
    }
}
