//! Approvals by other masters' passkeys, collected through the relay's approval mailbox: a
//! request signed with this device's K10 goes to each candidate; the companions receive it by
//! server-sent events, show it, and answer with an assertion over the same challenge.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use agentkeys_core::approval::{ApprovalParams, ApprovalRequest, ApprovalState};
use agentkeys_core::device_key::DeviceKey;
use agentkeys_core::error::{ApiError, ErrorCode};
use agentkeys_core::identity::{Address, Omni};
use agentkeys_core::passkey::{ChainAssertion, RP_ID_COMPANION};
use agentkeys_core::time_util::now_secs;

use crate::chain_ops::challenge::OpTag;
use crate::jobs::Progress;
use crate::relay_client::RelayClient;

/// As long as a ceremony page may wait.
const APPROVAL_TTL_SECS: u64 = 300;

/// What to ask for.
pub struct Ask<'a> {
    pub operator: Omni,
    pub tag: OpTag,
    pub operation: &'a str,
    pub challenge: [u8; 32],
    /// What the challenge binds, for the approver to recompute (`None` only for the bindings
    /// of a passkey, which the approver recomputes from the request itself).
    pub params: Option<ApprovalParams>,
}

/// One approval: who, its assertion, and its K10 consent if it approved its own registration.
pub struct Answer {
    pub approver: Address,
    pub assertion: ChainAssertion,
    pub consent: Option<String>,
}

/// Asks every candidate and returns the first `needed` approvals, in answer order.
pub async fn collect(
    relay: &RelayClient,
    key: &DeviceKey,
    progress: &Progress,
    ask: &Ask<'_>,
    candidates: &[Address],
    needed: usize,
) -> Result<Vec<(Address, ChainAssertion)>, ApiError> {
    let answers = collect_answers(relay, key, progress, ask, candidates, needed).await?;
    Ok(answers
        .into_iter()
        .map(|a| (a.approver, a.assertion))
        .collect())
}

/// [`collect`], with each approver's consent as answered.
pub async fn collect_answers(
    relay: &RelayClient,
    key: &DeviceKey,
    progress: &Progress,
    ask: &Ask<'_>,
    candidates: &[Address],
    needed: usize,
) -> Result<Vec<Answer>, ApiError> {
    if needed == 0 {
        return Ok(Vec::new());
    }
    if candidates.len() < needed {
        return Err(ApiError::new(
            ErrorCode::WouldStrand,
            format!(
                "{needed} more approval(s) are needed but only {} other RECOVERY master(s) exist",
                candidates.len()
            ),
        ));
    }
    let mut pending: HashMap<String, Address> = HashMap::new();
    for approver in candidates {
        let req = ApprovalRequest::new_signed_with(
            key,
            ask.operator,
            *approver,
            ask.tag.name(),
            ask.operation,
            ask.challenge,
            RP_ID_COMPANION,
            APPROVAL_TTL_SECS,
            now_secs(),
            ask.params.clone(),
        )
        .map_err(|code| ApiError::new(code, "the approval request cannot be built"))?;
        let created = relay.request_approval(key, &req).await?;
        pending.insert(created.request_id, *approver);
    }
    let names: Vec<String> = candidates.iter().map(|a| a.to_string()).collect();
    progress.notice(format!(
        "waiting for {needed} approval(s) from: {} (approve on that device)",
        names.join(", ")
    ));
    let deadline = Instant::now() + Duration::from_secs(APPROVAL_TTL_SECS + 5);
    let mut approved = Vec::new();
    let mut declined = Vec::new();
    while approved.len() < needed {
        if pending.len() + approved.len() < needed {
            return Err(ApiError::new(
                ErrorCode::CeremonyFailed,
                format!("not enough approvals: {}", declined.join("; ")),
            ));
        }
        if Instant::now() > deadline {
            return Err(ApiError::from_code(ErrorCode::CeremonyTimeout));
        }
        // One long poll when a single answer is awaited; short ones to watch several.
        let wait = if pending.len() == 1 { 25 } else { 1 };
        let ids: Vec<String> = pending.keys().cloned().collect();
        for id in ids {
            let status = relay.approval_status(key, &id, wait).await?;
            match status.state {
                ApprovalState::Pending => {}
                ApprovalState::Approved => {
                    let approver = pending.remove(&id).unwrap_or(status.approver);
                    let assertion = status.assertion.ok_or_else(|| {
                        ApiError::new(
                            ErrorCode::RelayProtocol,
                            "an approval came without its assertion",
                        )
                    })?;
                    approved.push(Answer {
                        approver,
                        assertion,
                        consent: status.consent,
                    });
                }
                ApprovalState::Declined => {
                    pending.remove(&id);
                    declined.push(format!(
                        "{} declined ({})",
                        status.approver,
                        status.reason.unwrap_or_default()
                    ));
                }
                ApprovalState::Expired => {
                    pending.remove(&id);
                    declined.push(format!("{} did not answer in time", status.approver));
                }
            }
            if approved.len() >= needed {
                break;
            }
        }
    }
    approved.truncate(needed);
    Ok(approved)
}
