//! `POST /v1/init` (a job): create the device key if there is none, sign in, and register the
//! device on chain as the first master of its own operator. With a passkey (the default) the
//! page enrolls K11 and then approves the registration with it, and the device gets every
//! master role; without one it gets CAP_MINT only. A passkey-less master that runs `init`
//! again gets its passkey attached. A companion only creates its key and enrolls its passkey:
//! the primary registers it (`agentkeys device add`).

use std::sync::Arc;

use agentkeys_contracts::bindings::SidecarRegistry;
use agentkeys_core::chain::{roles, DeviceView, Tier, TxReceiptView};
use agentkeys_core::daemon_api::{InitRequest, JobStarted};
use agentkeys_core::device_key::DeviceKey;
use agentkeys_core::error::{ApiError, ErrorCode};
use agentkeys_core::identity::{Address, Omni};
use agentkeys_core::wire::{InitResponse, RelayPinView};
use alloy::primitives::{B256, U256};
use alloy::sol_types::SolCall;
use axum::extract::State;
use axum::Json;

use super::{ApiJson, ApiResult};
use crate::ceremony::chain::to_registry;
use crate::ceremony::Role;
use crate::chain_ops::challenge::{self, Domain, OpTag};
use crate::chain_ops::operator;
use crate::jobs::Progress;
use crate::passkey::{self, Authenticator};
use crate::quorum::Ask;
use crate::relay_client::PinResult;
use crate::state::{AppState, SharedState};

pub async fn init(
    State(state): State<SharedState>,
    ApiJson(req): ApiJson<InitRequest>,
) -> ApiResult<JobStarted> {
    let s = state.clone();
    let job = state
        .jobs
        .spawn(move |progress| async move { run(s, progress, req).await })?;
    Ok(Json(JobStarted { job }))
}

async fn run(
    state: Arc<AppState>,
    progress: Progress,
    req: InitRequest,
) -> Result<InitResponse, ApiError> {
    progress.step("loading the device key");
    let (key, created) = state.identity.ensure(req.new_identity).await?;
    let address = key.address();
    // Before anything is signed or sent: every later answer is verified against this pin.
    progress.step("checking the relay's keys");
    let pin = pin_view(state.relay.pin_relay(req.repin).await?);
    if state.role == Role::Companion {
        return companion(&state, &progress, &key, created, req)
            .await
            .map(|r| InitResponse {
                relay_pin: Some(pin),
                ..r
            });
    }
    if let Some(approver) = &req.approver {
        if approver.passkey.is_none() {
            return Err(ErrorCode::CompanionNotReady.into());
        }
        if crate::local::passkey::load(&state.data_dir)?.is_some() {
            return Err(ApiError::new(
                ErrorCode::AlreadyInitialized,
                "this device has its own passkey; an approver elsewhere is for machines without one",
            ));
        }
        crate::local::approver::save(&state.data_dir, approver)?;
    }
    progress.step("signing in to the relay");
    // The key is kept even when sign-in or registration fails: a later `init` resumes with
    // it (created = false) instead of replacing the identity.
    let mut operator = state.relay.sign_in(&key).await?;
    let before = state.relay.chain_device(&address).await?;
    if let Some(d) = &before {
        refuse_foreign(&state.data_dir, &address, d)?;
    }
    let registered = match (&before, req.passkey) {
        (Some(d), _) if d.revoked => return Err(ErrorCode::DeviceRevoked.into()),
        (Some(d), _) if d.tier != Tier::Master => {
            return Err(ApiError::new(
                ErrorCode::ActorNotPermitted,
                "this device is registered as an agent; it cannot become a master",
            ))
        }
        (Some(d), true) if !d.has_passkey => {
            Some(bind_passkey(&state, &progress, &key, Binding::Attach(d.operator)).await?)
        }
        (Some(_), _) => None,
        (None, false) => {
            progress.step("registering this device on chain (no passkey)");
            let chain = state.relay.chain_status().await?;
            Some(
                state
                    .relay
                    .send_call(
                        &key,
                        &chain.contracts.registry,
                        // CAP_MINT only: the device can use the operator's own secrets;
                        // enrolling a passkey later adds the roles that need one.
                        SidecarRegistry::registerFirstMasterDeviceWithoutPasskeyCall {}
                            .abi_encode(),
                    )
                    .await?,
            )
        }
        (None, true) => Some(bind_passkey(&state, &progress, &key, Binding::FirstMaster).await?),
    };
    let device_on_chain = if registered.is_some() {
        tracing::info!(device = %address, "registered on chain");
        // The session was issued before the change; take one that names the new roles.
        operator = state.relay.sign_in(&key).await?;
        state.relay.chain_device(&address).await?
    } else {
        before
    };
    Ok(InitResponse {
        device: address,
        operator,
        created,
        registered,
        device_on_chain,
        relay_pin: Some(pin),
    })
}

fn pin_view(p: PinResult) -> RelayPinView {
    RelayPinView {
        fingerprints: p.pin.fingerprints(),
        chain_id: p.pin.chain_id,
        new: p.new,
        replaced: p.replaced,
    }
}

/// Refuses a chain entry that makes this device a master of an operator it neither founded
/// nor consented to join: adopting it would store this machine's secrets under a stranger's
/// operator. The registry now demands the device's consent, so only an entry made without it
/// (an older registry, or a forged one) can get here.
fn refuse_foreign(
    data_dir: &std::path::Path,
    address: &Address,
    d: &DeviceView,
) -> Result<(), ApiError> {
    if d.tier != Tier::Master
        || d.operator == Omni::operator(address)
        || crate::local::joined::contains(data_dir, &d.operator)?
    {
        return Ok(());
    }
    Err(ApiError::new(
        ErrorCode::DeviceForeignOperator,
        format!(
            "the chain holds this device as a master of operator {}, which it never joined; \
             refusing to act for it",
            d.operator
        ),
    ))
}

/// This device's authenticator: the enrolled passkey or the remote approver, else a passkey
/// enrolled now.
async fn authenticator(
    state: &AppState,
    progress: &Progress,
    key: &DeviceKey,
) -> Result<Authenticator, ApiError> {
    match passkey::current(state)? {
        Some(a) => Ok(a),
        None => Ok(Authenticator::Local(
            passkey::enroll(state, progress, &key.address()).await?,
        )),
    }
}

/// How this device's passkey becomes its K11 on chain.
enum Binding {
    /// `registerFirstMasterDevice`: a new operator, every role.
    FirstMaster,
    /// `attachPasskey`: a master of this operator registered without one.
    Attach(Omni),
}

/// Approves the binding with this device's authenticator (enrolled if none) and submits it.
async fn bind_passkey(
    state: &AppState,
    progress: &Progress,
    key: &DeviceKey,
    binding: Binding,
) -> Result<TxReceiptView, ApiError> {
    let address = key.address();
    let auth = authenticator(state, progress, key).await?;
    let (pk, rp_hash) = (auth.public_key(), auth.rp_id_hash());
    let (tag, op, params, words, step) = match binding {
        Binding::FirstMaster => (
            OpTag::RegisterFirstMaster,
            Omni::operator(&address),
            challenge::master_params(&address, roles::ALL, &pk, &rp_hash),
            "Register this device as your first master device, with every role",
            "registering this device on chain",
        ),
        Binding::Attach(op) => (
            OpTag::AttachPasskey,
            op,
            challenge::attach_params(&address, &pk, &rp_hash),
            "Attach this passkey to your master device and give it every role",
            "attaching the passkey on chain",
        ),
    };
    let chain = state.relay.chain_status().await?;
    let nonce = operator::operator(&state.relay, &op).await?.nonce;
    let ask = Ask {
        operator: op,
        tag,
        operation: words,
        challenge: challenge::registry(tag, &op, params, Domain::registry(&chain), nonce),
        params: None,
    };
    let assertion = to_registry(&passkey::approve(state, progress, key, &ask).await?);
    progress.step(step);
    let (x, y, rp) = (
        U256::from_be_bytes(pk.x),
        U256::from_be_bytes(pk.y),
        B256::from(rp_hash),
    );
    let input = match binding {
        Binding::FirstMaster => SidecarRegistry::registerFirstMasterDeviceCall {
            roles: roles::ALL,
            k11X: x,
            k11Y: y,
            rpIdHash: rp,
            assertion,
        }
        .abi_encode(),
        Binding::Attach(_) => SidecarRegistry::attachPasskeyCall {
            k11X: x,
            k11Y: y,
            rpIdHash: rp,
            assertion,
        }
        .abi_encode(),
    };
    state
        .relay
        .send_call(key, &chain.contracts.registry, input)
        .await
}

/// A companion's init: its key and its passkey; the chain learns of it from the primary.
async fn companion(
    state: &AppState,
    progress: &Progress,
    key: &DeviceKey,
    created: bool,
    req: InitRequest,
) -> Result<InitResponse, ApiError> {
    let address = key.address();
    if req.passkey && crate::local::passkey::load(&state.data_dir)?.is_none() {
        passkey::enroll(state, progress, &address).await?;
    }
    let device_on_chain = state.relay.chain_device(&address).await?;
    if let Some(d) = &device_on_chain {
        refuse_foreign(&state.data_dir, &address, d)?;
    }
    Ok(InitResponse {
        device: address,
        operator: device_on_chain
            .as_ref()
            .map(|d| d.operator)
            .unwrap_or_else(|| Omni::operator(&address)),
        created,
        registered: None,
        device_on_chain,
        relay_pin: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentkeys_core::chain::roles;

    fn entry(operator: Omni, tier: Tier) -> DeviceView {
        DeviceView {
            device_key_hash: String::new(),
            device: Address([5; 20]),
            tier,
            roles: roles::ALL,
            operator,
            actor: operator,
            revoked: false,
            registered_at: 1,
            has_passkey: true,
            passkey: None,
            last_sign_count: 0,
        }
    }

    #[test]
    fn a_chain_entry_under_an_operator_never_joined_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let me = Address([5; 20]);
        let own = Omni::operator(&me);
        let stranger = Omni([9; 32]);
        // Its own operator, or an agent entry, is never foreign.
        assert!(refuse_foreign(dir.path(), &me, &entry(own, Tier::Master)).is_ok());
        assert!(refuse_foreign(dir.path(), &me, &entry(stranger, Tier::Agent)).is_ok());
        // A master entry under another operator: refused until this device joined it.
        let e = refuse_foreign(dir.path(), &me, &entry(stranger, Tier::Master)).unwrap_err();
        assert_eq!(e.code, ErrorCode::DeviceForeignOperator);
        assert!(e.message.contains(&stranger.to_string()), "{}", e.message);
        crate::local::joined::add(dir.path(), &stranger).unwrap();
        assert!(refuse_foreign(dir.path(), &me, &entry(stranger, Tier::Master)).is_ok());
        // Joining one operator does not vouch for another.
        let e = refuse_foreign(dir.path(), &me, &entry(Omni([8; 32]), Tier::Master)).unwrap_err();
        assert_eq!(e.code, ErrorCode::DeviceForeignOperator);
    }
}
