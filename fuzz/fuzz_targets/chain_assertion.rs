//! The WebAuthn assertion payload as it travels as JSON (approval answers, companion
//! approvals): parsed, then checked as `K11Verifier` checks it against a fixed passkey.
#![no_main]

use agentkeys_core::passkey::{
    rp_id_hash, ChainAssertion, P256PublicKey, FLAG_UP, FLAG_UV, RP_ID_COMPANION,
};
use agentkeys_fuzz::json_round_trip;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(assertion) = json_round_trip::<ChainAssertion>(data) else {
        return;
    };
    let _ = assertion.sign_count();
    let _ = assertion.flags();
    let _ = assertion.signed_digest();
    // A point that is on the curve and one that (almost surely) is not.
    let keys = [
        agentkeys_fuzz::passkey_public(),
        P256PublicKey {
            x: [1; 32],
            y: [2; 32],
        },
    ];
    let hash = rp_id_hash(RP_ID_COMPANION);
    for key in &keys {
        for uv in [false, true] {
            if assertion.check(&[0x09; 32], key, &hash, uv).is_ok() {
                let flags = assertion.flags();
                assert!(flags & FLAG_UP != 0 && (!uv || flags & FLAG_UV != 0));
                assert_eq!(assertion.authenticator_data[..32], hash);
            }
        }
    }
});
