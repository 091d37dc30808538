//! Session tokens: arbitrary compact JWS against the broker's JWKS, and arbitrary claims
//! signed under K1, whose verification must depend on the claims alone.
#![no_main]

use agentkeys_core::error::ErrorCode;
use agentkeys_core::session::{verify_session, SessionClaims};
use agentkeys_fuzz::{jwks, session_key, ISSUER, NOW};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        let Ok(token) = std::str::from_utf8(rest) else {
            return;
        };
        if let Ok(claims) = verify_session(token, jwks(), ISSUER, NOW) {
            assert!(claims.iss == ISSUER && claims.aud == ISSUER && claims.exp > NOW);
        }
        return;
    }
    let Some(claims) = agentkeys_fuzz::json_round_trip::<SessionClaims>(rest) else {
        return;
    };
    let Ok(token) = claims.sign(session_key()) else {
        return;
    };
    let result = verify_session(&token, jwks(), ISSUER, NOW);
    let expected = if token.len() > 8192 || claims.iss != ISSUER || claims.aud != ISSUER {
        Err(ErrorCode::SessionInvalid)
    } else if claims.exp <= NOW {
        Err(ErrorCode::SessionExpired)
    } else if claims.iat > NOW + 60 {
        Err(ErrorCode::SessionInvalid)
    } else {
        Ok(claims)
    };
    assert_eq!(result, expected);
});
