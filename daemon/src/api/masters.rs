//! Master devices and recovery (jobs): `device add` registers a companion as an additional
//! master, `recover threshold` changes how many RECOVERY masters must approve, and `recover
//! revoke-device` revokes a master. Each is approved by this device's passkey plus, where the
//! threshold asks for more, other RECOVERY masters' passkeys through the relay; an addition is
//! also proven by the new device's own passkey. A change that would strand the operator is
//! refused, with the reason, before any page is shown or anything is submitted.

use std::sync::Arc;

use agentkeys_contracts::bindings::SidecarRegistry;
use agentkeys_core::approval::ApprovalParams;
use agentkeys_core::chain::{roles, DeviceView, OperatorView, Tier};
use agentkeys_core::daemon_api::{
    DeviceAddRequest, JobStarted, MasterChange, RevokeDeviceRequest, ThresholdRequest,
};
use agentkeys_core::device_key::{
    parse_signature_hex, recover_prehash, DeviceKey, RecoverableSignature,
};
use agentkeys_core::error::{ApiError, ErrorCode};
use agentkeys_core::identity::Address;
use agentkeys_core::passkey::{rp_id_hash, ChainAssertion};
use alloy::primitives::{B256, U256};
use alloy::sol_types::SolCall;
use axum::extract::State;
use axum::Json;

use super::agents::master;
use super::{ApiJson, ApiResult};
use crate::ceremony::chain::to_registry;
use crate::chain_ops::challenge::{self, evm, Domain, OpTag};
use crate::chain_ops::operator;
use crate::jobs::Progress;
use crate::passkey;
use crate::quorum::{self, Ask};
use crate::state::{AppState, SharedState};

pub async fn list(State(state): State<SharedState>) -> ApiResult<OperatorView> {
    let (_, me) = master(&state).await?;
    Ok(Json(operator::operator(&state.relay, &me.operator).await?))
}

pub async fn add(
    State(state): State<SharedState>,
    ApiJson(req): ApiJson<DeviceAddRequest>,
) -> ApiResult<JobStarted> {
    passkey::require(&state)?;
    if req.companion.passkey.is_none() {
        return Err(ErrorCode::CompanionNotReady.into());
    }
    let s = state.clone();
    let job = state
        .jobs
        .spawn(move |progress| async move { add_job(s, progress, req).await })?;
    Ok(Json(JobStarted { job }))
}

pub async fn threshold(
    State(state): State<SharedState>,
    ApiJson(req): ApiJson<ThresholdRequest>,
) -> ApiResult<JobStarted> {
    passkey::require(&state)?;
    let s = state.clone();
    let job = state
        .jobs
        .spawn(move |progress| async move { threshold_job(s, progress, req.threshold).await })?;
    Ok(Json(JobStarted { job }))
}

pub async fn revoke(
    State(state): State<SharedState>,
    ApiJson(req): ApiJson<RevokeDeviceRequest>,
) -> ApiResult<JobStarted> {
    passkey::require(&state)?;
    // The stranding check runs here too, so the refusal comes before a job even starts.
    let (_, me) = master(&state).await?;
    let view = operator::operator(&state.relay, &me.operator).await?;
    target(&view, &req.device)?;
    let s = state.clone();
    let job = state
        .jobs
        .spawn(move |progress| async move { revoke_job(s, progress, req.device).await })?;
    Ok(Json(JobStarted { job }))
}

/// max(1, stored threshold): what the contract requires.
fn quorum_of(view: &OperatorView) -> usize {
    view.recovery_threshold.max(1) as usize
}

/// Active RECOVERY masters of the operator other than `except`.
fn recovery_masters(view: &OperatorView, except: &[Address]) -> Vec<Address> {
    view.devices
        .iter()
        .filter(|d| d.tier == Tier::Master && !d.revoked && d.roles & roles::RECOVERY != 0)
        .map(|d| d.device)
        .filter(|a| !except.contains(a))
        .collect()
}

/// The master to revoke, unless revoking it would strand the operator.
fn target<'a>(view: &'a OperatorView, device: &Address) -> Result<&'a DeviceView, ApiError> {
    let t = view
        .devices
        .iter()
        .find(|d| d.device == *device && d.tier == Tier::Master && !d.revoked)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::DeviceNotRegistered,
                format!(
                    "{device} is not an active master of this operator (`agentkeys device list`)"
                ),
            )
        })?;
    let remaining = (view.active_recovery_masters as usize)
        .saturating_sub(usize::from(t.roles & roles::RECOVERY != 0));
    let needed = quorum_of(view);
    if remaining < needed {
        return Err(ApiError::new(
            ErrorCode::WouldStrand,
            format!(
                "revoking {device} would leave {remaining} RECOVERY master(s) while {needed} must \
                 approve every change of masters: the operator could never recover. Lower the \
                 threshold first (`agentkeys recover threshold {}`) or add a device (`agentkeys \
                 device add`); nothing was submitted",
                remaining.max(1)
            ),
        ));
    }
    Ok(t)
}

/// This device's assertion, then the others' through the relay: (approvers, assertions).
async fn approvals(
    state: &AppState,
    progress: &Progress,
    key: &DeviceKey,
    view: &OperatorView,
    ask: Ask<'_>,
    except: &[Address],
) -> Result<(Vec<Address>, Vec<ChainAssertion>), ApiError> {
    let mine = passkey::approve(state, progress, key, &ask).await?;
    let me = key.address();
    let mut skip = except.to_vec();
    skip.push(me);
    let others = recovery_masters(view, &skip);
    let needed = quorum_of(view).saturating_sub(1);
    let theirs = quorum::collect(&state.relay, key, progress, &ask, &others, needed).await?;
    let mut approvers = vec![me];
    let mut assertions = vec![mine];
    for (a, s) in theirs {
        approvers.push(a);
        assertions.push(s);
    }
    Ok((approvers, assertions))
}

/// The new device's K10 consent from its answer, checked here so that a device that did not
/// consent (or an older daemon that does not) fails with a code rather than a revert.
fn master_consent(
    answer: &quorum::Answer,
    operator: &agentkeys_core::identity::Omni,
    device: &Address,
    domain: Domain,
) -> Result<RecoverableSignature, ApiError> {
    let refused = || {
        ApiError::new(
            ErrorCode::DeviceConsentMissing,
            format!("device {device} did not consent with its own key to joining this operator"),
        )
    };
    let sig = answer
        .consent
        .as_deref()
        .and_then(parse_signature_hex)
        .ok_or_else(refused)?;
    let digest = challenge::master_consent(operator, device, roles::ALL, domain);
    if recover_prehash(&digest, &sig) != Some(*device) || !matches!(sig[64], 27 | 28) {
        return Err(refused());
    }
    Ok(sig)
}

fn hashes(devices: &[Address]) -> Vec<B256> {
    devices
        .iter()
        .map(|d| B256::from(d.device_key_hash()))
        .collect()
}

async fn finish(
    state: &AppState,
    key: &DeviceKey,
    device: Address,
    approvers: Vec<Address>,
    input: Vec<u8>,
    operator: &agentkeys_core::identity::Omni,
) -> Result<MasterChange, ApiError> {
    let chain = state.relay.chain_status().await?;
    let receipt = state
        .relay
        .send_call(key, &chain.contracts.registry, input)
        .await?;
    let after = operator::operator(&state.relay, operator).await?;
    Ok(MasterChange {
        device,
        approvers,
        receipt,
        recovery_threshold: after.recovery_threshold,
        active_recovery_masters: after.active_recovery_masters,
    })
}

async fn add_job(
    state: Arc<AppState>,
    progress: Progress,
    req: DeviceAddRequest,
) -> Result<MasterChange, ApiError> {
    let (key, me) = master(&state).await?;
    let new = req.companion;
    let pk = new.passkey.ok_or(ErrorCode::CompanionNotReady)?;
    if state.relay.chain_device(&new.device).await?.is_some() {
        return Err(ErrorCode::DeviceAlreadyRegistered.into());
    }
    let rp_hash = rp_id_hash(&new.rp_id);
    let view = operator::operator(&state.relay, &me.operator).await?;
    let chain = state.relay.chain_status().await?;
    let params = challenge::master_params(&new.device, roles::ALL, &pk, &rp_hash);
    let c = challenge::registry(
        OpTag::RegisterAdditionalMaster,
        &me.operator,
        params,
        Domain::registry(&chain),
        view.nonce,
    );
    let words = format!(
        "Add device {} ({}) as a master of your operator, with every role",
        new.device, new.rp_id
    );
    let ask = |operation| Ask {
        operator: me.operator,
        tag: OpTag::RegisterAdditionalMaster,
        operation,
        challenge: c,
        params: Some(ApprovalParams::RegisterAdditionalMaster {
            device: new.device,
            roles: roles::ALL,
            passkey: pk,
            rp_id: new.rp_id.clone(),
        }),
    };
    let (approvers, assertions) =
        approvals(&state, &progress, &key, &view, ask(&words), &[new.device]).await?;
    // The new device proves its own passkey over the same challenge, and consents with its
    // K10 key to joining this operator.
    let proof_words = format!(
        "Prove this companion's passkey to be added as a master of operator {}",
        me.operator
    );
    let proof = quorum::collect_answers(
        &state.relay,
        &key,
        &progress,
        &ask(&proof_words),
        &[new.device],
        1,
    )
    .await?
    .pop()
    .ok_or_else(|| ApiError::from_code(ErrorCode::CeremonyFailed))?;
    let consent = master_consent(&proof, &me.operator, &new.device, Domain::registry(&chain))?;
    progress.step("registering the new master on chain");
    let call = SidecarRegistry::registerAdditionalMasterDeviceCall {
        m: SidecarRegistry::NewMaster {
            device: evm(&new.device),
            roles: roles::ALL,
            k11X: U256::from_be_bytes(pk.x),
            k11Y: U256::from_be_bytes(pk.y),
            rpIdHash: B256::from(rp_hash),
        },
        approverDeviceKeyHashes: hashes(&approvers),
        assertions: assertions.iter().map(to_registry).collect(),
        newDeviceAssertion: to_registry(&proof.assertion),
        deviceSig: consent.to_vec().into(),
    };
    finish(
        &state,
        &key,
        new.device,
        approvers,
        call.abi_encode(),
        &me.operator,
    )
    .await
}

async fn threshold_job(
    state: Arc<AppState>,
    progress: Progress,
    threshold: u32,
) -> Result<MasterChange, ApiError> {
    let (key, me) = master(&state).await?;
    let view = operator::operator(&state.relay, &me.operator).await?;
    if threshold == 0 || threshold > view.active_recovery_masters {
        return Err(ApiError::new(
            ErrorCode::ThresholdInvalid,
            format!(
                "the threshold must be between 1 and {} (the active RECOVERY masters)",
                view.active_recovery_masters
            ),
        ));
    }
    let chain = state.relay.chain_status().await?;
    let c = challenge::registry(
        OpTag::SetRecoveryThreshold,
        &me.operator,
        challenge::threshold_params(threshold),
        Domain::registry(&chain),
        view.nonce,
    );
    let words = format!(
        "Require {threshold} of your {} recovery devices to approve adding or revoking a master",
        view.active_recovery_masters
    );
    let ask = Ask {
        operator: me.operator,
        tag: OpTag::SetRecoveryThreshold,
        operation: &words,
        challenge: c,
        params: Some(ApprovalParams::SetRecoveryThreshold { threshold }),
    };
    let (approvers, assertions) = approvals(&state, &progress, &key, &view, ask, &[]).await?;
    progress.step("changing the threshold on chain");
    let call = SidecarRegistry::setRecoveryThresholdCall {
        newThreshold: U256::from(threshold),
        approverDeviceKeyHashes: hashes(&approvers),
        assertions: assertions.iter().map(to_registry).collect(),
    };
    finish(
        &state,
        &key,
        key.address(),
        approvers,
        call.abi_encode(),
        &me.operator,
    )
    .await
}

async fn revoke_job(
    state: Arc<AppState>,
    progress: Progress,
    device: Address,
) -> Result<MasterChange, ApiError> {
    let (key, me) = master(&state).await?;
    let view = operator::operator(&state.relay, &me.operator).await?;
    target(&view, &device)?;
    let chain = state.relay.chain_status().await?;
    let c = challenge::registry(
        OpTag::RevokeMaster,
        &me.operator,
        challenge::revoke_master_params(&device),
        Domain::registry(&chain),
        view.nonce,
    );
    let words = format!("Revoke master device {device}: it loses every right at once");
    let ask = Ask {
        operator: me.operator,
        tag: OpTag::RevokeMaster,
        operation: &words,
        challenge: c,
        params: Some(ApprovalParams::RevokeMaster { device }),
    };
    // The device being revoked is not asked to approve its own removal.
    let (approvers, assertions) = approvals(&state, &progress, &key, &view, ask, &[device]).await?;
    progress.step("revoking the master on chain");
    let call = SidecarRegistry::revokeMasterDeviceCall {
        targetDeviceKeyHash: B256::from(device.device_key_hash()),
        approverDeviceKeyHashes: hashes(&approvers),
        assertions: assertions.iter().map(to_registry).collect(),
    };
    finish(
        &state,
        &key,
        device,
        approvers,
        call.abi_encode(),
        &me.operator,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentkeys_core::identity::Omni;

    fn master_view(n: u8, recovery: bool, revoked: bool) -> DeviceView {
        DeviceView {
            device_key_hash: String::new(),
            device: Address([n; 20]),
            tier: Tier::Master,
            roles: if recovery {
                roles::ALL
            } else {
                roles::CAP_MINT
            },
            operator: Omni([1; 32]),
            actor: Omni([1; 32]),
            revoked,
            registered_at: 1,
            has_passkey: recovery,
            passkey: None,
            last_sign_count: 0,
        }
    }

    fn view(threshold: u32, devices: Vec<DeviceView>) -> OperatorView {
        let active = devices
            .iter()
            .filter(|d| !d.revoked && d.roles & roles::RECOVERY != 0)
            .count() as u32;
        OperatorView {
            operator: Omni([1; 32]),
            nonce: 0,
            recovery_threshold: threshold,
            active_recovery_masters: active,
            devices,
        }
    }

    #[test]
    fn stranding_is_refused_before_anything_happens() {
        let two = view(
            2,
            vec![master_view(1, true, false), master_view(2, true, false)],
        );
        let e = target(&two, &Address([2; 20])).unwrap_err();
        assert_eq!(e.code, ErrorCode::WouldStrand);
        assert!(
            e.message.contains("leave 1 RECOVERY master(s) while 2"),
            "{}",
            e.message
        );
        let three = view(
            2,
            vec![
                master_view(1, true, false),
                master_view(2, true, false),
                master_view(3, true, false),
            ],
        );
        assert!(target(&three, &Address([3; 20])).is_ok());
        // A master without RECOVERY can always go; a revoked or unknown one is not a target.
        let mixed = view(
            1,
            vec![master_view(1, true, false), master_view(4, false, false)],
        );
        assert!(target(&mixed, &Address([4; 20])).is_ok());
        let e = target(&mixed, &Address([1; 20])).unwrap_err();
        assert_eq!(e.code, ErrorCode::WouldStrand);
        let gone = view(
            1,
            vec![master_view(1, true, false), master_view(5, true, true)],
        );
        assert_eq!(
            target(&gone, &Address([5; 20])).unwrap_err().code,
            ErrorCode::DeviceNotRegistered
        );
    }

    #[test]
    fn approvers_exclude_the_target_and_non_recovery_masters() {
        let v = view(
            2,
            vec![
                master_view(1, true, false),
                master_view(2, true, false),
                master_view(3, true, false),
                master_view(4, false, false),
                master_view(5, true, true),
            ],
        );
        assert_eq!(
            recovery_masters(&v, &[Address([1; 20]), Address([3; 20])]),
            vec![Address([2; 20])]
        );
        assert_eq!(quorum_of(&view(0, vec![])), 1);
    }

    #[test]
    fn a_new_master_must_consent_with_its_own_key_to_this_operator() {
        use agentkeys_core::device_key::DeviceKey;
        let domain = Domain {
            chain_id: 31337,
            contract: Address([0x42; 20]),
        };
        let operator = Omni([1; 32]);
        let newcomer = DeviceKey::generate();
        let device = newcomer.address();
        let answer = |consent: Option<String>| quorum::Answer {
            approver: device,
            assertion: ChainAssertion {
                authenticator_data: vec![],
                client_data_json: vec![],
                challenge_location: 0,
                type_location: 0,
                r: [0; 32],
                s: [0; 32],
            },
            consent,
        };
        let signed = |key: &DeviceKey, operator: &Omni, domain: Domain| {
            let digest = challenge::master_consent(operator, &device, roles::ALL, domain);
            Some(hex::encode(key.sign_prehash(&digest)))
        };
        let code = |a: quorum::Answer| master_consent(&a, &operator, &device, domain).map(|_| ());
        // The device's own signature over exactly this operation passes.
        assert!(code(answer(signed(&newcomer, &operator, domain))).is_ok());
        // No consent (an older companion), garbage, another key, another operator, another
        // registry: each is device_consent_missing, before anything is submitted.
        let other_registry = Domain {
            contract: Address([0x43; 20]),
            ..domain
        };
        for consent in [
            None,
            Some("not hex".to_string()),
            signed(&DeviceKey::generate(), &operator, domain),
            signed(&newcomer, &Omni([2; 32]), domain),
            signed(&newcomer, &operator, other_registry),
        ] {
            assert_eq!(
                code(answer(consent)).unwrap_err().code,
                ErrorCode::DeviceConsentMissing
            );
        }
    }
}
