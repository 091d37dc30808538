//! `agentkeys scope set|revoke|show`: an agent's on-chain service set. Changes are jobs: the
//! page shows the operation in words and the passkey signs the scope contract's challenge,
//! which binds the operator, the agent, the services and the scope nonce.

use std::sync::Arc;

use agentkeys_contracts::bindings::AgentKeysScope;
use agentkeys_core::approval::ApprovalParams;
use agentkeys_core::daemon_api::{AgentNameRequest, JobStarted, ScopeSetRequest, ScopeShow};
use agentkeys_core::error::{ApiError, ErrorCode};
use agentkeys_core::names::validate_object_name;
use alloy::primitives::B256;
use alloy::sol_types::SolCall;
use axum::extract::State;
use axum::Json;

use super::agents::{active, master, scope_names};
use super::{ApiJson, ApiResult};
use crate::ceremony::chain::to_scope;
use crate::chain_ops::challenge::{self, service_hash, Domain, OpTag};
use crate::chain_ops::operator;
use crate::jobs::Progress;
use crate::passkey;
use crate::quorum::Ask;
use crate::state::{AppState, SharedState};

/// At most this many services in one scope: each costs gas and a line on the page.
const MAX_SERVICES: usize = 32;

pub async fn set(
    State(state): State<SharedState>,
    ApiJson(req): ApiJson<ScopeSetRequest>,
) -> ApiResult<JobStarted> {
    let services = normalize(&req.services)?;
    // Checked before the job so a typo fails at once, not after a passkey prompt.
    active(&state, &req.agent).await?;
    passkey::require(&state)?;
    let s = state.clone();
    let job = state.jobs.spawn(move |progress| async move {
        change(s, progress, req.agent, Some(services)).await
    })?;
    Ok(Json(JobStarted { job }))
}

pub async fn revoke(
    State(state): State<SharedState>,
    ApiJson(req): ApiJson<AgentNameRequest>,
) -> ApiResult<JobStarted> {
    active(&state, &req.name).await?;
    passkey::require(&state)?;
    let s = state.clone();
    let job = state
        .jobs
        .spawn(move |progress| async move { change(s, progress, req.name, None).await })?;
    Ok(Json(JobStarted { job }))
}

pub async fn show(
    State(state): State<SharedState>,
    ApiJson(req): ApiJson<AgentNameRequest>,
) -> ApiResult<ScopeShow> {
    let a = active(&state, &req.name).await?;
    let (_, me) = master(&state).await?;
    let s = operator::scope(&state.relay, &me.operator, &a.actor).await?;
    Ok(Json(ScopeShow {
        agent: a.name,
        actor: a.actor,
        services: scope_names(&s.services, &a.scope),
        nonce: s.nonce,
        receipt: None,
    }))
}

/// Lowercase, valid, no duplicates, at most [`MAX_SERVICES`].
fn normalize(services: &[String]) -> Result<Vec<String>, ApiError> {
    let mut out: Vec<String> = Vec::new();
    for s in services {
        let s = s.trim().to_ascii_lowercase();
        validate_object_name(&s)?;
        if !out.contains(&s) {
            out.push(s);
        }
    }
    if out.is_empty() || out.len() > MAX_SERVICES {
        return Err(ApiError::new(
            ErrorCode::InvalidServiceName,
            format!("a scope names 1-{MAX_SERVICES} services; to empty it, use `scope revoke`"),
        ));
    }
    Ok(out)
}

/// Sets (`Some`) or revokes (`None`) the agent's scope.
async fn change(
    state: Arc<AppState>,
    progress: Progress,
    agent: String,
    services: Option<Vec<String>>,
) -> Result<ScopeShow, ApiError> {
    let (key, me) = master(&state).await?;
    let a = active(&state, &agent).await?;
    let chain = state.relay.chain_status().await?;
    let before = operator::scope(&state.relay, &me.operator, &a.actor).await?;
    let hashes: Vec<B256> = services.iter().flatten().map(|s| service_hash(s)).collect();
    let (tag, params, words) = match &services {
        Some(list) => (
            OpTag::SetScope,
            challenge::scope_params(&hashes),
            format!("Allow agent {agent} to read {}", list.join(", ")),
        ),
        None => (
            OpTag::RevokeScope,
            B256::ZERO,
            format!("Take every service away from agent {agent}"),
        ),
    };
    let c = challenge::scope(
        tag,
        &me.operator,
        &a.actor,
        params,
        Domain::scope(&chain),
        before.nonce,
    );
    let ask = Ask {
        operator: me.operator,
        tag,
        operation: &words,
        challenge: c,
        params: Some(match &services {
            Some(list) => ApprovalParams::SetScope {
                actor: a.actor,
                services: list.clone(),
            },
            None => ApprovalParams::RevokeScope { actor: a.actor },
        }),
    };
    let assertion = passkey::approve(&state, &progress, &key, &ask).await?;
    progress.step("changing the scope on chain");
    let approver = B256::from(key.address().device_key_hash());
    let input = match &services {
        Some(_) => AgentKeysScope::setScopeCall {
            operatorOmni: B256::from(me.operator.0),
            actorOmni: B256::from(a.actor.0),
            services: hashes,
            approverDeviceKeyHash: approver,
            assertion: to_scope(&assertion),
        }
        .abi_encode(),
        None => AgentKeysScope::revokeScopeCall {
            operatorOmni: B256::from(me.operator.0),
            actorOmni: B256::from(a.actor.0),
            approverDeviceKeyHash: approver,
            assertion: to_scope(&assertion),
        }
        .abi_encode(),
    };
    let receipt = state
        .relay
        .send_call(&key, &chain.contracts.scope, input)
        .await?;
    let names = services.unwrap_or_default();
    let (n, g, kept) = (a.name.clone(), a.generation, names.clone());
    state
        .agents
        .update(move |list| {
            for r in list.iter_mut().filter(|r| r.name == n && r.generation == g) {
                r.scope = kept.clone();
            }
            Ok(())
        })
        .await?;
    let after = operator::scope(&state.relay, &me.operator, &a.actor).await?;
    Ok(ScopeShow {
        agent: a.name,
        actor: a.actor,
        services: scope_names(&after.services, &names),
        nonce: after.nonce,
        receipt: Some(receipt),
    })
}
