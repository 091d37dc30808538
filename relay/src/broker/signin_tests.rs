//! Sign-in under load, in process: the broker's router over an embedded chain, requests with
//! the client IP a real connection would carry.

use super::{router, Broker, SigninLimiter, SiweNonces};
use crate::chain::authz::{Authority, DEFAULT_CACHE_TTL};
use crate::chain::embedded::EmbeddedChain;
use crate::config::SigninLimits;
use crate::signer::{K3Store, LocalSigner};
use agentkeys_core::device_key::DeviceKey;
use agentkeys_core::es256::{Es256Key, KeyPurpose};
use agentkeys_core::routes::{SIWE_START, SIWE_VERIFY};
use agentkeys_core::siwe_msg::{self, SiweChallenge};
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower::ServiceExt;

const CHAIN_ID: u64 = 31_337;
const ISSUER: &str = "http://127.0.0.1:8787";

struct Env {
    _dir: tempfile::TempDir,
    app: Router,
}

async fn env(limits: SigninLimits) -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().to_path_buf();
    let chain = tokio::task::spawn_blocking(move || EmbeddedChain::open(&data, CHAIN_ID))
        .await
        .expect("join")
        .expect("open embedded chain");
    let k1 = Es256Key::from_secret(KeyPurpose::Session, &[0x11; 32]).expect("k1");
    let k3 = K3Store::open(dir.path()).expect("k3");
    let broker = Broker {
        issuer: ISSUER.into(),
        domain: super::domain_of(ISSUER),
        chain_id: CHAIN_ID,
        vault_audience: "vault".into(),
        nonces: SiweNonces::new(&k1),
        limits: SigninLimiter::new(limits),
        k1,
        k2: Es256Key::from_secret(KeyPurpose::Oidc, &[0x12; 32]).expect("k2"),
        signer: Arc::new(LocalSigner::new(Arc::new(k3))),
        authority: Authority::new(chain, DEFAULT_CACHE_TTL),
        foreign: Arc::new(crate::audit::foreign::ForeignAttempts::new(None, 0)),
    };
    Env {
        _dir: dir,
        app: router(Arc::new(broker)),
    }
}

fn peer(n: u32) -> SocketAddr {
    SocketAddr::from((std::net::Ipv4Addr::from(0x0a00_0000 + n), 40_000))
}

async fn post(app: &Router, from: SocketAddr, path: &str, body: &Value) -> (u16, Value) {
    let mut req = axum::http::Request::post(path)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("request");
    req.extensions_mut().insert(ConnectInfo(from));
    let resp = app.clone().oneshot(req).await.expect("infallible");
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("<no code>")
}

async fn start(app: &Router, from: SocketAddr, key: &DeviceKey) -> (u16, Value) {
    post(app, from, SIWE_START, &json!({ "address": key.address() })).await
}

fn signed(challenge: &Value, key: &DeviceKey) -> Value {
    let ch: SiweChallenge = serde_json::from_value(challenge.clone()).expect("challenge");
    let message = siwe_msg::build_message(&ch, &key.address()).expect("message");
    let sig = key.sign_personal(message.as_bytes());
    json!({ "message": message, "signature": format!("0x{}", hex::encode(sig)) })
}

/// start, sign, verify: the status and body of verify.
async fn sign_in(app: &Router, from: SocketAddr, key: &DeviceKey) -> (u16, Value) {
    let (s, ch) = start(app, from, key).await;
    if s != 200 {
        return (s, ch);
    }
    post(app, from, SIWE_VERIFY, &signed(&ch, key)).await
}

/// `siwe/start` keeps nothing: 200,000 of them (each for a fresh address, no IP limit) leave
/// sign-in as it was. Before, 100,000 filled the nonce store and refused every sign-in for
/// five minutes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_thousand_starts_leave_sign_in_working() {
    let e = env(SigninLimits {
        per_ip_per_minute: 0,
        per_address_per_minute: 10,
    })
    .await;
    let began = Instant::now();
    let workers: Vec<_> = (0..2u8)
        .map(|w| {
            let app = e.app.clone();
            tokio::spawn(async move {
                for i in 0..100_000u32 {
                    let mut addr = [w; 20];
                    addr[..4].copy_from_slice(&i.to_be_bytes());
                    let body = json!({ "address": format!("0x{}", hex::encode(addr)) });
                    let (s, v) = post(&app, peer(1), SIWE_START, &body).await;
                    assert_eq!(s, 200, "{v}");
                }
            })
        })
        .collect();
    for w in workers {
        w.await.expect("flood");
    }
    let took = began.elapsed();
    let key = DeviceKey::generate();
    let (s, v) = sign_in(&e.app, peer(1), &key).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["device"], json!(key.address()));
    assert!(took < Duration::from_secs(120), "the flood took {took:?}");
}

/// A flood from one IP is cut off with `rate_limited`; another IP still signs in. A flood of
/// sign-ins by one device key (from many IPs) is cut off too; another key still signs in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floods_are_rate_limited_per_ip_and_per_key() {
    let limits = SigninLimits::default();
    let e = env(limits).await;
    let flooder = DeviceKey::generate();
    let mut ok = 0;
    for _ in 0..1_000 {
        let (s, v) = start(&e.app, peer(1), &flooder).await;
        match s {
            200 => ok += 1,
            _ => assert_eq!((s, code(&v)), (429, "rate_limited")),
        }
    }
    assert_eq!(ok, limits.per_ip_per_minute);
    // verify from the flooding IP is refused too, before anything is checked.
    let (s, v) = post(
        &e.app,
        peer(1),
        SIWE_VERIFY,
        &json!({"message": "x", "signature": "y"}),
    )
    .await;
    assert_eq!((s, code(&v)), (429, "rate_limited"));
    let genuine = DeviceKey::generate();
    let (s, v) = sign_in(&e.app, peer(2), &genuine).await;
    assert_eq!(s, 200, "{v}");

    // One key signing in again and again, each time from another IP.
    let mut ok = 0;
    for n in 0..(limits.per_address_per_minute + 5) {
        let (s, v) = sign_in(&e.app, peer(100 + n), &flooder).await;
        match s {
            200 => ok += 1,
            _ => assert_eq!((s, code(&v)), (429, "rate_limited")),
        }
    }
    assert_eq!(ok, limits.per_address_per_minute);
    let (s, v) = sign_in(&e.app, peer(100), &genuine).await;
    assert_eq!(s, 200, "{v}");
}

/// The nonce is bound to the address it was issued for, and is single use.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nonces_are_bound_and_single_use() {
    let e = env(SigninLimits::default()).await;
    let (alice, mallory) = (DeviceKey::generate(), DeviceKey::generate());
    let (s, ch) = start(&e.app, peer(1), &alice).await;
    assert_eq!(s, 200, "{ch}");
    let nonce = ch["nonce"].as_str().expect("nonce");
    assert!(nonce.len() >= 8 && nonce.bytes().all(|b| b.is_ascii_alphanumeric()));
    // Mallory signs Alice's challenge with her own key: the nonce names Alice.
    let (s, v) = post(&e.app, peer(1), SIWE_VERIFY, &signed(&ch, &mallory)).await;
    assert_eq!((s, code(&v)), (401, "siwe_nonce_invalid"));
    let body = signed(&ch, &alice);
    let (s, v) = post(&e.app, peer(1), SIWE_VERIFY, &body).await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = post(&e.app, peer(1), SIWE_VERIFY, &body).await;
    assert_eq!((s, code(&v)), (401, "siwe_nonce_invalid"));
}

/// A secret sent where it does not belong is not echoed in the refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_do_not_echo_submitted_values() {
    let e = env(SigninLimits::default()).await;
    let secret = "sk-live-0a1b2c3d";
    let address = DeviceKey::generate().address();
    for (path, body) in [
        // An unknown field named by the secret: serde would say ``unknown field `sk-…` ``.
        (SIWE_START, json!({ "address": address, secret: 1 })),
        (
            SIWE_VERIFY,
            json!({ "message": "m", "signature": "s", secret: 1 }),
        ),
        // The secret where a string is not expected: ``invalid type: string "sk-…"``.
        (
            SIWE_VERIFY,
            json!({ "message": "m", "signature": { "r": secret } }),
        ),
        (SIWE_START, json!([secret])),
    ] {
        let (s, v) = post(&e.app, peer(1), path, &body).await;
        assert_eq!((s, code(&v)), (400, "invalid_json"), "{path} {body}");
        assert!(!v.to_string().contains("0a1b2c3d"), "{path}: {v}");
    }
}
