//! The relay client against a small in-process stand-in for the relay that checks what the
//! real one checks on the client's side of the protocol: SIWE signatures, bearer tokens,
//! proofs of possession and their single use.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use agentkeys_core::cap::{peek_claims, CapClaims, Confirmation};
use agentkeys_core::device_key::DeviceKey;
use agentkeys_core::error::{ApiError, ErrorCode};
use agentkeys_core::es256::{Es256Key, Jwks, KeyPurpose};
use agentkeys_core::identity::{Address, Omni};
use agentkeys_core::names::{DataClass, Op};
use agentkeys_core::pop;
use agentkeys_core::routes;
use agentkeys_core::session::SessionClaims;
use agentkeys_core::siwe_msg::{self, SiweChallenge, SiweExpectation};
use agentkeys_core::time_util::now_secs;
use agentkeys_core::wire::{
    CapRequest, CapResponse, GetResponse, NameRequest, PutRequest, PutResponse, SecretValue,
    SessionResponse, SiweVerifyRequest,
};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use time::OffsetDateTime;

use super::RelayClient;
use crate::local::relay_pin::{PinSource, RelayPin};

struct Mock {
    /// Signs sessions and, unless `forger` is set, capabilities.
    k1: Es256Key,
    /// A key the client never pinned: capabilities of the right shape under the wrong key.
    forger: Option<Es256Key>,
    chain_id: u64,
    sessions: HashMap<String, Address>,
    caps: HashSet<String>,
    proofs: HashSet<String>,
    values: HashMap<String, SecretValue>,
    sign_ins: usize,
    mints: usize,
    counter: u64,
}

impl Default for Mock {
    fn default() -> Mock {
        Mock {
            k1: Es256Key::generate(KeyPurpose::Session),
            forger: None,
            chain_id: 31337,
            sessions: HashMap::new(),
            caps: HashSet::new(),
            proofs: HashSet::new(),
            values: HashMap::new(),
            sign_ins: 0,
            mints: 0,
            counter: 0,
        }
    }
}

type Shared = Arc<Mutex<Mock>>;

fn refuse(code: ErrorCode) -> Response {
    let status = StatusCode::from_u16(code.http_status()).unwrap();
    (status, Json(ApiError::from_code(code).to_body())).into_response()
}

fn bearer(headers: &HeaderMap) -> String {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_string()
}

/// The mock's own authority, as the client reached it (a real broker is configured with it).
fn host(headers: &HeaderMap) -> String {
    headers
        .get("host")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

async fn siwe_start(State(m): State<Shared>, headers: HeaderMap) -> Json<SiweChallenge> {
    let chain_id = m.lock().unwrap().chain_id;
    let fmt = &time::format_description::well_known::Rfc3339;
    let now = OffsetDateTime::now_utc();
    let host = host(&headers);
    Json(SiweChallenge {
        uri: format!("http://{host}"),
        domain: host,
        chain_id,
        nonce: "abcdefgh12345678".into(),
        issued_at: now.format(fmt).unwrap(),
        expiration_time: (now + time::Duration::minutes(5)).format(fmt).unwrap(),
    })
}

async fn siwe_verify(
    State(m): State<Shared>,
    headers: HeaderMap,
    Json(req): Json<SiweVerifyRequest>,
) -> Response {
    let host = host(&headers);
    let expect = SiweExpectation {
        domain: &host,
        chain_id: 31337,
        now: OffsetDateTime::now_utc(),
    };
    let verified = match siwe_msg::verify(&req.message, &req.signature, &expect) {
        Ok(v) => v,
        Err(code) => return refuse(code),
    };
    let mut m = m.lock().unwrap();
    m.sign_ins += 1;
    m.counter += 1;
    let operator = Omni::operator(&verified.address);
    let now = now_secs();
    let claims = SessionClaims {
        iss: format!("http://{host}"),
        aud: format!("http://{host}"),
        sub: verified.address,
        opr: operator,
        act: operator,
        role: "master".into(),
        iat: now,
        exp: now + 3600,
        jti: format!("s-{}", m.counter),
    };
    let session = claims.sign(&m.k1).unwrap();
    m.sessions.insert(session.clone(), verified.address);
    Json(SessionResponse {
        session,
        expires_at: claims.exp,
        device: verified.address,
        operator,
        actor: operator,
    })
    .into_response()
}

fn mint(m: &Shared, headers: HeaderMap, req: CapRequest, dc: DataClass, op: Op) -> Response {
    let mut m = m.lock().unwrap();
    let Some(device) = m.sessions.get(&bearer(&headers)).copied() else {
        return refuse(ErrorCode::SessionInvalid);
    };
    m.mints += 1;
    m.counter += 1;
    let now = now_secs();
    let claims = CapClaims {
        iss: format!("http://{}", host(&headers)),
        aud: "vault".into(),
        sub: req.actor,
        opr: req.operator,
        op,
        dc,
        svc: req.service,
        dkh: String::new(),
        epoch: 1,
        iat: now,
        exp: now + 300,
        jti: format!("jti-{}", m.counter),
        cnf: Confirmation { eth_addr: device },
    };
    let cap = claims.sign(m.forger.as_ref().unwrap_or(&m.k1)).unwrap();
    m.caps.insert(cap.clone());
    Json(CapResponse {
        cap,
        expires_at: claims.exp,
    })
    .into_response()
}

/// Checks the capability and the proof; returns the refusal to send, if any.
fn check_vault(m: &mut Mock, headers: &HeaderMap, path: &str, body: &[u8]) -> Option<Response> {
    let cap = bearer(headers);
    if !m.caps.contains(&cap) {
        return Some(refuse(ErrorCode::CapBadSignature));
    }
    let claims = peek_claims(&cap)?;
    let Some(proof) = headers.get(pop::POP_HEADER).and_then(|v| v.to_str().ok()) else {
        return Some(refuse(ErrorCode::PopMissing));
    };
    let cnf = &claims.cnf.eth_addr;
    if let Err(code) = pop::verify(proof, &claims.jti, cnf, "POST", path, body, now_secs()) {
        return Some(refuse(code));
    }
    if !m.proofs.insert(proof.to_string()) {
        return Some(refuse(ErrorCode::PopReplayed));
    }
    None
}

async fn vault_store(State(m): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let mut m = m.lock().unwrap();
    let path = routes::vault_route(DataClass::Credentials, Op::Store);
    if let Some(refusal) = check_vault(&mut m, &headers, path, &body) {
        return refusal;
    }
    let req: PutRequest = serde_json::from_slice(&body).unwrap();
    m.values.insert(req.name.clone(), req.value);
    Json(PutResponse {
        name: req.name,
        stored: true,
    })
    .into_response()
}

async fn vault_fetch(State(m): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let mut m = m.lock().unwrap();
    let path = routes::vault_route(DataClass::Credentials, Op::Fetch);
    if let Some(refusal) = check_vault(&mut m, &headers, path, &body) {
        return refusal;
    }
    let req: NameRequest = serde_json::from_slice(&body).unwrap();
    match m.values.get(&req.name) {
        Some(value) => Json(GetResponse {
            name: req.name,
            value: value.clone(),
        })
        .into_response(),
        None => refuse(ErrorCode::SecretNotFound),
    }
}

async fn jwks(State(m): State<Shared>) -> Json<Jwks> {
    Json(Jwks {
        keys: vec![m.lock().unwrap().k1.jwk().clone()],
    })
}

async fn chain_status(State(m): State<Shared>) -> Json<serde_json::Value> {
    let zero = Address([0; 20]);
    Json(serde_json::json!({
        "adapter": "embedded",
        "chain_id": m.lock().unwrap().chain_id,
        "block_number": 1,
        "contracts": {
            "p256_verifier": zero, "k11_verifier": zero, "registry": zero,
            "scope": zero, "epoch": zero, "audit": zero,
        },
        "submitter": zero,
        "epoch": 1,
    }))
}

async fn start_mock() -> (Shared, String) {
    let state: Shared = Arc::default();
    let app = Router::new()
        .route(routes::JWKS, get(jwks))
        .route(routes::CHAIN_STATUS, get(chain_status))
        .route(routes::SIWE_START, post(siwe_start))
        .route(routes::SIWE_VERIFY, post(siwe_verify))
        .route(
            routes::cap_route(DataClass::Credentials, Op::Store),
            post(
                |s: State<Shared>, h: HeaderMap, Json(r): Json<CapRequest>| async move {
                    mint(&s.0, h, r, DataClass::Credentials, Op::Store)
                },
            ),
        )
        .route(
            routes::cap_route(DataClass::Credentials, Op::Fetch),
            post(
                |s: State<Shared>, h: HeaderMap, Json(r): Json<CapRequest>| async move {
                    mint(&s.0, h, r, DataClass::Credentials, Op::Fetch)
                },
            ),
        )
        .route(
            routes::vault_route(DataClass::Credentials, Op::Store),
            post(vault_store),
        )
        .route(
            routes::vault_route(DataClass::Credentials, Op::Fetch),
            post(vault_fetch),
        )
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (state, url)
}

async fn fetch(client: &RelayClient, key: &DeviceKey, name: &str) -> Result<Vec<u8>, ApiError> {
    let req = NameRequest { name: name.into() };
    let resp: GetResponse = client
        .vault(key, DataClass::Credentials, Op::Fetch, name, &req)
        .await?;
    Ok(resp.value.decode().unwrap().to_vec())
}

#[tokio::test]
async fn sign_in_caps_proofs_and_one_retry() {
    let (mock, url) = start_mock().await;
    let client = RelayClient::new(&url).unwrap();
    let key = DeviceKey::generate();

    let put = PutRequest {
        name: "openrouter".into(),
        value: SecretValue::from_bytes(b"sk-123"),
    };
    let stored: PutResponse = client
        .vault(&key, DataClass::Credentials, Op::Store, "openrouter", &put)
        .await
        .unwrap();
    assert!(stored.stored);

    // Several identical reads in a row (most within one second) must each carry a fresh
    // proof; deterministic signatures would otherwise repeat one.
    for _ in 0..4 {
        assert_eq!(fetch(&client, &key, "openrouter").await.unwrap(), b"sk-123");
    }
    {
        let m = mock.lock().unwrap();
        assert_eq!(m.sign_ins, 1, "the session is cached");
        assert!(m.mints >= 2 && m.mints <= 5, "mints: {}", m.mints);
    }

    // The relay forgets every token (a restart with new keys): one transparent retry.
    {
        let mut m = mock.lock().unwrap();
        m.sessions.clear();
        m.caps.clear();
    }
    assert_eq!(fetch(&client, &key, "openrouter").await.unwrap(), b"sk-123");
    assert_eq!(mock.lock().unwrap().sign_ins, 2);

    // Relay errors come back with their own code.
    let missing = fetch(&client, &key, "nothing").await.unwrap_err();
    assert_eq!(missing.code, ErrorCode::SecretNotFound);
}

#[tokio::test]
async fn unreachable_relay_names_its_url() {
    let client = RelayClient::new("http://127.0.0.1:9").unwrap();
    let key = DeviceKey::generate();
    let err = fetch(&client, &key, "x").await.unwrap_err();
    assert_eq!(err.code, ErrorCode::RelayUnreachable);
    assert!(
        err.message.contains("http://127.0.0.1:9"),
        "{}",
        err.message
    );
    assert!(!client.is_healthy().await);
}

/// A process answering at the relay's address with a challenge for another relay collects no
/// signature it could replay there: the device refuses before signing.
#[tokio::test]
async fn a_challenge_for_another_relay_is_not_signed() {
    let verifies = Arc::new(Mutex::new(0usize));
    let counted = verifies.clone();
    let app = Router::new()
        .route(
            routes::SIWE_START,
            post(|| async {
                let fmt = &time::format_description::well_known::Rfc3339;
                let now = OffsetDateTime::now_utc();
                Json(SiweChallenge {
                    domain: "relay.example".into(),
                    uri: "https://relay.example".into(),
                    chain_id: 31337,
                    nonce: "abcdefgh12345678".into(),
                    issued_at: now.format(fmt).unwrap(),
                    expiration_time: (now + time::Duration::minutes(5)).format(fmt).unwrap(),
                })
            }),
        )
        .route(
            routes::SIWE_VERIFY,
            post(move || async move {
                *counted.lock().unwrap() += 1;
                StatusCode::INTERNAL_SERVER_ERROR
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let client = RelayClient::new(&url).unwrap();
    let k1 = Es256Key::generate(KeyPurpose::Session);
    let jwks = Jwks {
        keys: vec![k1.jwk().clone()],
    };
    let zero = Address([0; 20]);
    let contracts = agentkeys_core::chain::ContractAddresses {
        p256_verifier: zero,
        k11_verifier: zero,
        registry: zero,
        scope: zero,
        epoch: zero,
        audit: zero,
    };
    let pin = RelayPin::from_relay(&url, &jwks, 31337, &contracts, PinSource::Init, 0).unwrap();
    client.pin.set(pin).unwrap();
    let err = fetch(&client, &DeviceKey::generate(), "x")
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::RelayProtocol);
    assert!(err.message.contains("relay.example"), "{}", err.message);
    assert_eq!(*verifies.lock().unwrap(), 0, "nothing was signed and sent");
}

fn put_request(value: &[u8]) -> PutRequest {
    PutRequest {
        name: "openrouter".into(),
        value: SecretValue::from_bytes(value),
    }
}

async fn store(client: &RelayClient, key: &DeviceKey, value: &[u8]) -> Result<(), ApiError> {
    let _: PutResponse = client
        .vault(
            key,
            DataClass::Credentials,
            Op::Store,
            "openrouter",
            &put_request(value),
        )
        .await?;
    Ok(())
}

/// A capability of the right shape and claims, signed by a key the device never pinned: the
/// value is not sent, and nothing reaches the vault.
#[tokio::test]
async fn a_forged_capability_gets_no_value() {
    let (mock, url) = start_mock().await;
    let client = RelayClient::new(&url).unwrap();
    let key = DeviceKey::generate();
    client.pin_relay(false).await.unwrap();
    mock.lock().unwrap().forger = Some(Es256Key::generate(KeyPurpose::Session));

    let err = store(&client, &key, b"sk-forged-1").await.unwrap_err();
    assert_eq!(
        err.code,
        ErrorCode::RelaySignatureInvalid,
        "{}",
        err.message
    );
    assert!(err.message.contains("init --repin"), "{}", err.message);
    let err = fetch(&client, &key, "openrouter").await.unwrap_err();
    assert_eq!(err.code, ErrorCode::RelaySignatureInvalid);
    let m = mock.lock().unwrap();
    assert_eq!(m.mints, 2, "both capabilities were minted, then refused");
    assert!(
        m.values.is_empty() && m.proofs.is_empty(),
        "nothing reached the vault"
    );
}

/// Another relay (other keys) at the pinned relay's address: sign-in is refused before any
/// capability is asked for; `init` refuses it until `--repin`, which shows both keys.
#[tokio::test]
async fn another_relay_at_the_address_is_refused_until_repinned() {
    let (mock, url) = start_mock().await;
    let client = RelayClient::new(&url).unwrap();
    let key = DeviceKey::generate();
    let first = client.pin_relay(false).await.unwrap();
    assert!(first.new && first.replaced.is_none());
    store(&client, &key, b"sk-1").await.unwrap();

    // The relay is replaced and forgets every token: the cached session is refused, and the
    // fresh one is signed by the new key.
    let old_fingerprints = first.pin.fingerprints();
    {
        let mut m = mock.lock().unwrap();
        m.k1 = Es256Key::generate(KeyPurpose::Session);
        m.sessions.clear();
        m.caps.clear();
        m.values.clear();
    }
    let err = store(&client, &key, b"sk-2").await.unwrap_err();
    assert_eq!(
        err.code,
        ErrorCode::RelaySignatureInvalid,
        "{}",
        err.message
    );
    assert_eq!(mock.lock().unwrap().mints, 1, "no capability asked of it");
    assert!(mock.lock().unwrap().values.is_empty());

    let err = client.pin_relay(false).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::RelayKeyChanged);
    assert!(
        err.message.contains(&old_fingerprints[0]),
        "{}",
        err.message
    );
    let again = client.pin_relay(true).await.unwrap();
    assert_eq!(again.replaced, Some(old_fingerprints));
    assert!(!again.new);
    store(&client, &key, b"sk-3").await.unwrap();
    assert_eq!(fetch(&client, &key, "openrouter").await.unwrap(), b"sk-3");
}

/// A relay that names another chain than the pinned one gets nothing signed: no sign-in, and
/// its chain status is refused.
#[tokio::test]
async fn another_chain_is_refused() {
    let (mock, url) = start_mock().await;
    let client = RelayClient::new(&url).unwrap();
    let key = DeviceKey::generate();
    // A client without a pin trusts the first relay it meets (state from before pinning).
    assert_eq!(client.chain_status().await.unwrap().chain_id, 31337);
    mock.lock().unwrap().chain_id = 1;
    let err = client.chain_status().await.unwrap_err();
    assert_eq!(err.code, ErrorCode::RelayChainMismatch, "{}", err.message);
    let err = store(&client, &key, b"sk-1").await.unwrap_err();
    assert_eq!(err.code, ErrorCode::RelayChainMismatch);
    assert_eq!(mock.lock().unwrap().sign_ins, 0, "no sign-in was signed");
    let err = client.pin_relay(false).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::RelayKeyChanged);
}
