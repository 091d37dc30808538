//! Known-answer vectors for every format in `docs/formats.md`. If one of these changes, the
//! format changed: objects, tokens or signatures written by older builds would stop verifying.

use agentkeys_core::cap::{CapClaims, Confirmation};
use agentkeys_core::device_key::DeviceKey;
use agentkeys_core::envelope::{self, Dek, EnvelopeHeader, ObjectContext};
use agentkeys_core::es256::{Es256Key, KeyPurpose};
use agentkeys_core::identity::Omni;
use agentkeys_core::kek;
use agentkeys_core::names::{DataClass, Op};
use agentkeys_core::pop;
use agentkeys_core::session::SessionClaims;
use agentkeys_core::siwe_msg::{self, SiweChallenge};

const K10_SECRET: &str = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";

fn device() -> DeviceKey {
    let mut s = [0u8; 32];
    hex::decode_to_slice(K10_SECRET, &mut s).unwrap();
    DeviceKey::from_bytes(&s).unwrap()
}

fn operator() -> Omni {
    Omni::operator(&device().address())
}

fn k1() -> Es256Key {
    Es256Key::from_secret(KeyPurpose::Session, &[0x11; 32]).unwrap()
}

fn show(name: &str, value: &str) {
    println!("{name} = {value}");
}

#[test]
fn identity_vectors() {
    let addr = device().address();
    show("address", &addr.to_hex());
    assert_eq!(addr.to_hex(), "0x2c7536e3605d9c16a7a3d7b1898e529396a65c23");
    let op = operator();
    show("operator_omni", &op.to_hex());
    assert_eq!(op.to_hex(), OPERATOR_OMNI);
    let agent = Omni::agent(&op, "coder", 0).unwrap();
    show("agent_omni(coder, 0)", &agent.to_hex());
    assert_eq!(agent.to_hex(), AGENT_OMNI);
    show("device_key_hash", &hex::encode(addr.device_key_hash()));
    assert_eq!(hex::encode(addr.device_key_hash()), DEVICE_KEY_HASH);
}

fn sample_context(op: &Omni) -> ObjectContext<'_> {
    ObjectContext {
        data_class: DataClass::Credentials,
        operator: op,
        actor: op,
        name: "openrouter",
    }
}

#[test]
fn kek_and_wrap_vectors() {
    let op = operator();
    let ctx = sample_context(&op);
    let k3 = [0x33u8; 32];
    let kek = kek::derive_kek(&k3, &ctx);
    show("kek", &hex::encode(kek.as_ref()));
    assert_eq!(hex::encode(kek.as_ref()), KEK);
    let dek = Dek::from_bytes([0x44; 32]);
    let wrapped = kek::wrap_dek_with_nonce(&k3, 1, &ctx, &dek, &[0x55; 12]);
    show("wrapped_dek", &hex::encode(&wrapped));
    assert_eq!(hex::encode(&wrapped), WRAPPED_DEK);
    let back = kek::unwrap_dek(&k3, 1, &ctx, &wrapped).unwrap();
    assert_eq!(back.as_bytes(), dek.as_bytes());
    // Another epoch, class, actor, operator or name does not unwrap.
    assert!(kek::unwrap_dek(&k3, 2, &ctx, &wrapped).is_none());
    let agent = Omni::agent(&op, "coder", 0).unwrap();
    let others = [
        ObjectContext {
            data_class: DataClass::Memory,
            ..ctx
        },
        ObjectContext {
            actor: &agent,
            ..ctx
        },
        ObjectContext {
            operator: &agent,
            ..ctx
        },
        ObjectContext {
            name: "anthropic",
            ..ctx
        },
    ];
    for other in others {
        assert!(
            kek::unwrap_dek(&k3, 1, &other, &wrapped).is_none(),
            "{other:?}"
        );
    }
}

/// Version 1, read-only: these bytes are what objects stored before version 2 hold.
#[test]
fn kek_and_wrap_v1_vectors() {
    let actor = operator();
    let k3 = [0x33u8; 32];
    let kek = kek::derive_kek_v1(&k3, DataClass::Credentials, &actor);
    show("kek_v1", &hex::encode(kek.as_ref()));
    assert_eq!(hex::encode(kek.as_ref()), KEK_V1);
    let dek = Dek::from_bytes([0x44; 32]);
    let wrapped =
        kek::wrap_dek_v1_with_nonce(&k3, 1, DataClass::Credentials, &actor, &dek, &[0x55; 12]);
    show("wrapped_dek_v1", &hex::encode(&wrapped));
    assert_eq!(hex::encode(&wrapped), WRAPPED_DEK_V1);
    let back = kek::unwrap_dek_v1(&k3, 1, DataClass::Credentials, &actor, &wrapped).unwrap();
    assert_eq!(back.as_bytes(), dek.as_bytes());
    assert!(kek::unwrap_dek_v1(&k3, 2, DataClass::Credentials, &actor, &wrapped).is_none());
    assert!(kek::unwrap_dek_v1(&k3, 1, DataClass::Memory, &actor, &wrapped).is_none());
    let other = Omni::agent(&actor, "coder", 0).unwrap();
    assert!(kek::unwrap_dek_v1(&k3, 1, DataClass::Credentials, &other, &wrapped).is_none());
}

fn sample_envelope() -> Vec<u8> {
    let op = operator();
    let ctx = sample_context(&op);
    let dek = Dek::from_bytes([0x44; 32]);
    let wrapped = kek::wrap_dek_with_nonce(&[0x33; 32], 1, &ctx, &dek, &[0x55; 12]);
    let header = EnvelopeHeader::new(1, wrapped);
    envelope::seal_with_nonce(&dek, &header, &ctx, b"sk-test", &[0x66; 12])
}

#[test]
fn envelope_v1_vector_still_opens() {
    let op = operator();
    let ctx = sample_context(&op);
    let dek = Dek::from_bytes([0x44; 32]);
    let wrapped = kek::wrap_dek_v1_with_nonce(
        &[0x33; 32],
        1,
        DataClass::Credentials,
        &op,
        &dek,
        &[0x55; 12],
    );
    let header = EnvelopeHeader {
        version: envelope::VERSION_V1,
        epoch: 1,
        wrapped_dek: wrapped,
    };
    let env = envelope::seal_with_nonce(&dek, &header, &ctx, b"sk-test", &[0x66; 12]);
    show("envelope_v1", &hex::encode(&env));
    assert_eq!(hex::encode(&env), ENVELOPE_V1);
    // Read the way the vault reads it: the header names version 1, the key opens with the
    // version 1 KEK, and the envelope's associated data checks operator, actor, class and name.
    let stored = hex::decode(ENVELOPE_V1).unwrap();
    let (parsed, _) = EnvelopeHeader::parse(&stored).unwrap();
    assert_eq!(parsed.version, envelope::VERSION_V1);
    let key = kek::unwrap_dek_v1(
        &[0x33; 32],
        parsed.epoch,
        DataClass::Credentials,
        &op,
        &parsed.wrapped_dek,
    )
    .unwrap();
    assert_eq!(
        &envelope::open(&key, &stored, &ctx).unwrap()[..],
        b"sk-test"
    );
    let moved = ObjectContext {
        name: "anthropic",
        ..ctx
    };
    assert!(envelope::open(&key, &stored, &moved).is_err());
    // Its key is not a version 2 key.
    assert!(kek::unwrap_dek(&[0x33; 32], 1, &ctx, &parsed.wrapped_dek).is_none());
}

#[test]
fn envelope_vector() {
    let env = sample_envelope();
    show("envelope", &hex::encode(&env));
    assert_eq!(hex::encode(&env), ENVELOPE);
    assert_eq!(env[3], envelope::VERSION);
    let op = operator();
    let ctx = sample_context(&op);
    let dek = Dek::from_bytes([0x44; 32]);
    assert_eq!(&envelope::open(&dek, &env, &ctx).unwrap()[..], b"sk-test");
    assert_eq!(
        envelope::object_key(DataClass::Credentials, &op, "openrouter"),
        format!("bots/{OPERATOR_OMNI}/credentials/openrouter.enc")
    );
}

#[test]
fn envelope_detects_every_flipped_byte() {
    let env = sample_envelope();
    let op = operator();
    let ctx = ObjectContext {
        data_class: DataClass::Credentials,
        operator: &op,
        actor: &op,
        name: "openrouter",
    };
    let dek = Dek::from_bytes([0x44; 32]);
    for i in 0..env.len() {
        let mut bad = env.clone();
        bad[i] ^= 0x01;
        assert!(
            envelope::open(&dek, &bad, &ctx).is_err(),
            "flip at byte {i} went unnoticed"
        );
    }
    assert!(envelope::open(&dek, &env[..env.len() - 1], &ctx).is_err());
}

#[test]
fn envelope_bound_to_its_context() {
    let env = sample_envelope();
    let op = operator();
    let agent = Omni::agent(&op, "coder", 0).unwrap();
    let dek = Dek::from_bytes([0x44; 32]);
    let contexts = [
        ObjectContext {
            data_class: DataClass::Memory,
            operator: &op,
            actor: &op,
            name: "openrouter",
        },
        ObjectContext {
            data_class: DataClass::Credentials,
            operator: &op,
            actor: &agent,
            name: "openrouter",
        },
        ObjectContext {
            data_class: DataClass::Credentials,
            operator: &agent,
            actor: &op,
            name: "openrouter",
        },
        ObjectContext {
            data_class: DataClass::Credentials,
            operator: &op,
            actor: &op,
            name: "anthropic",
        },
    ];
    for ctx in contexts {
        assert!(envelope::open(&dek, &env, &ctx).is_err(), "{ctx:?}");
    }
}

fn sample_cap() -> CapClaims {
    let addr = device().address();
    CapClaims {
        iss: "http://127.0.0.1:8787".into(),
        aud: "agentkeys-vault".into(),
        sub: operator(),
        opr: operator(),
        op: Op::Fetch,
        dc: DataClass::Credentials,
        svc: "openrouter".into(),
        dkh: format!("0x{}", hex::encode(addr.device_key_hash())),
        epoch: 1,
        iat: 1_760_000_000,
        exp: 1_760_000_300,
        jti: "AAECAwQFBgcICQoLDA0ODw".into(),
        cnf: Confirmation { eth_addr: addr },
    }
}

#[test]
fn es256_key_vector() {
    let k = k1();
    show("k1_kid", k.kid());
    assert_eq!(k.kid(), K1_KID);
}

#[test]
fn cap_token_vector() {
    let token = sample_cap().sign(&k1()).unwrap();
    show("cap_token", &token);
    assert_eq!(token, CAP_TOKEN);
}

#[test]
fn session_token_vector() {
    let claims = SessionClaims {
        iss: "http://127.0.0.1:8787".into(),
        aud: "http://127.0.0.1:8787".into(),
        sub: device().address(),
        opr: operator(),
        act: operator(),
        role: "master".into(),
        iat: 1_760_000_000,
        exp: 1_760_003_600,
        jti: "AAECAwQFBgcICQoLDA0ODw".into(),
    };
    let token = claims.sign(&k1()).unwrap();
    show("session_token", &token);
    assert_eq!(token, SESSION_TOKEN);
}

#[test]
fn siwe_vector() {
    let challenge = SiweChallenge {
        domain: "127.0.0.1:8787".into(),
        uri: "http://127.0.0.1:8787".into(),
        chain_id: 31337,
        nonce: "n0nceAbc12345678".into(),
        issued_at: "2025-10-09T08:00:00Z".into(),
        expiration_time: "2025-10-09T08:05:00Z".into(),
    };
    let msg = siwe_msg::build_message(&challenge, &device().address()).unwrap();
    show("siwe_message", &format!("{msg:?}"));
    assert_eq!(msg, SIWE_MESSAGE);
    let sig = device().sign_personal(msg.as_bytes());
    show("siwe_signature", &hex::encode(sig));
    assert_eq!(hex::encode(sig), SIWE_SIGNATURE);
}

#[test]
fn pop_vector() {
    let (jti, body, nonce) = (
        "AAECAwQFBgcICQoLDA0ODw",
        br#"{"name":"openrouter"}"#,
        "000102030405060708090a0b0c0d0e0f",
    );
    let input = pop::signing_input(jti, "post", "/v1/cred/fetch", body, 1_760_000_010, nonce);
    show("pop_input", &format!("{input:?}"));
    assert_eq!(input, POP_INPUT);
    let header = pop::sign_with_nonce(
        &device(),
        jti,
        "POST",
        "/v1/cred/fetch",
        body,
        1_760_000_010,
        nonce,
    );
    show("pop_header", &header);
    assert_eq!(header, POP_HEADER);
    let key = hex::encode(pop::replay_key(jti, nonce));
    show("pop_replay_key", &key);
    assert_eq!(key, POP_REPLAY_KEY);
}

const OPERATOR_OMNI: &str = "579bc7d29fcbe496d9a0f0818b090b5ed27a365b06d57cefea9bc5b81cf3bf52";
const AGENT_OMNI: &str = "c9879ddcc7bc6bad37096253d2cf56697fd1b288dae591ee51c58be0b4cf3e87";
const DEVICE_KEY_HASH: &str = "2f93d0dfb1562c03c825a33eec4438e468c17fff649ae844c004065985ae2945";
const KEK: &str = "6f44bec6fdd7463ad4fde4422aecb7b30197620849baa58276a1b9308770aa83";
const WRAPPED_DEK: &str = "555555555555555555555555cf2e88d230523b7168ef5c450178c9820609b73b44d539659bb6d54e082438523d6b3c1ec083c69669d84dc903196944";
const ENVELOPE: &str = "414b450200000001003c555555555555555555555555cf2e88d230523b7168ef5c450178c9820609b73b44d539659bb6d54e082438523d6b3c1ec083c69669d84dc90319694466666666666666666666666699f8d7b666b8edc1b478eee550c5dda2e77e2921868b54";
const KEK_V1: &str = "d1d16b73c079b975fcff787d22e2bbe63987c27f172ba0383970e5ad86b7856a";
const WRAPPED_DEK_V1: &str = "555555555555555555555555fc498f64fbcb78895cdd1c089a752f9ba4c9024e5ebdc4e1544a8a29f44ecfd825e4336e5ce1b8b3a33e3bf18064a43a";
const ENVELOPE_V1: &str = "414b450100000001003c555555555555555555555555fc498f64fbcb78895cdd1c089a752f9ba4c9024e5ebdc4e1544a8a29f44ecfd825e4336e5ce1b8b3a33e3bf18064a43a66666666666666666666666699f8d7b666b8ed4e8583cd5a698dda99acf043329688e3";
const K1_KID: &str = "OEurnbzOGbRad4qOD9lNK8VYMQGvg5cmLnVKeydAqL4";
const CAP_TOKEN: &str = "eyJ0eXAiOiJhZ2VudGtleXMtY2FwK2p3dCIsImFsZyI6IkVTMjU2Iiwia2lkIjoiT0V1cm5iek9HYlJhZDRxT0Q5bE5LOFZZTVFHdmc1Y21MblZLZXlkQXFMNCJ9.eyJpc3MiOiJodHRwOi8vMTI3LjAuMC4xOjg3ODciLCJhdWQiOiJhZ2VudGtleXMtdmF1bHQiLCJzdWIiOiI1NzliYzdkMjlmY2JlNDk2ZDlhMGYwODE4YjA5MGI1ZWQyN2EzNjViMDZkNTdjZWZlYTliYzViODFjZjNiZjUyIiwib3ByIjoiNTc5YmM3ZDI5ZmNiZTQ5NmQ5YTBmMDgxOGIwOTBiNWVkMjdhMzY1YjA2ZDU3Y2VmZWE5YmM1YjgxY2YzYmY1MiIsIm9wIjoiZmV0Y2giLCJkYyI6ImNyZWRlbnRpYWxzIiwic3ZjIjoib3BlbnJvdXRlciIsImRraCI6IjB4MmY5M2QwZGZiMTU2MmMwM2M4MjVhMzNlZWM0NDM4ZTQ2OGMxN2ZmZjY0OWFlODQ0YzAwNDA2NTk4NWFlMjk0NSIsImVwb2NoIjoxLCJpYXQiOjE3NjAwMDAwMDAsImV4cCI6MTc2MDAwMDMwMCwianRpIjoiQUFFQ0F3UUZCZ2NJQ1FvTERBME9EdyIsImNuZiI6eyJldGhfYWRkciI6IjB4MmM3NTM2ZTM2MDVkOWMxNmE3YTNkN2IxODk4ZTUyOTM5NmE2NWMyMyJ9fQ.3yvdZsoAl4EjBcX0q1EQuC8Oor3KZ1oeTzmr2WNz2QrxIXx-wp3YTUicpbuJ0NKlw-NRBq3MCq1D9_R65FR49w";
const SESSION_TOKEN: &str = "eyJ0eXAiOiJhZ2VudGtleXMtc2Vzc2lvbitqd3QiLCJhbGciOiJFUzI1NiIsImtpZCI6Ik9FdXJuYnpPR2JSYWQ0cU9EOWxOSzhWWU1RR3ZnNWNtTG5WS2V5ZEFxTDQifQ.eyJpc3MiOiJodHRwOi8vMTI3LjAuMC4xOjg3ODciLCJhdWQiOiJodHRwOi8vMTI3LjAuMC4xOjg3ODciLCJzdWIiOiIweDJjNzUzNmUzNjA1ZDljMTZhN2EzZDdiMTg5OGU1MjkzOTZhNjVjMjMiLCJvcHIiOiI1NzliYzdkMjlmY2JlNDk2ZDlhMGYwODE4YjA5MGI1ZWQyN2EzNjViMDZkNTdjZWZlYTliYzViODFjZjNiZjUyIiwiYWN0IjoiNTc5YmM3ZDI5ZmNiZTQ5NmQ5YTBmMDgxOGIwOTBiNWVkMjdhMzY1YjA2ZDU3Y2VmZWE5YmM1YjgxY2YzYmY1MiIsInJvbGUiOiJtYXN0ZXIiLCJpYXQiOjE3NjAwMDAwMDAsImV4cCI6MTc2MDAwMzYwMCwianRpIjoiQUFFQ0F3UUZCZ2NJQ1FvTERBME9EdyJ9.OP4FXVjnLMdktMF5BG0MXaKZvPc8_MlQYFQAdbC7fdJXiqnqoHT9j3nDeLVglazw212h9pGo9jHh9Nd0EAMXow";
const SIWE_MESSAGE: &str = "127.0.0.1:8787 wants you to sign in with your Ethereum account:\n0x2c7536E3605D9C16a7a3D7b1898e529396a65c23\n\nSign in to AgentKeys with this device key.\n\nURI: http://127.0.0.1:8787\nVersion: 1\nChain ID: 31337\nNonce: n0nceAbc12345678\nIssued At: 2025-10-09T08:00:00Z\nExpiration Time: 2025-10-09T08:05:00Z";
const SIWE_SIGNATURE: &str = "827c79c0da76eefb70819481d5f95a70e5d5a78fdf07b16d1dbd55ce28062ead383b5f5980dc2203554cbd261d19a047507a090dc3bd4bada3fd6c48b0bd39ac1b";
const POP_INPUT: &str = "agentkeys-pop-v1\nAAECAwQFBgcICQoLDA0ODw\nPOST\n/v1/cred/fetch\na49e3f253c81a208e7bb816e44233bb2527feec7864f76b5300f4cfe39a2b32a\n1760000010\n000102030405060708090a0b0c0d0e0f";
const POP_REPLAY_KEY: &str = "77c51b1d13c0311d20ac7ab74f0b11dec2f058efaec7659b61b6f1193ca0f14d";
const POP_HEADER: &str = "t=1760000010,n=000102030405060708090a0b0c0d0e0f,sig=0xf4889e21d127ac04c6b82a44750b83049fc2097a3a2c34aa774f2eb7414d63c63685311c4c30690dee3253643a39883cd82b053e8c6f6aa121cbc04a0172e71b1c";
