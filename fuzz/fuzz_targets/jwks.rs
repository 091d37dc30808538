//! JWKS documents (the vault fetches the broker's): arbitrary key sets must verify a genuine
//! K1 capability only when they hold K1 itself under its kid and purpose.
#![no_main]

use std::sync::OnceLock;

use agentkeys_core::cap::{verify_cap_signature, CapClaims, Confirmation};
use agentkeys_core::es256::{Jwks, KeyPurpose};
use agentkeys_core::identity::Address;
use agentkeys_core::names::{DataClass, Op};
use agentkeys_fuzz::{actor, operator, session_key, ISSUER, NOW};
use libfuzzer_sys::fuzz_target;

fn genuine() -> &'static str {
    static TOKEN: OnceLock<String> = OnceLock::new();
    TOKEN.get_or_init(|| {
        let claims = CapClaims {
            iss: ISSUER.into(),
            aud: ISSUER.into(),
            sub: actor(),
            opr: operator(),
            op: Op::Fetch,
            dc: DataClass::Credentials,
            svc: "openrouter".into(),
            dkh: format!("0x{}", "ab".repeat(32)),
            epoch: 1,
            iat: NOW,
            exp: NOW + 300,
            jti: "AAAAAAAAAAAAAAAAAAAAAA".into(),
            cnf: Confirmation {
                eth_addr: Address([0x77; 20]),
            },
        };
        claims
            .sign(session_key())
            .unwrap_or_else(|e| panic!("signing the fixture: {e}"))
    })
}

fuzz_target!(|data: &[u8]| {
    let Some(set) = agentkeys_fuzz::json_round_trip::<Jwks>(data) else {
        return;
    };
    let k1 = session_key().jwk();
    let verified = verify_cap_signature(genuine(), &set).is_ok();
    // Only a session-purpose key under K1's kid is ever tried, and a different point there
    // cannot verify K1's signature; K1 itself, spelled as the broker publishes it, must.
    let chosen = set.find(k1.kid.as_str(), KeyPurpose::Session);
    assert!(!verified || chosen.is_some(), "verified without K1's kid");
    if chosen.is_some_and(|k| k.x == k1.x && k.y == k1.y) {
        assert!(verified, "K1 in the set but its token is refused");
    }
});
