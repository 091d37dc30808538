//! The assertion payload as the alloy binding types of the contracts that take one. Each
//! contract's binding has its own `WebAuthnAssertion` type with the same fields.

use agentkeys_contracts::bindings::{AgentKeysScope, K11Verifier, SidecarRegistry};
use agentkeys_core::passkey::ChainAssertion;
use alloy::primitives::U256;

macro_rules! to_binding {
    ($($(#[$doc:meta])* $name:ident => $binding:ident),* $(,)?) => {$(
        $(#[$doc])*
        pub fn $name(a: &ChainAssertion) -> $binding::WebAuthnAssertion {
            $binding::WebAuthnAssertion {
                authenticatorData: a.authenticator_data.clone().into(),
                clientDataJSON: a.client_data_json.clone().into(),
                challengeLocation: U256::from(a.challenge_location),
                typeLocation: U256::from(a.type_location),
                r: U256::from_be_bytes(a.r),
                s: U256::from_be_bytes(a.s),
            }
        }
    )*};
}

to_binding!(
    /// For `SidecarRegistry` (masters, recovery, threshold).
    to_registry => SidecarRegistry,
    /// For `AgentKeysScope` (set and revoke an agent's scope).
    to_scope => AgentKeysScope,
    /// For `K11Verifier.verify` itself.
    to_k11_verifier => K11Verifier,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_map_one_to_one() {
        let a = ChainAssertion {
            authenticator_data: vec![1, 2, 3],
            client_data_json: b"{}".to_vec(),
            challenge_location: 7,
            type_location: 1,
            r: [0x11; 32],
            s: [0x22; 32],
        };
        let b = to_registry(&a);
        assert_eq!(b.authenticatorData.as_ref(), &[1, 2, 3]);
        assert_eq!(b.clientDataJSON.as_ref(), b"{}");
        assert_eq!(b.challengeLocation, U256::from(7));
        assert_eq!(b.typeLocation, U256::from(1));
        assert_eq!(b.r.to_be_bytes::<32>(), [0x11; 32]);
        assert_eq!(b.s.to_be_bytes::<32>(), [0x22; 32]);
        assert_eq!(to_scope(&a).s, b.s);
    }
}
