//! Capability tokens: arbitrary compact JWS against the broker's JWKS, and arbitrary claims
//! signed under K1, which must verify to exactly those claims.
#![no_main]

use agentkeys_core::cap::{
    check_cap_claims, peek_claims, verify_cap, verify_cap_signature, CapClaims, CapExpectation,
};
use agentkeys_core::error::ErrorCode;
use agentkeys_core::names::{DataClass, Op};
use agentkeys_fuzz::{jwks, session_key, ISSUER, NOW};
use libfuzzer_sys::fuzz_target;

fn expectation() -> CapExpectation<'static> {
    CapExpectation {
        issuer: ISSUER,
        audience: ISSUER,
        op: Op::Fetch,
        data_class: DataClass::Credentials,
        now: NOW,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        let Ok(token) = std::str::from_utf8(rest) else {
            return;
        };
        let _ = peek_claims(token);
        // A token that verifies (one K1 signed in an earlier run and the fuzzer replayed)
        // passed every claim check.
        if verify_cap(token, jwks(), &expectation()).is_ok() {
            let claims = verify_cap_signature(token, jwks());
            let claims = claims.unwrap_or_else(|e| panic!("signature half refused: {e:?}"));
            assert_eq!(check_cap_claims(&claims, &expectation()), Ok(()));
        }
        return;
    }
    let Some(claims) = agentkeys_fuzz::json_round_trip::<CapClaims>(rest) else {
        return;
    };
    let Ok(token) = claims.sign(session_key()) else {
        return;
    };
    let verified = verify_cap_signature(&token, jwks());
    if token.len() > 8192 {
        assert_eq!(verified, Err(ErrorCode::CapMalformed));
        return;
    }
    assert_eq!(verified.as_ref(), Ok(&claims), "K1's own token");
    assert_eq!(peek_claims(&token).as_ref(), Some(&claims));
    let full = verify_cap(&token, jwks(), &expectation());
    assert_eq!(full.map(|_| ()), check_cap_claims(&claims, &expectation()));
});
