//! The approval stream and the handling of each request.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use agentkeys_core::approval::{ApprovalAnswer, ApprovalParams, ApprovalRequest};
use agentkeys_core::chain::{roles, DeviceView, Tier};
use agentkeys_core::device_key::DeviceKey;
use agentkeys_core::error::{ApiError, ErrorCode};
use agentkeys_core::identity::Omni;
use agentkeys_core::passkey::rp_id_hash;
use alloy::primitives::B256;
use futures::StreamExt;

use crate::ceremony::MAX_OPERATION_CHARS;
use crate::chain_ops::challenge::{self, Domain, OpTag};
use crate::chain_ops::operator;
use crate::passkey;
use crate::state::SharedState;

/// Between reconnections of the stream, and while there is no key or passkey yet.
const RETRY: Duration = Duration::from_secs(2);
/// Request ids remembered so a reconnection does not show a request twice.
const MAX_SEEN: usize = 4096;

/// Runs until the process ends.
pub async fn listen(state: SharedState) {
    let mut seen: HashSet<String> = HashSet::new();
    loop {
        let key = match state.identity.key().await {
            Ok(Some(k)) => k,
            _ => {
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        if !matches!(crate::local::passkey::load(&state.data_dir), Ok(Some(_))) {
            tokio::time::sleep(RETRY).await;
            continue;
        }
        match state.relay.approval_stream(&key).await {
            Ok(stream) => {
                tracing::info!("listening for approval requests");
                let mut stream = std::pin::pin!(stream);
                while let Some(item) = stream.next().await {
                    match item {
                        Ok(req) => {
                            if seen.len() >= MAX_SEEN {
                                seen.clear();
                            }
                            if seen.insert(req.request_id.clone()) {
                                tokio::spawn(handle(state.clone(), key.clone(), req));
                            }
                        }
                        Err(e) => {
                            tracing::info!(code = %e.code, "approval stream ended");
                            break;
                        }
                    }
                }
            }
            Err(e) => tracing::debug!(code = %e.code, "approval stream unavailable"),
        }
        tokio::time::sleep(RETRY).await;
    }
}

async fn handle(state: SharedState, key: Arc<DeviceKey>, req: ApprovalRequest) {
    let id = req.request_id.clone();
    let (checked, joining) = match check(&state, &key, &req).await {
        Ok(checked) => checked,
        Err(e) => {
            tracing::warn!(request = %id, code = %e.code, "approval request refused");
            let reason: String = e.message.chars().take(200).collect();
            let _ = state
                .relay
                .answer_approval(&key, &id, &ApprovalAnswer::Declined { reason })
                .await;
            return;
        }
    };
    let Some(challenge) = req.challenge_bytes() else {
        return;
    };
    // The requester's words, then what this device recomputed itself; the verified part alone
    // when both do not fit.
    let asked = format!(
        "{} (asked by device {}; checked: {checked})",
        req.operation, req.requester
    );
    let words = if asked.chars().count() <= MAX_OPERATION_CHARS {
        asked
    } else {
        format!("{checked} (asked by device {})", req.requester)
    };
    let st = state.clone();
    let spawned = state.jobs.spawn(move |progress| async move {
        let own = passkey::own(&st)?;
        let answer = match passkey::approve_with(st.role, &own, &progress, &words, challenge).await
        {
            Ok(assertion) => {
                let consent = match joining {
                    Some(op) => Some(consent_to_join(&st, &key, &op).await?),
                    None => None,
                };
                ApprovalAnswer::Approved { assertion, consent }
            }
            Err(e) => ApprovalAnswer::Declined {
                reason: e.message.chars().take(200).collect(),
            },
        };
        st.relay.answer_approval(&key, &id, &answer).await
    });
    if let Err(e) = spawned {
        tracing::warn!(code = %e.code, "cannot start the approval");
    }
}

/// This device's K10 consent to joining `op` as a master with every role (the registry checks
/// it), remembered so that `init` later adopts that operator's chain entry.
async fn consent_to_join(
    state: &SharedState,
    key: &DeviceKey,
    op: &Omni,
) -> Result<String, ApiError> {
    let chain = state.relay.chain_status().await?;
    let digest =
        challenge::master_consent(op, &key.address(), roles::ALL, Domain::registry(&chain));
    crate::local::joined::add(&state.data_dir, op)?;
    Ok(format!("0x{}", hex::encode(key.sign_prehash(&digest))))
}

/// Why this device must not approve `req`, if it must not; else what it verified, in words,
/// and the operator it joins when it approves its own addition.
async fn check(
    state: &SharedState,
    key: &DeviceKey,
    req: &ApprovalRequest,
) -> Result<(String, Option<Omni>), ApiError> {
    let refuse = |why: &str| {
        Err(ApiError::new(
            ErrorCode::ApproverNotPermitted,
            why.to_string(),
        ))
    };
    if req.rp_id != state.role.rp_id() {
        return refuse("the request is for another RP ID than this device's passkey");
    }
    let mine = passkey::own(state)?;
    // A machine without a browser registering, or attaching, this device's passkey as its
    // own K11: approved only when the challenge is exactly that binding.
    if req.op_tag == OpTag::RegisterFirstMaster.name() || req.op_tag == OpTag::AttachPasskey.name()
    {
        let requester = state.relay.chain_device(&req.requester).await?;
        let expected = binding(state, &mine, req, requester.as_ref()).await?;
        return if Some(expected) == req.challenge_bytes() {
            Ok((
                format!("make this passkey the K11 of device {}", req.requester),
                None,
            ))
        } else {
            refuse("the challenge is not the binding of this passkey to the requesting device")
        };
    }
    let requester = state.relay.chain_device(&req.requester).await?;
    let active_master =
        |d: &DeviceView| d.tier == Tier::Master && !d.revoked && d.operator == req.operator;
    let Some(requester) = requester.filter(active_master) else {
        return refuse("the requester is not an active master of that operator");
    };
    // This device's passkey is the requester's K11 (a machine without a browser that approves
    // through this one), or this device is a master of the same operator, or it is about to
    // become one and proves its own passkey for that.
    let authenticator = requester.passkey == Some(mine.public_key);
    if !authenticator {
        match state.relay.chain_device(&key.address()).await? {
            Some(me) if me.revoked => return refuse("this device has been revoked"),
            Some(me) if me.operator != req.operator => {
                return refuse("the request comes from another operator than this device's")
            }
            Some(_) => {}
            None if req.op_tag == OpTag::RegisterAdditionalMaster.name() => {
                return if Some(own_registration(state, key, req).await?) == req.challenge_bytes() {
                    Ok((
                        format!(
                            "add this device ({}) as a master of operator {}",
                            key.address(),
                            req.operator
                        ),
                        Some(req.operator),
                    ))
                } else {
                    refuse("the challenge is not this device's own registration")
                };
            }
            None => {
                return refuse(
                    "this device is not registered; it can only approve its own addition",
                )
            }
        }
    }
    let Some(params) = &req.params else {
        return refuse("the request does not say what it binds, so it cannot be checked");
    };
    let (expected, summary) = recompute(state, &req.operator, params).await?;
    if Some(expected) == req.challenge_bytes() {
        Ok((summary, None))
    } else {
        refuse("the challenge does not match the operation's parameters on the chain")
    }
}

/// The contract's challenge for `params` at the chain's current nonce, and a summary of it.
async fn recompute(
    state: &SharedState,
    op: &Omni,
    params: &ApprovalParams,
) -> Result<([u8; 32], String), ApiError> {
    let chain = state.relay.chain_status().await?;
    let (registry, scope) = (Domain::registry(&chain), Domain::scope(&chain));
    let operator_nonce =
        || async { Ok::<_, ApiError>(operator::operator(&state.relay, op).await?.nonce) };
    Ok(match params {
        ApprovalParams::SetScope { actor, services } => {
            let nonce = operator::scope(&state.relay, op, actor).await?.nonce;
            let hashes: Vec<_> = services
                .iter()
                .map(|s| challenge::service_hash(s))
                .collect();
            (
                challenge::scope(
                    OpTag::SetScope,
                    op,
                    actor,
                    challenge::scope_params(&hashes),
                    scope,
                    nonce,
                ),
                format!(
                    "agent {} may read {}",
                    short(&actor.to_hex()),
                    services.join(", ")
                ),
            )
        }
        ApprovalParams::RevokeScope { actor } => {
            let nonce = operator::scope(&state.relay, op, actor).await?.nonce;
            (
                challenge::scope(OpTag::RevokeScope, op, actor, B256::ZERO, scope, nonce),
                format!("agent {} may read nothing", short(&actor.to_hex())),
            )
        }
        ApprovalParams::RevokeMaster { device } => (
            challenge::registry(
                OpTag::RevokeMaster,
                op,
                challenge::revoke_master_params(device),
                registry,
                operator_nonce().await?,
            ),
            format!("revoke master {device}"),
        ),
        ApprovalParams::SetRecoveryThreshold { threshold } => (
            challenge::registry(
                OpTag::SetRecoveryThreshold,
                op,
                challenge::threshold_params(*threshold),
                registry,
                operator_nonce().await?,
            ),
            format!("{threshold} approvals for master changes"),
        ),
        ApprovalParams::RegisterAdditionalMaster {
            device,
            roles: r,
            passkey: pk,
            rp_id,
        } => (
            challenge::registry(
                OpTag::RegisterAdditionalMaster,
                op,
                challenge::master_params(device, *r, pk, &rp_id_hash(rp_id)),
                registry,
                operator_nonce().await?,
            ),
            format!(
                "add master {device} ({rp_id}) with {}",
                roles::names(*r).join(", ")
            ),
        ),
    })
}

/// `0x1234…abcd` for an omni shown in a sentence.
fn short(hex: &str) -> String {
    format!(
        "0x{}…{}",
        &hex[..8.min(hex.len())],
        &hex[hex.len().saturating_sub(4)..]
    )
}

/// The challenge that makes this passkey the requester's K11: its first registration (the
/// requester's own operator, nonce 0) or the attachment to a passkey-less master.
async fn binding(
    state: &SharedState,
    mine: &agentkeys_core::passkey::EnrolledPasskey,
    req: &ApprovalRequest,
    requester: Option<&agentkeys_core::chain::DeviceView>,
) -> Result<[u8; 32], ApiError> {
    let chain = state.relay.chain_status().await?;
    let nonce = operator::operator(&state.relay, &req.operator).await?.nonce;
    let who = &req.requester;
    if req.op_tag == OpTag::RegisterFirstMaster.name() {
        if requester.is_some() || req.operator != Omni::operator(who) {
            return Err(ApiError::new(
                ErrorCode::ApproverNotPermitted,
                "the requester is registered already, or names another operator",
            ));
        }
        let params = challenge::master_params(who, roles::ALL, &mine.public_key, &mine.rp_id_hash);
        return Ok(challenge::registry(
            OpTag::RegisterFirstMaster,
            &req.operator,
            params,
            Domain::registry(&chain),
            nonce,
        ));
    }
    match requester {
        Some(d)
            if d.tier == Tier::Master
                && !d.revoked
                && !d.has_passkey
                && d.operator == req.operator => {}
        _ => {
            return Err(ApiError::new(
                ErrorCode::ApproverNotPermitted,
                "only an active master without a passkey can attach one",
            ))
        }
    }
    let params = challenge::attach_params(who, &mine.public_key, &mine.rp_id_hash);
    Ok(challenge::registry(
        OpTag::AttachPasskey,
        &req.operator,
        params,
        Domain::registry(&chain),
        nonce,
    ))
}

async fn own_registration(
    state: &SharedState,
    key: &DeviceKey,
    req: &ApprovalRequest,
) -> Result<[u8; 32], ApiError> {
    let pk = passkey::own(state)?;
    let chain = state.relay.chain_status().await?;
    let nonce = operator::operator(&state.relay, &req.operator).await?.nonce;
    let params =
        challenge::master_params(&key.address(), roles::ALL, &pk.public_key, &pk.rp_id_hash);
    Ok(challenge::registry(
        OpTag::RegisterAdditionalMaster,
        &req.operator,
        params,
        Domain::registry(&chain),
        nonce,
    ))
}
