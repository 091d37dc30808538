//! Capabilities checked against the chain (ARCHITECTURE §5, §8): the device is registered for
//! the operator and not revoked, holds CAP_MINT, acts only as itself (a master for its
//! operator, an agent for its own actor), the service is in an agent's scope, and the key
//! epoch is the chain's current one. The one exception to "only as itself" is teardown: a
//! master holding SCOPE_MGMT may list and delete the objects of an agent actor its operator
//! registered, active or revoked (`agent revoke --purge`), since a revoked agent's own key can
//! no longer do it.
//!
//! The broker checks at minting and the vault again on every request, each with its own
//! [`Authority`]. Answers are cached for a short time; any event of our contracts clears the
//! cache at once, so a revocation takes effect as soon as its block is seen.

use super::views;
use super::{ChainAdapter, ChainError};
use agentkeys_core::chain::{roles, DeviceView, Tier};
use agentkeys_core::identity::{Address, Omni};
use agentkeys_core::names::{Op, LIST_ALL};
use agentkeys_core::{ApiError, ErrorCode};
use alloy::primitives::B256;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};
use tokio::sync::broadcast::error::RecvError;

/// How long an answer may be reused when no event arrives. Events clear it sooner.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(30);
/// Bound on cached entries; the cache is simply emptied when full.
const MAX_ENTRIES: usize = 10_000;

/// What a capability claims, to be checked against the chain.
#[derive(Debug, Clone, Copy)]
pub struct CapCheck<'a> {
    pub device: &'a Address,
    pub operator: &'a Omni,
    pub actor: &'a Omni,
    pub service: &'a str,
    pub op: Op,
}

/// What the chain must also say once the device's entry allows a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Nothing,
    /// The service is in the agent's scope.
    Scope,
    /// The actor is an agent actor the operator registered (a master's teardown).
    OwnAgentActor,
}

#[derive(Default)]
struct Cache {
    devices: HashMap<B256, (Instant, Option<DeviceView>)>,
    scopes: HashMap<(Omni, Omni, String), (Instant, bool)>,
    /// Agent actor → the operator that registered it (`None`: never registered).
    actors: HashMap<Omni, (Instant, Option<Omni>)>,
    epoch: Option<(Instant, u32)>,
}

pub struct Authority {
    chain: Arc<dyn ChainAdapter>,
    ttl: Duration,
    cache: Mutex<Cache>,
    /// Bumped on every clear; an answer read before a clear is not cached after it.
    generation: AtomicU64,
}

fn unavailable(e: ChainError) -> ApiError {
    tracing::warn!(error = %e, "chain read failed");
    ApiError::new(ErrorCode::ChainUnavailable, e.to_string())
}

impl Authority {
    /// An authority over `chain`, with a task that clears the cache on every contract event.
    pub fn new(chain: Arc<dyn ChainAdapter>, ttl: Duration) -> Arc<Authority> {
        let mut events = chain.subscribe();
        let authority = Arc::new(Authority {
            chain,
            ttl,
            cache: Mutex::new(Cache::default()),
            generation: AtomicU64::new(0),
        });
        let weak: Weak<Authority> = Arc::downgrade(&authority);
        tokio::spawn(async move {
            loop {
                let event = events.recv().await;
                let Some(a) = weak.upgrade() else { return };
                match event {
                    Ok(_) | Err(RecvError::Lagged(_)) => a.clear(),
                    Err(RecvError::Closed) => {
                        a.clear();
                        return;
                    }
                }
            }
        });
        authority
    }

    pub fn chain(&self) -> &Arc<dyn ChainAdapter> {
        &self.chain
    }

    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        *self.cache.lock().unwrap_or_else(PoisonError::into_inner) = Cache::default();
    }

    fn fresh(&self, at: Instant) -> bool {
        at.elapsed() < self.ttl
    }

    fn store(&self, generation: u64, f: impl FnOnce(&mut Cache)) {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if self.generation.load(Ordering::SeqCst) != generation {
            return;
        }
        if cache.devices.len() + cache.scopes.len() + cache.actors.len() >= MAX_ENTRIES {
            *cache = Cache::default();
        }
        f(&mut cache);
    }

    pub async fn device(&self, device: &Address) -> Result<Option<DeviceView>, ApiError> {
        let hash = B256::from(device.device_key_hash());
        {
            let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((at, d)) = cache.devices.get(&hash) {
                if self.fresh(*at) {
                    return Ok(d.clone());
                }
            }
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let d = views::device(self.chain.as_ref(), hash)
            .await
            .map_err(unavailable)?;
        self.store(generation, |c| {
            c.devices.insert(hash, (Instant::now(), d.clone()));
        });
        Ok(d)
    }

    pub async fn epoch(&self) -> Result<u32, ApiError> {
        {
            let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((at, e)) = cache.epoch {
                if self.fresh(at) {
                    return Ok(e);
                }
            }
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let e = views::epoch(self.chain.as_ref())
            .await
            .map_err(unavailable)?;
        self.store(generation, |c| c.epoch = Some((Instant::now(), e)));
        Ok(e)
    }

    async fn in_scope(
        &self,
        operator: &Omni,
        actor: &Omni,
        service: &str,
    ) -> Result<bool, ApiError> {
        let key = (*operator, *actor, service.to_ascii_lowercase());
        {
            let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((at, yes)) = cache.scopes.get(&key) {
                if self.fresh(*at) {
                    return Ok(*yes);
                }
            }
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let yes = views::in_scope(self.chain.as_ref(), operator, actor, service)
            .await
            .map_err(unavailable)?;
        self.store(generation, |c| {
            c.scopes.insert(key, (Instant::now(), yes));
        });
        Ok(yes)
    }

    /// The operator that registered `actor` as an agent (active or revoked); `None` for an
    /// actor never registered.
    pub async fn actor_operator(&self, actor: &Omni) -> Result<Option<Omni>, ApiError> {
        {
            let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((at, owner)) = cache.actors.get(actor) {
                if self.fresh(*at) {
                    return Ok(*owner);
                }
            }
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let owner = views::agent_actor_operator(self.chain.as_ref(), actor)
            .await
            .map_err(unavailable)?;
        self.store(generation, |c| {
            c.actors.insert(*actor, (Instant::now(), owner));
        });
        Ok(owner)
    }

    /// Checks everything but the epoch; the device's on-chain entry on success.
    pub async fn check(&self, c: CapCheck<'_>) -> Result<DeviceView, ApiError> {
        let d = self.device(c.device).await?;
        match decide(d.as_ref(), &c)? {
            Need::Nothing => {}
            Need::Scope => {
                if !self.in_scope(c.operator, c.actor, c.service).await? {
                    return Err(ErrorCode::ServiceNotInScope.into());
                }
            }
            Need::OwnAgentActor => {
                if self.actor_operator(c.actor).await? != Some(*c.operator) {
                    return Err(ErrorCode::ActorNotPermitted.into());
                }
            }
        }
        d.ok_or_else(|| ErrorCode::DeviceNotRegistered.into())
    }

    /// [`Authority::check`], then the capability's epoch against the chain's.
    pub async fn check_with_epoch(&self, c: CapCheck<'_>, epoch: u32) -> Result<(), ApiError> {
        self.check(c).await?;
        if epoch != self.epoch().await? {
            return Err(ErrorCode::CapEpochMismatch.into());
        }
        Ok(())
    }
}

/// The decision on the device's entry alone, and what the chain must also say.
pub fn decide(d: Option<&DeviceView>, c: &CapCheck<'_>) -> Result<Need, ApiError> {
    let d = d.ok_or(ErrorCode::DeviceNotRegistered)?;
    if d.operator != *c.operator {
        return Err(ApiError::new(
            ErrorCode::DeviceNotRegistered,
            "this device is registered for another operator",
        ));
    }
    if d.revoked {
        return Err(ErrorCode::DeviceRevoked.into());
    }
    if d.roles & roles::CAP_MINT == 0 {
        return Err(ErrorCode::DeviceLacksRole.into());
    }
    match d.tier {
        Tier::Master if d.operator == *c.actor => Ok(Need::Nothing),
        Tier::Master
            if matches!(c.op, Op::List | Op::Teardown) && d.roles & roles::SCOPE_MGMT != 0 =>
        {
            Ok(Need::OwnAgentActor)
        }
        Tier::Agent if d.actor == *c.actor && c.service == LIST_ALL => Ok(Need::Nothing),
        Tier::Agent if d.actor == *c.actor => Ok(Need::Scope),
        _ => Err(ErrorCode::ActorNotPermitted.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(tier: Tier, roles: u8, revoked: bool) -> DeviceView {
        DeviceView {
            device_key_hash: format!("0x{}", "11".repeat(32)),
            device: Address([1; 20]),
            tier,
            roles,
            operator: Omni([2; 32]),
            actor: if tier == Tier::Master {
                Omni([2; 32])
            } else {
                Omni([3; 32])
            },
            revoked,
            registered_at: 0,
            has_passkey: false,
            passkey: None,
            last_sign_count: 0,
        }
    }

    fn check<'a>(
        device: &'a Address,
        operator: &'a Omni,
        actor: &'a Omni,
        svc: &'a str,
    ) -> CapCheck<'a> {
        CapCheck {
            device,
            operator,
            actor,
            service: svc,
            op: if svc == LIST_ALL { Op::List } else { Op::Fetch },
        }
    }

    fn code(r: Result<Need, ApiError>) -> ErrorCode {
        r.expect_err("refused").code
    }

    #[test]
    fn every_refusal_has_its_code() {
        let dev = Address([1; 20]);
        let (op, agent, other) = (Omni([2; 32]), Omni([3; 32]), Omni([9; 32]));
        let master = view(Tier::Master, roles::CAP_MINT, false);
        let agent_dev = view(Tier::Agent, roles::CAP_MINT, false);

        assert_eq!(
            code(decide(None, &check(&dev, &op, &op, "x"))),
            ErrorCode::DeviceNotRegistered
        );
        assert_eq!(
            code(decide(Some(&master), &check(&dev, &other, &other, "x"))),
            ErrorCode::DeviceNotRegistered
        );
        assert_eq!(
            code(decide(
                Some(&view(Tier::Master, 7, true)),
                &check(&dev, &op, &op, "x")
            )),
            ErrorCode::DeviceRevoked
        );
        assert_eq!(
            code(decide(
                Some(&view(
                    Tier::Master,
                    roles::RECOVERY | roles::SCOPE_MGMT,
                    false
                )),
                &check(&dev, &op, &op, "x")
            )),
            ErrorCode::DeviceLacksRole
        );
        // A master acts for its operator only; an agent for its own actor only.
        assert_eq!(
            code(decide(Some(&master), &check(&dev, &op, &agent, "x"))),
            ErrorCode::ActorNotPermitted
        );
        assert_eq!(
            code(decide(Some(&agent_dev), &check(&dev, &op, &op, "x"))),
            ErrorCode::ActorNotPermitted
        );
    }

    #[test]
    fn an_agent_of_another_operator_is_refused_for_the_pair() {
        // A stranger's agent whose actor is the victim's (operator, actor) pair in every field
        // but the operator: the pair is checked, not the actor alone.
        let dev = Address([1; 20]);
        let (victim_op, victim_actor) = (Omni([2; 32]), Omni([3; 32]));
        let stranger_agent = DeviceView {
            operator: Omni([8; 32]),
            actor: victim_actor,
            ..view(Tier::Agent, roles::CAP_MINT, false)
        };
        for actor in [victim_actor, victim_op] {
            assert_eq!(
                code(decide(
                    Some(&stranger_agent),
                    &check(&dev, &victim_op, &actor, "x")
                )),
                ErrorCode::DeviceNotRegistered
            );
            assert_eq!(
                code(decide(
                    Some(&stranger_agent),
                    &check(&dev, &victim_op, &actor, LIST_ALL)
                )),
                ErrorCode::DeviceNotRegistered
            );
        }
        // Named with its own operator, it still acts only as its own actor.
        assert_eq!(
            decide(
                Some(&stranger_agent),
                &check(&dev, &Omni([8; 32]), &victim_actor, LIST_ALL)
            )
            .ok(),
            Some(Need::Nothing)
        );
        assert_eq!(
            code(decide(
                Some(&stranger_agent),
                &check(&dev, &Omni([8; 32]), &victim_op, "x")
            )),
            ErrorCode::ActorNotPermitted
        );
    }

    #[test]
    fn scope_is_needed_for_agents_only_and_not_for_listing() {
        let dev = Address([1; 20]);
        let (op, agent) = (Omni([2; 32]), Omni([3; 32]));
        let master = view(Tier::Master, roles::CAP_MINT, false);
        let agent_dev = view(Tier::Agent, roles::CAP_MINT, false);
        assert_eq!(
            decide(Some(&master), &check(&dev, &op, &op, "x")).ok(),
            Some(Need::Nothing)
        );
        assert_eq!(
            decide(Some(&agent_dev), &check(&dev, &op, &agent, "x")).ok(),
            Some(Need::Scope)
        );
        assert_eq!(
            decide(Some(&agent_dev), &check(&dev, &op, &agent, LIST_ALL)).ok(),
            Some(Need::Nothing)
        );
    }

    #[test]
    fn a_master_tears_down_its_own_agents_only() {
        let dev = Address([1; 20]);
        let (op, agent) = (Omni([2; 32]), Omni([3; 32]));
        let full = view(Tier::Master, roles::ALL, false);
        let teardown = |op_kind: Op| CapCheck {
            op: op_kind,
            ..check(&dev, &op, &agent, "x")
        };
        // Listing and deleting an agent's objects: only once the chain says the actor is the
        // operator's agent.
        for kind in [Op::List, Op::Teardown] {
            assert_eq!(
                decide(Some(&full), &teardown(kind)).ok(),
                Some(Need::OwnAgentActor)
            );
        }
        // Never reading or writing them, and never without SCOPE_MGMT.
        for kind in [Op::Fetch, Op::Store] {
            assert_eq!(
                code(decide(Some(&full), &teardown(kind))),
                ErrorCode::ActorNotPermitted
            );
        }
        let cap_mint_only = view(Tier::Master, roles::CAP_MINT, false);
        assert_eq!(
            code(decide(Some(&cap_mint_only), &teardown(Op::Teardown))),
            ErrorCode::ActorNotPermitted
        );
        // An agent never tears down another actor.
        let agent_dev = view(Tier::Agent, roles::CAP_MINT, false);
        let other = Omni([4; 32]);
        assert_eq!(
            code(decide(
                Some(&agent_dev),
                &CapCheck {
                    op: Op::Teardown,
                    ..check(&dev, &op, &other, "x")
                }
            )),
            ErrorCode::ActorNotPermitted
        );
    }
}
