//! The negative suite for capabilities, proofs and sign-in against the real relay binary:
//! every refusal asserts its exact HTTP status and error code.

use agentkeys_core::cap::{peek_claims, CapClaims};
use agentkeys_core::device_key::DeviceKey;
use agentkeys_core::es256::{Es256Key, KeyPurpose};
use agentkeys_core::identity::Omni;
use agentkeys_core::names::{DataClass, Op};
use agentkeys_core::siwe_msg;
use agentkeys_core::time_util::now_secs;
use agentkeys_core::wire::{CapRequest, NameRequest, PutRequest, SecretValue};
use agentkeys_tests::relay::RelayProc;
use agentkeys_tests::relay_client::{code, Pop, RelayClient};

fn fetch_body(name: &str) -> Vec<u8> {
    serde_json::to_vec(&NameRequest { name: name.into() }).unwrap()
}

fn k1_of(relay: &RelayProc) -> Es256Key {
    let bytes = std::fs::read(relay.data_dir.join("broker/k1-session.key")).unwrap();
    Es256Key::from_file_bytes(KeyPurpose::Session, &bytes).unwrap()
}

/// Re-signs a capability's claims after `edit`, with the relay's own K1 (so only the edited
/// claim is wrong).
fn resign(relay: &RelayProc, cap: &str, edit: impl FnOnce(&mut CapClaims)) -> String {
    let mut claims = peek_claims(cap).unwrap();
    edit(&mut claims);
    claims.sign(&k1_of(relay)).unwrap()
}

async fn setup() -> (tempfile::TempDir, RelayProc, RelayClient) {
    let dir = tempfile::tempdir().unwrap();
    let relay = RelayProc::start(&dir.path().join("relay"), &[]);
    let mut client = RelayClient::new(&relay.url);
    client.sign_in().await;
    let (status, v) = client
        .store(DataClass::Credentials, "openrouter", b"sk-test")
        .await;
    assert_eq!(status, 200, "{v}");
    (dir, relay, client)
}

#[tokio::test(flavor = "multi_thread")]
async fn capability_refusals() {
    let (_dir, relay, c) = setup().await;
    let cap = c.cap(DataClass::Credentials, Op::Fetch, "openrouter").await;
    let fetch = |cap: Option<String>| {
        let c = &c;
        async move {
            c.vault(
                DataClass::Credentials,
                Op::Fetch,
                cap.as_deref(),
                fetch_body("openrouter"),
                Pop::Valid,
            )
            .await
        }
    };

    // The genuine capability works.
    let (s, v) = fetch(Some(cap.clone())).await;
    assert_eq!(s, 200, "{v}");

    let (s, v) = fetch(None).await;
    assert_eq!((s, code(&v).as_str()), (401, "cap_missing"));

    // Forged: the genuine header and claims with a signature from another key.
    let rogue = Es256Key::generate(KeyPurpose::Session);
    let forged_sig = peek_claims(&cap).unwrap().sign(&rogue).unwrap();
    let spliced = format!(
        "{}.{}",
        cap.rsplit_once('.').unwrap().0,
        forged_sig.rsplit_once('.').unwrap().1
    );
    let (s, v) = fetch(Some(spliced)).await;
    assert_eq!((s, code(&v).as_str()), (401, "cap_bad_signature"));

    // Signed by a key the broker never published.
    let (s, v) = fetch(Some(peek_claims(&cap).unwrap().sign(&rogue).unwrap())).await;
    assert_eq!((s, code(&v).as_str()), (401, "cap_unknown_key"));

    let now = now_secs();
    let expired = resign(&relay, &cap, |c| {
        c.iat = now - 400;
        c.exp = now - 100;
    });
    let (s, v) = fetch(Some(expired)).await;
    assert_eq!((s, code(&v).as_str()), (401, "cap_expired"));

    let wrong_aud = resign(&relay, &cap, |c| c.aud = "someone-elses-vault".into());
    let (s, v) = fetch(Some(wrong_aud)).await;
    assert_eq!((s, code(&v).as_str()), (401, "cap_wrong_audience"));

    // A session token is not a capability, although the same key signed it.
    let (s, v) = fetch(c.session.clone()).await;
    assert_eq!((s, code(&v).as_str()), (401, "cap_wrong_type"));

    // Wrong operation: a fetch capability on the store route.
    let body = serde_json::to_vec(&PutRequest {
        name: "openrouter".into(),
        value: SecretValue::from_bytes(b"x"),
    })
    .unwrap();
    let (s, v) = c
        .vault(
            DataClass::Credentials,
            Op::Store,
            Some(&cap),
            body,
            Pop::Valid,
        )
        .await;
    assert_eq!((s, code(&v).as_str()), (403, "cap_op_mismatch"));

    // Wrong data class: a credentials capability on the memory route.
    let (s, v) = c
        .vault(
            DataClass::Memory,
            Op::Fetch,
            Some(&cap),
            fetch_body("openrouter"),
            Pop::Valid,
        )
        .await;
    assert_eq!((s, code(&v).as_str()), (403, "cap_data_class_mismatch"));

    // Wrong service: the capability names openrouter, the body another service.
    let (s, v) = c
        .vault(
            DataClass::Credentials,
            Op::Fetch,
            Some(&cap),
            fetch_body("anthropic"),
            Pop::Valid,
        )
        .await;
    assert_eq!((s, code(&v).as_str()), (403, "cap_service_mismatch"));

    // Nothing above released the secret or wrote anything: the value is unchanged.
    assert_eq!(
        c.fetch_value(DataClass::Credentials, "openrouter").await,
        b"sk-test"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn proof_of_possession_refusals() {
    let (_dir, _relay, c) = setup().await;
    let cap = c.cap(DataClass::Credentials, Op::Fetch, "openrouter").await;
    let run = |p: Pop<'static>| {
        let (c, cap) = (&c, cap.clone());
        async move {
            c.vault(
                DataClass::Credentials,
                Op::Fetch,
                Some(&cap),
                fetch_body("openrouter"),
                p,
            )
            .await
        }
    };
    let (s, v) = run(Pop::Missing).await;
    assert_eq!((s, code(&v).as_str()), (401, "pop_missing"));
    let (s, v) = run(Pop::Raw("t=1,sig=nothex".into())).await;
    assert_eq!((s, code(&v).as_str()), (401, "pop_malformed"));
    let thief: &'static DeviceKey = Box::leak(Box::new(DeviceKey::generate()));
    let (s, v) = run(Pop::SignedBy(thief)).await;
    assert_eq!((s, code(&v).as_str()), (401, "pop_invalid"));
    let (s, v) = run(Pop::At(now_secs() - 120)).await;
    assert_eq!((s, code(&v).as_str()), (401, "pop_stale"));
    let (s, v) = run(Pop::At(now_secs() + 120)).await;
    assert_eq!((s, code(&v).as_str()), (401, "pop_stale"));

    // A proof over another body does not verify for this one.
    let jti = peek_claims(&cap).unwrap().jti;
    let other = agentkeys_core::pop::sign(
        &c.key,
        &jti,
        "POST",
        "/v1/cred/fetch",
        &fetch_body("anthropic"),
        now_secs(),
    );
    let (s, v) = run(Pop::Raw(other)).await;
    assert_eq!((s, code(&v).as_str()), (401, "pop_invalid"));

    // Replay: the same proof twice.
    let body = fetch_body("openrouter");
    let proof =
        agentkeys_core::pop::sign(&c.key, &jti, "POST", "/v1/cred/fetch", &body, now_secs());
    let (s, v) = run(Pop::Raw(proof.clone())).await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = run(Pop::Raw(proof)).await;
    assert_eq!((s, code(&v).as_str()), (401, "pop_replayed"));

    // Identical requests in the same second on one capability are not replays of each other.
    let ts = now_secs();
    let (a, b) = tokio::join!(run(Pop::At(ts)), run(Pop::At(ts)));
    assert_eq!((a.0, b.0), (200, 200), "{} {}", a.1, b.1);
}

#[tokio::test(flavor = "multi_thread")]
async fn broker_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let relay = RelayProc::start(&dir.path().join("relay"), &[]);
    let mut c = RelayClient::new(&relay.url);

    // Sign-in: the nonce is single use, the domain and chain are bound, signatures checked.
    let ch = c.challenge().await;
    let msg = siwe_msg::build_message(&ch, &c.key.address()).unwrap();
    let sig = format!("0x{}", hex::encode(c.key.sign_personal(msg.as_bytes())));
    let thief = DeviceKey::generate();
    let bad_sig = format!("0x{}", hex::encode(thief.sign_personal(msg.as_bytes())));
    let (s, v) = c.verify(&msg, &bad_sig).await;
    assert_eq!((s, code(&v).as_str()), (401, "siwe_bad_signature"));
    let (s, v) = c.verify(&msg, &sig).await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = c.verify(&msg, &sig).await;
    assert_eq!((s, code(&v).as_str()), (401, "siwe_nonce_invalid"));
    let mut other = c.challenge().await;
    other.domain = "evil.example".into();
    let msg = siwe_msg::build_message(&other, &c.key.address()).unwrap();
    let sig = format!("0x{}", hex::encode(c.key.sign_personal(msg.as_bytes())));
    let (s, v) = c.verify(&msg, &sig).await;
    assert_eq!((s, code(&v).as_str()), (401, "siwe_domain_mismatch"));
    let mut other = c.challenge().await;
    other.chain_id = 1;
    let msg = siwe_msg::build_message(&other, &c.key.address()).unwrap();
    let sig = format!("0x{}", hex::encode(c.key.sign_personal(msg.as_bytes())));
    let (s, v) = c.verify(&msg, &sig).await;
    assert_eq!((s, code(&v).as_str()), (401, "siwe_chain_mismatch"));
    let (s, v) = c.verify("not a siwe message", &sig).await;
    assert_eq!((s, code(&v).as_str()), (400, "siwe_invalid_message"));

    c.sign_in().await;
    let mine = CapRequest {
        operator: c.operator(),
        actor: c.operator(),
        service: "openrouter".into(),
        ttl_secs: None,
    };
    let (s, v) = c
        .cap_request(DataClass::Credentials, Op::Fetch, &mine, None)
        .await;
    assert_eq!((s, code(&v).as_str()), (401, "session_missing"));
    let (s, v) = c
        .cap_request(DataClass::Credentials, Op::Fetch, &mine, Some("garbage"))
        .await;
    assert_eq!((s, code(&v).as_str()), (401, "session_invalid"));

    // Another operator's objects: refused at minting.
    let victim = Omni::operator(&DeviceKey::generate().address());
    let theirs = CapRequest {
        operator: victim,
        actor: victim,
        ..mine.clone()
    };
    let (s, v) = c
        .cap_request(
            DataClass::Credentials,
            Op::Fetch,
            &theirs,
            c.session.as_deref(),
        )
        .await;
    assert_eq!((s, code(&v).as_str()), (403, "operator_mismatch"));
    let agent = Omni::agent(&c.operator(), "coder", 0).unwrap();
    let for_agent = CapRequest {
        actor: agent,
        ..mine.clone()
    };
    let (s, v) = c
        .cap_request(
            DataClass::Credentials,
            Op::Fetch,
            &for_agent,
            c.session.as_deref(),
        )
        .await;
    assert_eq!((s, code(&v).as_str()), (403, "actor_not_permitted"));
    let bad_name = CapRequest {
        service: "../etc".into(),
        ..mine.clone()
    };
    let (s, v) = c
        .cap_request(
            DataClass::Credentials,
            Op::Fetch,
            &bad_name,
            c.session.as_deref(),
        )
        .await;
    assert_eq!((s, code(&v).as_str()), (400, "invalid_service_name"));
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_requests() {
    let (_dir, _relay, c) = setup().await;
    let cap = c.cap(DataClass::Credentials, Op::Store, "big").await;
    let huge = vec![b'a'; 3 * 1024 * 1024];
    let (s, v) = c
        .vault(
            DataClass::Credentials,
            Op::Store,
            Some(&cap),
            huge,
            Pop::Valid,
        )
        .await;
    assert_eq!((s, code(&v).as_str()), (413, "body_too_large"));
    let (s, v) = c
        .vault(
            DataClass::Credentials,
            Op::Store,
            Some(&cap),
            b"{not json".to_vec(),
            Pop::Valid,
        )
        .await;
    assert_eq!((s, code(&v).as_str()), (400, "invalid_json"));
    let (s, v) = c
        .vault(
            DataClass::Credentials,
            Op::Store,
            Some(&cap),
            br#"{"name":"big","value":"%%%"}"#.to_vec(),
            Pop::Valid,
        )
        .await;
    assert_eq!((s, code(&v).as_str()), (400, "invalid_value"));
    let (s, v) = c.post_raw("/v1/nothing-here", &[], b"{}".to_vec()).await;
    assert_eq!((s, code(&v).as_str()), (404, "route_not_found"));
    let (s, v) = c.fetch(DataClass::Credentials, "never-stored").await;
    assert_eq!((s, code(&v).as_str()), (404, "secret_not_found"));
}
