//! Typed reads of the contracts: devices, scopes, the epoch, audit roots and nonces.

use super::{ChainAdapter, ChainError};
use agentkeys_contracts::bindings::{
    AgentKeysScope, CredentialAudit, K3EpochCounter, SidecarRegistry,
};
use agentkeys_core::chain::{AuditRootView, DeviceView, OperatorView, ScopeView};
use agentkeys_core::identity::Omni;
use alloy::primitives::{Address, B256, U256};
use alloy::sol_types::SolCall;

async fn read<C: SolCall>(
    chain: &dyn ChainAdapter,
    to: Address,
    call: C,
) -> Result<C::Return, ChainError> {
    let out = chain.call(to, call.abi_encode().into()).await?;
    C::abi_decode_returns(&out)
        .map_err(|e| ChainError::Unavailable(format!("undecodable answer from {to}: {e}")))
}

pub fn omni(b: B256) -> Omni {
    Omni(b.0)
}

pub fn b256(o: &Omni) -> B256 {
    B256::from(o.0)
}

pub fn hex32(b: B256) -> String {
    format!("{b:#x}")
}

/// keccak256 of the lowercase service name: how `AgentKeysScope` names a service.
pub fn service_hash(service: &str) -> B256 {
    alloy::primitives::keccak256(service.to_ascii_lowercase().as_bytes())
}

/// The device under `device_key_hash`, or `None` when none was ever registered.
pub async fn device(
    chain: &dyn ChainAdapter,
    device_key_hash: B256,
) -> Result<Option<DeviceView>, ChainError> {
    let d = read(
        chain,
        chain.contracts().registry,
        SidecarRegistry::getDeviceCall {
            deviceKeyHash: device_key_hash,
        },
    )
    .await?;
    Ok(agentkeys_contracts::views::device_view(device_key_hash, &d))
}

pub async fn operator_nonce(chain: &dyn ChainAdapter, operator: &Omni) -> Result<u64, ChainError> {
    let n = read(
        chain,
        chain.contracts().registry,
        SidecarRegistry::operatorNonceCall {
            operatorOmni: b256(operator),
        },
    )
    .await?;
    Ok(n.saturating_to::<u64>())
}

/// The operator's nonce, recovery settings and every device registered to it (revoked too).
pub async fn operator(
    chain: &dyn ChainAdapter,
    operator: &Omni,
) -> Result<OperatorView, ChainError> {
    let registry = chain.contracts().registry;
    let op = b256(operator);
    let threshold = read(
        chain,
        registry,
        SidecarRegistry::recoveryThresholdCall { operatorOmni: op },
    )
    .await?;
    let active = read(
        chain,
        registry,
        SidecarRegistry::activeRecoveryMastersCall { operatorOmni: op },
    )
    .await?;
    let hashes = read(
        chain,
        registry,
        SidecarRegistry::getOperatorDevicesCall { operatorOmni: op },
    )
    .await?;
    let mut devices = Vec::with_capacity(hashes.len());
    for hash in hashes {
        if let Some(d) = device(chain, hash).await? {
            devices.push(d);
        }
    }
    Ok(OperatorView {
        operator: *operator,
        nonce: operator_nonce(chain, operator).await?,
        recovery_threshold: threshold.saturating_to::<u32>(),
        active_recovery_masters: active.saturating_to::<u32>(),
        devices,
    })
}

/// The operator that registered `actor` as an agent (active or revoked); `None` for an actor
/// never registered.
pub async fn agent_actor_operator(
    chain: &dyn ChainAdapter,
    actor: &Omni,
) -> Result<Option<Omni>, ChainError> {
    let a = read(
        chain,
        chain.contracts().registry,
        SidecarRegistry::getActorCall {
            actorOmni: b256(actor),
        },
    )
    .await?;
    // ActorStatus: 0 NONE, 1 ACTIVE, 2 REVOKED.
    Ok((a.status != 0).then_some(Omni(a.operatorOmni.0)))
}

pub async fn in_scope(
    chain: &dyn ChainAdapter,
    operator: &Omni,
    actor: &Omni,
    service: &str,
) -> Result<bool, ChainError> {
    read(
        chain,
        chain.contracts().scope,
        AgentKeysScope::isServiceInScopeCall {
            operatorOmni: b256(operator),
            actorOmni: b256(actor),
            service: service_hash(service),
        },
    )
    .await
}

pub async fn scope(
    chain: &dyn ChainAdapter,
    operator: &Omni,
    actor: &Omni,
) -> Result<ScopeView, ChainError> {
    let c = chain.contracts().scope;
    let services = read(
        chain,
        c,
        AgentKeysScope::getScopeCall {
            operatorOmni: b256(operator),
            actorOmni: b256(actor),
        },
    )
    .await?;
    let nonce: U256 = read(
        chain,
        c,
        AgentKeysScope::scopeNonceCall {
            _0: b256(operator),
            _1: b256(actor),
        },
    )
    .await?;
    Ok(ScopeView {
        operator: *operator,
        actor: *actor,
        services: services.into_iter().map(hex32).collect(),
        nonce: nonce.saturating_to::<u64>(),
    })
}

pub async fn epoch(chain: &dyn ChainAdapter) -> Result<u32, ChainError> {
    read(
        chain,
        chain.contracts().epoch,
        K3EpochCounter::currentEpochCall {},
    )
    .await
}

/// The address allowed to advance the epoch.
pub async fn epoch_governance(chain: &dyn ChainAdapter) -> Result<Address, ChainError> {
    read(
        chain,
        chain.contracts().epoch,
        K3EpochCounter::signerGovernanceCall {},
    )
    .await
}

pub async fn audit_root_count(
    chain: &dyn ChainAdapter,
    operator: &Omni,
) -> Result<u64, ChainError> {
    let n = read(
        chain,
        chain.contracts().audit,
        CredentialAudit::rootCountCall {
            operatorOmni: b256(operator),
        },
    )
    .await?;
    Ok(n.saturating_to::<u64>())
}

/// The operator's root at `index`, or `None` past the end.
pub async fn audit_root(
    chain: &dyn ChainAdapter,
    operator: &Omni,
    index: u64,
) -> Result<Option<AuditRootView>, ChainError> {
    if index >= audit_root_count(chain, operator).await? {
        return Ok(None);
    }
    let r = read(
        chain,
        chain.contracts().audit,
        CredentialAudit::getRootCall {
            operatorOmni: b256(operator),
            index: U256::from(index),
        },
    )
    .await?;
    Ok(Some(AuditRootView {
        operator: *operator,
        index,
        root: hex32(r.root),
        count: r.count,
        anchored_at: r.anchoredAt,
    }))
}

/// Whether `CredentialAudit` lets `address` anchor roots for every operator.
pub async fn is_audit_relay(
    chain: &dyn ChainAdapter,
    address: Address,
) -> Result<bool, ChainError> {
    read(
        chain,
        chain.contracts().audit,
        CredentialAudit::isAuditRelayCall(address),
    )
    .await
}
