//! Logs of the AgentKeys contracts turned into the [`ChainEvent`]s of the event stream.

use super::views::{hex32, omni};
use super::{ChainLog, Contracts};
use agentkeys_contracts::bindings::{
    AgentKeysScope, CredentialAudit, K3EpochCounter, SidecarRegistry,
};
use agentkeys_core::chain::ChainEvent;
use alloy::primitives::LogData;
use alloy::sol_types::SolEvent;

fn decode<E: SolEvent>(data: &LogData) -> Option<E> {
    E::decode_log_data(data).ok()
}

/// The event of `log`, or `None` for a log that is not one of ours (or not one devices care
/// about, like `AuditRelaySet`).
pub fn decode_log(contracts: &Contracts, log: &ChainLog) -> Option<ChainEvent> {
    let data = &log.log.data;
    let topic0 = *data.topics().first()?;
    let mut ev = ChainEvent {
        kind: String::new(),
        block_number: log.block_number,
        tx_hash: hex32(log.tx_hash),
        operator: None,
        device_key_hash: None,
        actor: None,
        epoch: None,
    };
    let address = log.log.address;
    if address == contracts.registry {
        use SidecarRegistry as R;
        if topic0 == R::OperatorRegistered::SIGNATURE_HASH {
            let e: R::OperatorRegistered = decode(data)?;
            ev.kind = "OperatorRegistered".into();
            ev.operator = Some(omni(e.operatorOmni));
        } else if topic0 == R::MasterDeviceRegistered::SIGNATURE_HASH {
            let e: R::MasterDeviceRegistered = decode(data)?;
            ev.kind = "MasterDeviceRegistered".into();
            ev.operator = Some(omni(e.operatorOmni));
            ev.device_key_hash = Some(hex32(e.deviceKeyHash));
        } else if topic0 == R::AgentDeviceRegistered::SIGNATURE_HASH {
            let e: R::AgentDeviceRegistered = decode(data)?;
            ev.kind = "AgentDeviceRegistered".into();
            ev.operator = Some(omni(e.operatorOmni));
            ev.device_key_hash = Some(hex32(e.deviceKeyHash));
            ev.actor = Some(omni(e.actorOmni));
        } else if topic0 == R::AgentDeviceRevoked::SIGNATURE_HASH {
            let e: R::AgentDeviceRevoked = decode(data)?;
            ev.kind = "AgentDeviceRevoked".into();
            ev.operator = Some(omni(e.operatorOmni));
            ev.device_key_hash = Some(hex32(e.deviceKeyHash));
        } else if topic0 == R::MasterDeviceRevoked::SIGNATURE_HASH {
            let e: R::MasterDeviceRevoked = decode(data)?;
            ev.kind = "MasterDeviceRevoked".into();
            ev.operator = Some(omni(e.operatorOmni));
            ev.device_key_hash = Some(hex32(e.deviceKeyHash));
        } else if topic0 == R::PasskeyAttached::SIGNATURE_HASH {
            let e: R::PasskeyAttached = decode(data)?;
            ev.kind = "PasskeyAttached".into();
            ev.operator = Some(omni(e.operatorOmni));
            ev.device_key_hash = Some(hex32(e.deviceKeyHash));
        } else if topic0 == R::RecoveryThresholdChanged::SIGNATURE_HASH {
            let e: R::RecoveryThresholdChanged = decode(data)?;
            ev.kind = "RecoveryThresholdChanged".into();
            ev.operator = Some(omni(e.operatorOmni));
        } else {
            return None;
        }
    } else if address == contracts.scope {
        use AgentKeysScope as S;
        if topic0 == S::ScopeSet::SIGNATURE_HASH {
            let e: S::ScopeSet = decode(data)?;
            ev.kind = "ScopeSet".into();
            ev.operator = Some(omni(e.operatorOmni));
            ev.actor = Some(omni(e.actorOmni));
        } else if topic0 == S::ScopeRevoked::SIGNATURE_HASH {
            let e: S::ScopeRevoked = decode(data)?;
            ev.kind = "ScopeRevoked".into();
            ev.operator = Some(omni(e.operatorOmni));
            ev.actor = Some(omni(e.actorOmni));
        } else {
            return None;
        }
    } else if address == contracts.epoch {
        // Governance hand-overs are not device business; only the epoch itself is.
        if topic0 != K3EpochCounter::EpochAdvanced::SIGNATURE_HASH {
            return None;
        }
        let e: K3EpochCounter::EpochAdvanced = decode(data)?;
        ev.kind = "EpochAdvanced".into();
        ev.epoch = Some(e.current);
    } else if address == contracts.audit {
        if topic0 != CredentialAudit::RootAppended::SIGNATURE_HASH {
            return None;
        }
        let e: CredentialAudit::RootAppended = decode(data)?;
        ev.kind = "RootAppended".into();
        ev.operator = Some(omni(e.operatorOmni));
    } else {
        return None;
    }
    Some(ev)
}
