//! `agentkeys agent create|list|revoke` and the per-child tokens of `agentkeys run --agent`.

use std::sync::Arc;

use agentkeys_contracts::bindings::SidecarRegistry;
use agentkeys_core::chain::{roles, DeviceView, Tier};
use agentkeys_core::daemon_api::{
    AgentList, AgentNameRequest, AgentRevokeRequest, AgentRevoked, AgentToken, AgentTokenRevoke,
    AgentView, PurgedObject,
};
use agentkeys_core::device_key::DeviceKey;
use agentkeys_core::error::{ApiError, ErrorCode};
use agentkeys_core::identity::Omni;
use agentkeys_core::names::{validate_agent_label, DataClass, Op};
use agentkeys_core::time_util::now_secs;
use agentkeys_core::wire::{ListRequest, ListResponse, NameRequest, TeardownResponse};
use alloy::primitives::B256;
use alloy::sol_types::SolCall;
use axum::extract::State;
use axum::{Extension, Json};

use super::{ApiJson, ApiResult};
use crate::agents::process::ProcessId;
use crate::chain_ops::challenge::{agent_consent, evm, service_hash, Domain};
use crate::chain_ops::operator;
use crate::local::agents::AgentRecord;
use crate::socket::SocketPeer;
use crate::state::{AppState, SharedState};

/// This device as an active master: its key and on-chain entry.
pub(super) async fn master(state: &AppState) -> Result<(Arc<DeviceKey>, DeviceView), ApiError> {
    let key = state.identity.require().await?;
    let me = state
        .relay
        .chain_device(&key.address())
        .await?
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::DeviceNotRegistered,
                "this device is not registered on chain; run `agentkeys init`",
            )
        })?;
    if me.revoked {
        return Err(ErrorCode::DeviceRevoked.into());
    }
    if me.tier != Tier::Master {
        return Err(ApiError::new(
            ErrorCode::ActorNotPermitted,
            "only a master device manages agents",
        ));
    }
    Ok((key, me))
}

/// The active agent `name`, or why there is none.
pub(super) async fn active(state: &AppState, name: &str) -> Result<AgentRecord, ApiError> {
    if let Some(a) = state.agents.active(name).await? {
        return Ok(a);
    }
    let any = state.agents.all().await?.iter().any(|a| a.name == name);
    Err(if any {
        ApiError::new(
            ErrorCode::AgentRevoked,
            format!("agent {name} has been revoked"),
        )
    } else {
        ApiError::new(
            ErrorCode::AgentNotFound,
            format!("there is no agent named {name}"),
        )
    })
}

/// The device key of the active agent `name`.
pub(super) async fn agent_key(state: &AppState, name: &str) -> Result<Arc<DeviceKey>, ApiError> {
    let a = active(state, name).await?;
    state.agent_keys.load(&a.name, a.generation).await
}

pub async fn create(
    State(state): State<SharedState>,
    ApiJson(req): ApiJson<AgentNameRequest>,
) -> ApiResult<AgentView> {
    validate_agent_label(&req.name)?;
    let (key, me) = master(&state).await?;
    // The registry refuses the same (MissingRole), but only after a sponsored transaction.
    if me.roles & roles::SCOPE_MGMT == 0 {
        return Err(ApiError::new(
            if me.has_passkey {
                ErrorCode::DeviceLacksRole
            } else {
                ErrorCode::PasskeyRequired
            },
            "creating an agent needs a master with SCOPE_MGMT, which comes with a passkey; \
             run `agentkeys init` to enroll one",
        )
        .into());
    }
    let name = req.name;
    let record = match state.agents.active(&name).await? {
        Some(a) if a.registered => {
            return Err(ApiError::new(
                ErrorCode::AgentExists,
                format!("agent {name} already exists; revoke it first to replace it"),
            )
            .into())
        }
        // A creation that stopped before its block: finish it with the same key.
        Some(a) => a,
        None => {
            let generation = state
                .agents
                .all()
                .await?
                .iter()
                .filter(|a| a.name == name)
                .map(|a| a.generation)
                .max()
                .map_or(1, |g| g.saturating_add(1));
            let actor = Omni::agent(&me.operator, &name, generation)?;
            let agent_key = state.agent_keys.ensure(&name, generation).await?;
            let record = AgentRecord {
                name: name.clone(),
                generation,
                device: agent_key.address(),
                actor,
                created_at: now_secs(),
                registered: false,
                revoked: false,
                scope: vec![],
            };
            let r = record.clone();
            state
                .agents
                .update(move |list| {
                    list.push(r);
                    Ok(())
                })
                .await?;
            record
        }
    };
    let chain = state.relay.chain_status().await?;
    // The agent key consents to its actor under this operator; the registry derives the same
    // actor from (operator, label, generation) and checks the signature.
    let agent_key = state
        .agent_keys
        .load(&record.name, record.generation)
        .await?;
    let digest = agent_consent(
        &me.operator,
        &record.actor,
        &record.device,
        Domain::registry(&chain),
    );
    state
        .relay
        .send_call(
            &key,
            &chain.contracts.registry,
            SidecarRegistry::registerAgentDeviceCall {
                agent: evm(&record.device),
                label: record.name.clone(),
                generation: record.generation,
                agentSig: agent_key.sign_prehash(&digest).to_vec().into(),
            }
            .abi_encode(),
        )
        .await?;
    let (n, g) = (record.name.clone(), record.generation);
    state
        .agents
        .update(move |list| {
            for a in list.iter_mut().filter(|a| a.name == n && a.generation == g) {
                a.registered = true;
            }
            Ok(())
        })
        .await?;
    tracing::info!(agent = %record.name, generation = record.generation, "agent registered");
    let view = view(
        &state,
        &me.operator,
        AgentRecord {
            registered: true,
            ..record
        },
    )
    .await?;
    Ok(Json(view))
}

pub async fn list(State(state): State<SharedState>) -> ApiResult<AgentList> {
    let key = state.identity.require().await?;
    let operator = match state.relay.chain_device(&key.address()).await? {
        Some(d) => d.operator,
        None => Omni::operator(&key.address()),
    };
    let mut agents = Vec::new();
    for a in state.agents.all().await? {
        agents.push(view(&state, &operator, a).await?);
    }
    Ok(Json(AgentList { agents }))
}

pub async fn revoke(
    State(state): State<SharedState>,
    ApiJson(req): ApiJson<AgentRevokeRequest>,
) -> ApiResult<AgentRevoked> {
    let (key, me) = master(&state).await?;
    let record = active(&state, &req.name).await?;
    // Children running as the agent lose the daemon at once; the relay refuses its key too.
    state.agent_tokens.revoke_agent(&record.name);
    let chain = state.relay.chain_status().await?;
    let receipt = state
        .relay
        .send_call(
            &key,
            &chain.contracts.registry,
            SidecarRegistry::revokeAgentDeviceCall {
                deviceKeyHash: B256::from(record.device.device_key_hash()),
            }
            .abi_encode(),
        )
        .await?;
    let (n, g) = (record.name.clone(), record.generation);
    state
        .agents
        .update(move |list| {
            for a in list.iter_mut().filter(|a| a.name == n && a.generation == g) {
                a.revoked = true;
            }
            Ok(())
        })
        .await?;
    tracing::info!(agent = %record.name, "agent revoked");
    // After the revocation, so nothing the agent still holds (storage credentials) can write
    // while its objects are deleted.
    let purged = if req.purge {
        purge(&state, &key, &record).await?
    } else {
        Vec::new()
    };
    let agent = view(
        &state,
        &me.operator,
        AgentRecord {
            revoked: true,
            ..record
        },
    )
    .await?;
    Ok(Json(AgentRevoked {
        agent,
        receipt,
        purged,
    }))
}

/// Deletes every credential and memory object of the (revoked) agent with this master's key:
/// the relay lets a master holding SCOPE_MGMT list and delete the objects of its operator's
/// agent actors, and each deletion goes through the vault, which records it in the operator's
/// audit trail. A failure leaves the agent revoked and the rest of its objects in place.
async fn purge(
    state: &AppState,
    key: &DeviceKey,
    record: &AgentRecord,
) -> Result<Vec<PurgedObject>, ApiError> {
    let actor = Some(record.actor);
    let mut purged = Vec::new();
    for class in [DataClass::Credentials, DataClass::Memory] {
        let list: ListResponse = state
            .relay
            .vault_as(key, actor, class, Op::List, "", &ListRequest {})
            .await?;
        for name in list.names {
            let _: TeardownResponse = state
                .relay
                .vault_as(
                    key,
                    actor,
                    class,
                    Op::Teardown,
                    &name,
                    &NameRequest { name: name.clone() },
                )
                .await?;
            purged.push(PurgedObject { class, name });
        }
    }
    tracing::info!(agent = %record.name, objects = purged.len(), "agent purged");
    Ok(purged)
}

/// The token is bound to the process that asks (the `run` that starts the child), as the
/// kernel names it on this connection; a caller cannot choose another.
pub async fn token(
    State(state): State<SharedState>,
    peer: Option<Extension<SocketPeer>>,
    ApiJson(req): ApiJson<AgentNameRequest>,
) -> ApiResult<AgentToken> {
    let owner = peer
        .and_then(|Extension(p)| p.pid)
        .and_then(ProcessId::of)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::PeerNotAllowed,
                "cannot tell which process asks for the agent token (the socket peer's pid is \
                 unknown, e.g. from another pid namespace), so the token could not die with it",
            )
        })?;
    let record = active(&state, &req.name).await?;
    let token = state.agent_tokens.issue(&record.name, owner)?;
    Ok(Json(AgentToken {
        agent: record.name,
        token: token.to_string(),
    }))
}

pub async fn revoke_token(
    State(state): State<SharedState>,
    ApiJson(req): ApiJson<AgentTokenRevoke>,
) -> ApiResult<serde_json::Value> {
    let revoked = state.agent_tokens.revoke(&req.token);
    Ok(Json(serde_json::json!({ "revoked": revoked })))
}

/// The agent with its chain entry and scope (names where this device set them).
pub(super) async fn view(
    state: &AppState,
    operator: &Omni,
    a: AgentRecord,
) -> Result<AgentView, ApiError> {
    let on_chain = state.relay.chain_device(&a.device).await?;
    let scope = if a.revoked || on_chain.is_none() {
        vec![]
    } else {
        let s = operator::scope(&state.relay, operator, &a.actor).await?;
        scope_names(&s.services, &a.scope)
    };
    Ok(AgentView {
        name: a.name,
        generation: a.generation,
        device: a.device,
        actor: a.actor,
        created_at: a.created_at,
        revoked: a.revoked,
        on_chain,
        scope,
    })
}

/// The chain's service hashes as names, where one of `known` hashes to it.
pub(super) fn scope_names(hashes: &[String], known: &[String]) -> Vec<String> {
    hashes
        .iter()
        .map(|h| {
            known
                .iter()
                .find(|n| format!("{:#x}", service_hash(n)) == *h)
                .cloned()
                .unwrap_or_else(|| h.clone())
        })
        .collect()
}
