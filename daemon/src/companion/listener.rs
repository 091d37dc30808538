//! The approval stream and the handling of each request.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use agentkeys_core::approval::{ApprovalAnswer, ApprovalRequest};
use agentkeys_core::chain::{roles, Tier};
use agentkeys_core::device_key::DeviceKey;
use agentkeys_core::error::{ApiError, ErrorCode};
use agentkeys_core::identity::Omni;
use futures::StreamExt;

use crate::ceremony::MAX_OPERATION_CHARS;
use crate::chain_ops::challenge::{self, OpTag};
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
    if let Err(e) = check(&state, &key, &req).await {
        tracing::warn!(request = %id, code = %e.code, "approval request refused");
        let reason: String = e.message.chars().take(200).collect();
        let _ = state
            .relay
            .answer_approval(&key, &id, &ApprovalAnswer::Declined { reason })
            .await;
        return;
    }
    let Some(challenge) = req.challenge_bytes() else {
        return;
    };
    let asked = format!("{} (asked by device {})", req.operation, req.requester);
    let words = if asked.chars().count() <= MAX_OPERATION_CHARS {
        asked
    } else {
        req.operation.clone()
    };
    let st = state.clone();
    let spawned = state.jobs.spawn(move |progress| async move {
        let own = passkey::own(&st)?;
        let answer = match passkey::approve_with(st.role, &own, &progress, &words, challenge).await
        {
            Ok(assertion) => ApprovalAnswer::Approved { assertion },
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

/// Why this device must not approve `req`, if it must not.
async fn check(
    state: &SharedState,
    key: &DeviceKey,
    req: &ApprovalRequest,
) -> Result<(), ApiError> {
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
    let requester = state.relay.chain_device(&req.requester).await?;
    if let Some(r) = &requester {
        // This device's passkey is the requester's K11 (a machine without a browser that
        // approves through this one): it is that device's authenticator.
        if r.tier == Tier::Master
            && !r.revoked
            && r.operator == req.operator
            && r.passkey == Some(mine.public_key)
        {
            return Ok(());
        }
    }
    // A machine without a browser registering, or attaching, this device's passkey as its
    // own K11: approved only when the challenge is exactly that registration's.
    if req.op_tag == OpTag::RegisterFirstMaster.name() || req.op_tag == OpTag::AttachPasskey.name()
    {
        let expected = binding(state, &mine, req, requester.as_ref()).await?;
        return if Some(expected) == req.challenge_bytes() {
            Ok(())
        } else {
            refuse("the challenge is not the binding of this passkey to the requesting device")
        };
    }
    match requester {
        Some(d) if d.tier == Tier::Master && !d.revoked && d.operator == req.operator => {}
        _ => return refuse("the requester is not an active master of that operator"),
    }
    match state.relay.chain_device(&key.address()).await? {
        Some(me) if me.revoked => refuse("this device has been revoked"),
        Some(me) if me.operator != req.operator => {
            refuse("the request comes from another operator than this device's")
        }
        Some(_) => Ok(()),
        // Not registered yet: only the proof of its own passkey for its own registration, and
        // only if the challenge is exactly that registration's (this device, every role, this
        // passkey, the operator's current nonce).
        None if req.op_tag == OpTag::RegisterAdditionalMaster.name() => {
            if Some(own_registration(state, key, req).await?) == req.challenge_bytes() {
                Ok(())
            } else {
                refuse("the challenge is not this device's own registration")
            }
        }
        None => refuse("this device is not registered; it can only approve its own addition"),
    }
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
            chain.chain_id,
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
        chain.chain_id,
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
        chain.chain_id,
        nonce,
    ))
}
