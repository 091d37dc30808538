//! The ceremony API driven without a browser: a soft passkey (webauthn-authenticator-rs) plays
//! the authenticator, reqwest plays the page (fetch the options, post the credential).

use std::net::SocketAddr;
use std::time::Duration;

use agentkeys_core::b64;
use agentkeys_core::error::ErrorCode;
use agentkeys_core::passkey::{
    challenge_field, rp_id_hash, sha256, ChainAssertion, EnrolledPasskey, P256PublicKey, FLAG_UP,
    FLAG_UV, TYPE_GET_FIELD,
};
use p256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{json, Value};
use webauthn_authenticator_rs::prelude::Url;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse};

use super::assert::{chain_assertion, Expected};
use super::{AssertSpec, Ceremony, CeremonySettings, EnrollSpec, Role};

const CHALLENGE: [u8; 32] = [0xc3; 32];

fn settings() -> CeremonySettings {
    CeremonySettings {
        timeout: Duration::from_secs(20),
        request_timeout: Duration::from_secs(10),
    }
}

fn enroll_spec(role: Role) -> EnrollSpec {
    EnrollSpec {
        role,
        operation: "Enroll the passkey of this device".into(),
        user_name: "agentkeys@test".into(),
        user_display_name: "AgentKeys test".into(),
        exclude_credentials: vec![],
    }
}

/// An HTTP client that reaches the ceremony at its RP ID (`*.localhost` is not in every
/// resolver), as a browser would.
struct Page {
    url: String,
    origin: String,
    client: reqwest::Client,
}

impl Page {
    fn new<T>(ceremony: &Ceremony<T>) -> Page {
        let url = Url::parse(ceremony.url()).unwrap();
        let host = url.host_str().unwrap().to_string();
        let port = url.port().unwrap();
        let client = reqwest::Client::builder()
            .resolve(&host, SocketAddr::from(([127, 0, 0, 1], port)))
            .no_proxy()
            .build()
            .unwrap();
        Page {
            url: ceremony.url().to_string(),
            origin: ceremony.origin().to_string(),
            client,
        }
    }

    async fn options(&self) -> Value {
        let resp = self
            .client
            .get(format!("{}/options", self.url))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let mut options: Value = resp.json().await.unwrap();
        assert!(options["kind"] == "create" || options["kind"] == "get");
        options.as_object_mut().unwrap().remove("kind");
        options
    }

    async fn post(&self, body: Value) -> (u16, Value) {
        let resp = self
            .client
            .post(format!("{}/result", self.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    fn origin_url(&self) -> Url {
        Url::parse(&self.origin).unwrap()
    }
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

fn message(body: &Value) -> &str {
    body["error"]["message"].as_str().unwrap_or("")
}

/// A UV-capable soft passkey (the soft token refuses UV unless told to claim it).
fn authenticator() -> WebauthnAuthenticator<SoftPasskey> {
    WebauthnAuthenticator::new(SoftPasskey::new(true))
}

async fn enroll_with(auth: &mut WebauthnAuthenticator<SoftPasskey>, role: Role) -> EnrolledPasskey {
    let ceremony = Ceremony::enroll(enroll_spec(role), settings())
        .await
        .unwrap();
    let page = Page::new(&ceremony);
    let options: CreationChallengeResponse = serde_json::from_value(page.options().await).unwrap();
    let cred = auth.do_registration(page.origin_url(), options).unwrap();
    let (status, body) = page.post(json!({ "credential": cred })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ok"], true);
    ceremony.wait().await.unwrap()
}

#[tokio::test]
async fn enrollment_yields_the_p256_key_and_rp_id_hash() {
    // The soft token refuses http:// origins other than exactly `localhost`, so the companion's
    // RP ID (`companion.localhost`) is left to the headless-browser tests.
    for role in [Role::Primary] {
        let mut auth = authenticator();
        let enrolled = enroll_with(&mut auth, role).await;
        assert_eq!(enrolled.rp_id, role.rp_id());
        assert_eq!(enrolled.rp_id_hash, sha256(role.rp_id().as_bytes()));
        assert!(!enrolled.credential_id.is_empty());
        assert!(enrolled.public_key.verifying_key().is_some());
        assert_eq!(enrolled.sign_count, 0);
    }
}

#[tokio::test]
async fn enrollment_options_are_es256_uv_required_resident_preferred() {
    let ceremony = Ceremony::enroll(enroll_spec(Role::Primary), settings())
        .await
        .unwrap();
    let page = Page::new(&ceremony);
    let pk = &page.options().await["publicKey"];
    assert_eq!(
        pk["pubKeyCredParams"],
        json!([{ "type": "public-key", "alg": -7 }])
    );
    assert_eq!(pk["authenticatorSelection"]["userVerification"], "required");
    assert_eq!(pk["authenticatorSelection"]["residentKey"], "preferred");
    assert_eq!(pk["rp"]["id"], "localhost");
    assert!(ceremony.url().starts_with("http://localhost:"));
}

#[tokio::test]
async fn enrollment_without_user_verification_is_refused() {
    let ceremony = Ceremony::enroll(enroll_spec(Role::Primary), settings())
        .await
        .unwrap();
    let page = Page::new(&ceremony);
    let mut options = page.options().await;
    // The authenticator is told UV is not needed, so its flags lack UV.
    options["publicKey"]["authenticatorSelection"]["userVerification"] = "discouraged".into();
    let options: CreationChallengeResponse = serde_json::from_value(options).unwrap();
    let cred = WebauthnAuthenticator::new(SoftPasskey::new(false))
        .do_registration(page.origin_url(), options)
        .unwrap();
    let (status, body) = page.post(json!({ "credential": cred })).await;
    assert_eq!((status, code(&body)), (401, "passkey_not_verified"));
    let err = ceremony.wait().await.unwrap_err();
    assert_eq!(err.code, ErrorCode::PasskeyNotVerified);
}

#[tokio::test]
async fn enrollment_for_another_rp_id_or_origin_is_refused() {
    // Another RP ID (the soft token only checks that the origin's domain ends with it).
    let ceremony = Ceremony::enroll(enroll_spec(Role::Primary), settings())
        .await
        .unwrap();
    let page = Page::new(&ceremony);
    let mut options = page.options().await;
    options["publicKey"]["rp"]["id"] = "host".into();
    let options: CreationChallengeResponse = serde_json::from_value(options).unwrap();
    let cred = authenticator()
        .do_registration(page.origin_url(), options)
        .unwrap();
    let (status, body) = page.post(json!({ "credential": cred })).await;
    assert_eq!((status, code(&body)), (400, "ceremony_failed"), "{body}");
    assert!(message(&body).contains("relying party id hash"), "{body}");
    assert_eq!(
        ceremony.wait().await.unwrap_err().code,
        ErrorCode::CeremonyFailed
    );

    // The right RP ID, another origin (port).
    let ceremony = Ceremony::enroll(enroll_spec(Role::Primary), settings())
        .await
        .unwrap();
    let page = Page::new(&ceremony);
    let options: CreationChallengeResponse = serde_json::from_value(page.options().await).unwrap();
    let other = Url::parse("http://localhost:1").unwrap();
    let cred = authenticator().do_registration(other, options).unwrap();
    let (status, body) = page.post(json!({ "credential": cred })).await;
    assert_eq!((status, code(&body)), (400, "ceremony_failed"), "{body}");
    assert!(message(&body).contains("origin does not match"), "{body}");
}

async fn assert_ceremony(
    enrolled: &EnrolledPasskey,
    role: Role,
) -> (Ceremony<ChainAssertion>, Page) {
    let spec = AssertSpec {
        role,
        operation: "Allow agent coder to read openrouter, anthropic".into(),
        challenge: CHALLENGE,
        credential_id: enrolled.credential_id.clone(),
        public_key: enrolled.public_key,
    };
    let ceremony = Ceremony::assert(spec, settings()).await.unwrap();
    let page = Page::new(&ceremony);
    (ceremony, page)
}

/// The contract's checks, written out again independently of `ChainAssertion::check`.
fn verify_like_the_contract(a: &ChainAssertion, key: &P256PublicKey, rp_id: &str) {
    let cl = a.challenge_location as usize;
    let tl = a.type_location as usize;
    assert_eq!(
        &a.client_data_json[cl..cl + 57],
        format!("\"challenge\":\"{}\"", b64::encode_url(&CHALLENGE)).as_bytes()
    );
    assert_eq!(&a.client_data_json[tl..tl + 21], TYPE_GET_FIELD.as_bytes());
    assert_eq!(&a.authenticator_data[..32], &sha256(rp_id.as_bytes()));
    let flags = a.authenticator_data[32];
    assert_eq!(flags & (FLAG_UP | FLAG_UV), FLAG_UP | FLAG_UV);
    let sig = Signature::from_scalars(a.r, a.s).unwrap();
    assert!(sig.normalize_s().is_none(), "s must be low");
    let digest = sha256(
        &[
            a.authenticator_data.as_slice(),
            &sha256(&a.client_data_json),
        ]
        .concat(),
    );
    key.verifying_key()
        .unwrap()
        .verify_prehash(&digest, &sig)
        .unwrap();
}

#[tokio::test]
async fn assertion_becomes_the_chain_payload() {
    for role in [Role::Primary] {
        let mut auth = authenticator();
        let enrolled = enroll_with(&mut auth, role).await;
        // Several rounds, so that both an authenticator's high and low s go through.
        for round in 1..=4u32 {
            let (ceremony, page) = assert_ceremony(&enrolled, role).await;
            let options = page.options().await;
            assert_eq!(
                options["publicKey"]["challenge"],
                b64::encode_url(&CHALLENGE)
            );
            assert_eq!(options["publicKey"]["userVerification"], "required");
            let options: RequestChallengeResponse = serde_json::from_value(options).unwrap();
            let cred = auth.do_authentication(page.origin_url(), options).unwrap();
            let (status, body) = page.post(json!({ "credential": cred })).await;
            assert_eq!(status, 200, "{body}");
            let a = ceremony.wait().await.unwrap();
            verify_like_the_contract(&a, &enrolled.public_key, role.rp_id());
            assert_eq!(a.sign_count(), round);
            let binding = super::chain::to_scope(&a);
            assert_eq!(
                binding.clientDataJSON.as_ref(),
                a.client_data_json.as_slice()
            );
        }
    }
}

#[tokio::test]
async fn assertion_without_user_verification_is_refused() {
    let mut auth = authenticator();
    let enrolled = enroll_with(&mut auth, Role::Primary).await;
    let (ceremony, page) = assert_ceremony(&enrolled, Role::Primary).await;
    let mut options = page.options().await;
    options["publicKey"]["userVerification"] = "discouraged".into();
    let options: RequestChallengeResponse = serde_json::from_value(options).unwrap();
    let cred = auth.do_authentication(page.origin_url(), options).unwrap();
    let (status, body) = page.post(json!({ "credential": cred })).await;
    assert_eq!((status, code(&body)), (401, "passkey_not_verified"));
    assert_eq!(
        ceremony.wait().await.unwrap_err().code,
        ErrorCode::PasskeyNotVerified
    );
}

#[tokio::test]
async fn assertion_over_a_wrong_challenge_rp_id_or_origin_is_refused() {
    let mut auth = authenticator();
    let enrolled = enroll_with(&mut auth, Role::Primary).await;
    type Case = (&'static str, fn(&mut Value), Option<&'static str>);
    let cases: [Case; 3] = [
        (
            "another challenge",
            |o| o["publicKey"]["challenge"] = b64::encode_url(&[1u8; 32]).into(),
            None,
        ),
        // The soft token only checks that the origin's domain ends with the RP ID.
        (
            "another RP ID",
            |o| o["publicKey"]["rpId"] = "host".into(),
            None,
        ),
        ("another origin", |_| {}, Some("http://localhost:1")),
    ];
    for (what, spoil, origin) in cases {
        let (ceremony, page) = assert_ceremony(&enrolled, Role::Primary).await;
        let mut options = page.options().await;
        spoil(&mut options);
        let options: RequestChallengeResponse = serde_json::from_value(options).unwrap();
        let origin = origin
            .map(|o| Url::parse(o).unwrap())
            .unwrap_or(page.origin_url());
        let cred = auth.do_authentication(origin, options).unwrap();
        let (status, body) = page.post(json!({ "credential": cred })).await;
        assert_eq!(
            (status, code(&body)),
            (400, "ceremony_failed"),
            "{what}: {body}"
        );
        assert!(message(&body).contains(what), "{what}: {body}");
        let err = ceremony.wait().await.unwrap_err();
        assert_eq!(err.code, ErrorCode::CeremonyFailed, "{what}");
    }
}

#[tokio::test]
async fn another_credential_is_refused() {
    let mut auth = authenticator();
    let enrolled = enroll_with(&mut auth, Role::Primary).await;
    let other = enroll_with(&mut auth, Role::Primary).await;
    let (ceremony, page) = assert_ceremony(&enrolled, Role::Primary).await;
    let mut options = page.options().await;
    options["publicKey"]["allowCredentials"][0]["id"] =
        b64::encode_url(&other.credential_id).into();
    let options: RequestChallengeResponse = serde_json::from_value(options).unwrap();
    let cred = auth.do_authentication(page.origin_url(), options).unwrap();
    let (status, body) = page.post(json!({ "credential": cred })).await;
    assert_eq!((status, code(&body)), (400, "ceremony_failed"));
    assert!(ceremony.wait().await.is_err());
}

/// A hand-made assertion whose authenticator returned the high s: the payload carries n - s.
#[test]
fn high_s_is_normalised_and_offsets_found() {
    let key = SigningKey::from_slice(&[5u8; 32]).unwrap();
    let point = key.verifying_key().to_encoded_point(false);
    let public = P256PublicKey {
        x: point.x().unwrap()[..].try_into().unwrap(),
        y: point.y().unwrap()[..].try_into().unwrap(),
    };
    let origin = "http://localhost:4242";
    let json = format!(
        r#"{{"type":"webauthn.get","challenge":"{}","origin":"{origin}","crossOrigin":false,"other_keys_can_be_added_here":"x"}}"#,
        b64::encode_url(&CHALLENGE)
    );
    let mut data = rp_id_hash("localhost").to_vec();
    data.push(FLAG_UP | FLAG_UV);
    data.extend_from_slice(&3u32.to_be_bytes());
    let digest = sha256(&[data.as_slice(), &sha256(json.as_bytes())].concat());
    let sig: Signature = key.sign_prehash(&digest).unwrap();
    let low = sig.normalize_s().unwrap_or(sig);
    let high = Signature::from_scalars(low.r().to_bytes(), (-*low.s()).to_bytes()).unwrap();
    assert!(high.normalize_s().is_some());
    let expected = Expected {
        challenge: &CHALLENGE,
        rp_id: "localhost",
        origin,
        public_key: &public,
    };
    for sig in [low, high] {
        let a = chain_assertion(
            data.clone(),
            json.clone().into_bytes(),
            sig.to_der().as_bytes(),
            &expected,
        )
        .unwrap();
        assert_eq!(a.s, <[u8; 32]>::from(low.s().to_bytes()));
        assert_eq!(a.type_location, 1);
        assert_eq!(
            a.challenge_location as usize,
            json.find(&challenge_field(&CHALLENGE)).unwrap()
        );
        verify_like_the_contract(&a, &public, "localhost");
    }
}

#[tokio::test]
async fn a_browser_error_ends_the_ceremony() {
    let ceremony = Ceremony::enroll(enroll_spec(Role::Primary), settings())
        .await
        .unwrap();
    let page = Page::new(&ceremony);
    let (status, body) = page
        .post(json!({ "error": { "name": "NotAllowedError", "message": "cancelled" } }))
        .await;
    assert_eq!((status, code(&body)), (400, "ceremony_failed"));
    let err = ceremony.wait().await.unwrap_err();
    assert!(err.message.contains("NotAllowedError"), "{}", err.message);
}

#[tokio::test]
async fn times_out_with_its_code_and_stops() {
    let ceremony = Ceremony::enroll(
        enroll_spec(Role::Primary),
        CeremonySettings {
            timeout: Duration::from_millis(300),
            request_timeout: Duration::from_secs(5),
        },
    )
    .await
    .unwrap();
    let page = Page::new(&ceremony);
    let err = ceremony.wait().await.unwrap_err();
    assert_eq!(err.code, ErrorCode::CeremonyTimeout);
    assert_eq!(err.status(), 408);
    // The server is gone: one ceremony, then nothing.
    assert!(page.client.get(&page.url).send().await.is_err());
}

#[tokio::test]
async fn only_the_token_path_is_served() {
    let ceremony = Ceremony::enroll(enroll_spec(Role::Companion), settings())
        .await
        .unwrap();
    let page = Page::new(&ceremony);
    assert!(ceremony.url().starts_with("http://companion.localhost:"));
    let resp = page.client.get(&page.url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let csp = resp.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'"));
    assert_eq!(resp.headers()["referrer-policy"], "no-referrer");
    let html = resp.text().await.unwrap();
    assert!(html.contains("Companion device") && html.contains("companion.localhost"));
    assert!(html.contains("Enroll the passkey of this device"));

    let base = page.origin.clone();
    for path in ["/", "/favicon.ico", "/nottoken", "/nottoken/options"] {
        let resp = page
            .client
            .get(format!("{base}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404, "{path}");
    }
    let resp = page
        .client
        .get(format!("{}/other", page.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let resp = page
        .client
        .post(format!("{}/options", page.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    // At an IP: refused with a hint (an IP is not a valid RP ID).
    let port = Url::parse(&page.origin).unwrap().port().unwrap();
    let token = page.url.rsplit('/').next().unwrap();
    let resp = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("http://127.0.0.1:{port}/{token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    // Body limit.
    let big = "x".repeat(super::result::MAX_RESULT_BYTES + 1);
    let resp = page
        .client
        .post(format!("{}/result", page.url))
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    // Malformed bodies do not use up the ceremony.
    let (status, _) = page.post(json!({ "nonsense": 1 })).await;
    assert_eq!(status, 400);
    let resp = page.client.get(&page.url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    drop(ceremony);
}
