//! Registry records as the rest of AgentKeys names them: one decoding for the relay's chain
//! reads and the daemon's own (`chain status --rpc-url`).

use crate::bindings::SidecarRegistry;
use agentkeys_core::chain::{DeviceView, Tier};
use agentkeys_core::identity::{Address, Omni};
use agentkeys_core::passkey::P256PublicKey;
use alloy::primitives::B256;

/// The registry's `getDevice` answer for `device_key_hash`; `None` for a device never
/// registered (tier NONE).
pub fn device_view(device_key_hash: B256, d: &SidecarRegistry::Device) -> Option<DeviceView> {
    let tier = match d.tier {
        1 => Tier::Master,
        2 => Tier::Agent,
        _ => return None,
    };
    let has_passkey = !d.k11X.is_zero();
    Some(DeviceView {
        device_key_hash: format!("{device_key_hash:#x}"),
        device: Address(d.device.into_array()),
        tier,
        roles: d.roles,
        operator: Omni(d.operatorOmni.0),
        actor: Omni(d.actorOmni.0),
        revoked: d.revoked,
        registered_at: d.registeredAt.saturating_to::<u64>(),
        has_passkey,
        passkey: has_passkey.then(|| P256PublicKey {
            x: d.k11X.to_be_bytes(),
            y: d.k11Y.to_be_bytes(),
        }),
        last_sign_count: d.lastSignCount,
    })
}
