//! Refusals of the token, proof and sign-in checks, each with its exact code.

use agentkeys_core::cap::{verify_cap, CapClaims, CapExpectation, Confirmation};
use agentkeys_core::device_key::DeviceKey;
use agentkeys_core::error::ErrorCode;
use agentkeys_core::es256::{Es256Key, Jwks, KeyPurpose};
use agentkeys_core::identity::Omni;
use agentkeys_core::names::{DataClass, Op};
use agentkeys_core::session::{verify_session, SessionClaims};
use agentkeys_core::siwe_msg::{self, SiweChallenge, SiweExpectation};
use agentkeys_core::{b64, pop};
use time::macros::datetime;

const NOW: u64 = 1_760_000_100;

fn k1() -> Es256Key {
    Es256Key::from_secret(KeyPurpose::Session, &[0x11; 32]).unwrap()
}

fn jwks() -> Jwks {
    Jwks {
        keys: vec![k1().jwk().clone()],
    }
}

fn device() -> DeviceKey {
    DeviceKey::from_bytes(&[0x22; 32]).unwrap()
}

fn claims() -> CapClaims {
    let addr = device().address();
    let op = Omni::operator(&addr);
    CapClaims {
        iss: "broker".into(),
        aud: "vault".into(),
        sub: op,
        opr: op,
        op: Op::Fetch,
        dc: DataClass::Credentials,
        svc: "openrouter".into(),
        dkh: format!("0x{}", hex::encode(addr.device_key_hash())),
        epoch: 1,
        iat: NOW - 10,
        exp: NOW + 290,
        jti: b64::encode_url(&[9u8; 16]),
        cnf: Confirmation { eth_addr: addr },
    }
}

fn expect() -> CapExpectation<'static> {
    CapExpectation {
        issuer: "broker",
        audience: "vault",
        op: Op::Fetch,
        data_class: DataClass::Credentials,
        now: NOW,
    }
}

fn check(c: &CapClaims, e: &CapExpectation<'_>) -> Result<CapClaims, ErrorCode> {
    verify_cap(&c.sign(&k1()).unwrap(), &jwks(), e)
}

#[test]
fn cap_accepts_valid() {
    assert_eq!(check(&claims(), &expect()).unwrap(), claims());
}

#[test]
fn cap_refusals() {
    let mut c = claims();
    c.exp = NOW;
    assert_eq!(check(&c, &expect()), Err(ErrorCode::CapExpired));
    let mut c = claims();
    c.iat = NOW + 120;
    c.exp = NOW + 300;
    assert_eq!(check(&c, &expect()), Err(ErrorCode::CapNotYetValid));
    let mut c = claims();
    c.aud = "other-vault".into();
    assert_eq!(check(&c, &expect()), Err(ErrorCode::CapWrongAudience));
    let mut c = claims();
    c.iss = "rogue".into();
    assert_eq!(check(&c, &expect()), Err(ErrorCode::CapWrongIssuer));
    let mut e = expect();
    e.op = Op::Store;
    assert_eq!(check(&claims(), &e), Err(ErrorCode::CapOpMismatch));
    let mut e = expect();
    e.data_class = DataClass::Memory;
    assert_eq!(check(&claims(), &e), Err(ErrorCode::CapDataClassMismatch));
    let mut c = claims();
    c.exp = c.iat + 7200;
    assert_eq!(check(&c, &expect()), Err(ErrorCode::CapMalformed));
}

#[test]
fn cap_forged_and_foreign_keys() {
    let token = claims().sign(&k1()).unwrap();
    // Re-sign the same claims with a key the vault does not know.
    let rogue = Es256Key::from_secret(KeyPurpose::Session, &[0x12; 32]).unwrap();
    let forged = claims().sign(&rogue).unwrap();
    assert_eq!(
        verify_cap(&forged, &jwks(), &expect()),
        Err(ErrorCode::CapUnknownKey)
    );
    // Same kid, another signature: splice the rogue signature onto the genuine header+payload.
    let (body, _) = token.rsplit_once('.').unwrap();
    let (_, rogue_sig) = forged.rsplit_once('.').unwrap();
    assert_eq!(
        verify_cap(&format!("{body}.{rogue_sig}"), &jwks(), &expect()),
        Err(ErrorCode::CapBadSignature)
    );
    // Payload edited after signing.
    let mut parts: Vec<String> = token.split('.').map(String::from).collect();
    let mut c = claims();
    c.svc = "anthropic".into();
    parts[1] = b64::encode_url(&serde_json::to_vec(&c).unwrap());
    assert_eq!(
        verify_cap(&parts.join("."), &jwks(), &expect()),
        Err(ErrorCode::CapBadSignature)
    );
    assert_eq!(
        verify_cap("not.a.token", &jwks(), &expect()),
        Err(ErrorCode::CapMalformed)
    );
    assert_eq!(
        verify_cap("", &jwks(), &expect()),
        Err(ErrorCode::CapMalformed)
    );
}

#[test]
fn session_token_is_not_a_cap() {
    let addr = device().address();
    let s = SessionClaims {
        iss: "broker".into(),
        aud: "broker".into(),
        sub: addr,
        opr: Omni::operator(&addr),
        act: Omni::operator(&addr),
        role: "master".into(),
        iat: NOW,
        exp: NOW + 3600,
        jti: "x".into(),
    };
    let token = s.sign(&k1()).unwrap();
    assert_eq!(
        verify_cap(&token, &jwks(), &expect()),
        Err(ErrorCode::CapWrongType)
    );
    assert!(verify_session(&token, &jwks(), "broker", NOW).is_ok());
    assert_eq!(
        verify_session(&token, &jwks(), "broker", NOW + 3600),
        Err(ErrorCode::SessionExpired)
    );
    let cap = claims().sign(&k1()).unwrap();
    assert_eq!(
        verify_session(&cap, &jwks(), "broker", NOW),
        Err(ErrorCode::SessionInvalid)
    );
}

#[test]
fn pop_refusals() {
    let key = device();
    let addr = key.address();
    let body = br#"{"name":"openrouter"}"#;
    let h = pop::sign(&key, "jti1", "POST", "/v1/cred/fetch", body, NOW);
    assert!(pop::verify(&h, "jti1", &addr, "POST", "/v1/cred/fetch", body, NOW).is_ok());
    assert_eq!(
        pop::verify(&h, "jti2", &addr, "POST", "/v1/cred/fetch", body, NOW).unwrap_err(),
        ErrorCode::PopInvalid
    );
    assert_eq!(
        pop::verify(&h, "jti1", &addr, "POST", "/v1/cred/store", body, NOW).unwrap_err(),
        ErrorCode::PopInvalid
    );
    assert_eq!(
        pop::verify(&h, "jti1", &addr, "POST", "/v1/cred/fetch", b"{}", NOW).unwrap_err(),
        ErrorCode::PopInvalid
    );
    assert_eq!(
        pop::verify(&h, "jti1", &addr, "POST", "/v1/cred/fetch", body, NOW + 61).unwrap_err(),
        ErrorCode::PopStale
    );
    let other = DeviceKey::from_bytes(&[0x23; 32]).unwrap();
    let h2 = pop::sign(&other, "jti1", "POST", "/v1/cred/fetch", body, NOW);
    assert_eq!(
        pop::verify(&h2, "jti1", &addr, "POST", "/v1/cred/fetch", body, NOW).unwrap_err(),
        ErrorCode::PopInvalid
    );
    // Two proofs of the same request differ (random nonce), so neither replays the other.
    assert_ne!(
        h,
        pop::sign(&key, "jti1", "POST", "/v1/cred/fetch", body, NOW)
    );
    let nonce = "0".repeat(32);
    for bad in [
        "".to_string(),
        "t=1".into(),
        "sig=0x00".into(),
        "t=x,sig=0x00".into(),
        format!("t={NOW},sig=0x{}", "11".repeat(65)),
        format!("t={NOW},n=XYZ,sig=0x{}", "11".repeat(65)),
        format!("t={NOW},n={nonce},sig=0x1234"),
        format!("t={NOW},n={nonce},sig=0x{},extra=1", "11".repeat(65)),
    ] {
        assert_eq!(
            pop::verify(&bad, "jti1", &addr, "POST", "/p", body, NOW).unwrap_err(),
            ErrorCode::PopMalformed,
            "{bad}"
        );
    }
}

#[test]
fn siwe_refusals() {
    let key = device();
    let challenge = SiweChallenge {
        domain: "127.0.0.1:8787".into(),
        uri: "http://127.0.0.1:8787".into(),
        chain_id: 31337,
        nonce: "abcdefgh12345678".into(),
        issued_at: "2025-10-09T08:00:00Z".into(),
        expiration_time: "2025-10-09T08:05:00Z".into(),
    };
    let msg = siwe_msg::build_message(&challenge, &key.address()).unwrap();
    let sig = format!("0x{}", hex::encode(key.sign_personal(msg.as_bytes())));
    let ok = SiweExpectation {
        domain: "127.0.0.1:8787",
        chain_id: 31337,
        now: datetime!(2025-10-09 08:01:00 UTC),
    };
    let v = siwe_msg::verify(&msg, &sig, &ok).unwrap();
    assert_eq!(v.address, key.address());
    assert_eq!(v.nonce, "abcdefgh12345678");
    let e = SiweExpectation {
        domain: "evil.example:443",
        ..ok
    };
    assert_eq!(
        siwe_msg::verify(&msg, &sig, &e),
        Err(ErrorCode::SiweDomainMismatch)
    );
    let e = SiweExpectation {
        domain: "127.0.0.1:8787",
        chain_id: 1,
        now: ok.now,
    };
    assert_eq!(
        siwe_msg::verify(&msg, &sig, &e),
        Err(ErrorCode::SiweChainMismatch)
    );
    let e = SiweExpectation {
        domain: "127.0.0.1:8787",
        chain_id: 31337,
        now: datetime!(2025-10-09 08:06:00 UTC),
    };
    assert_eq!(
        siwe_msg::verify(&msg, &sig, &e),
        Err(ErrorCode::SiweExpired)
    );
    let other = DeviceKey::from_bytes(&[0x24; 32]).unwrap();
    let bad_sig = format!("0x{}", hex::encode(other.sign_personal(msg.as_bytes())));
    assert_eq!(
        siwe_msg::verify(&msg, &bad_sig, &ok),
        Err(ErrorCode::SiweBadSignature)
    );
    assert_eq!(
        siwe_msg::verify("hello", &sig, &ok),
        Err(ErrorCode::SiweInvalidMessage)
    );
}
