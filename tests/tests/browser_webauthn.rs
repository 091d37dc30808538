//! The headless-Chromium harness completes real passkey ceremonies: a page served on
//! `http://localhost:PORT` registers a discoverable ES256 credential on a virtual CTAP2
//! authenticator and signs in with it; the server checks what the browser posted (client data
//! type, origin and challenge, the authenticator data, and the assertion's P-256 signature).
//! With user verification failing, a sign-in that requires it is refused.

use agentkeys_tests::browser::{live_processes_mentioning, AuthenticatorOptions, Browser};
use axum::extract::State;
use axum::response::Html;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PAGE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>AgentKeys passkey test</title></head>
<body><p>passkey test</p><script>
const b64u = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf)))
  .replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const unb64u = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')),
  (c) => c.charCodeAt(0));
async function challenge() {
  const r = await fetch('/challenge', { method: 'POST' });
  return unb64u(await r.text());
}
async function post(path, body) {
  const r = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body) });
  if (!r.ok) throw new Error(path + ': HTTP ' + r.status);
}
window.register = async () => {
  const userId = crypto.getRandomValues(new Uint8Array(16));
  const cred = await navigator.credentials.create({ publicKey: {
    rp: { id: 'localhost', name: 'AgentKeys test' },
    user: { id: userId, name: 'alice', displayName: 'Alice' },
    challenge: await challenge(),
    pubKeyCredParams: [{ type: 'public-key', alg: -7 }],
    authenticatorSelection: { residentKey: 'required', requireResidentKey: true,
      userVerification: 'required' },
    attestation: 'none',
    timeout: 10000,
  } });
  await post('/register', {
    id: cred.id, rawId: b64u(cred.rawId), type: cred.type, userId: b64u(userId),
    attestationObject: b64u(cred.response.attestationObject),
    clientDataJSON: b64u(cred.response.clientDataJSON),
    authenticatorData: b64u(cred.response.getAuthenticatorData()),
    publicKey: b64u(cred.response.getPublicKey()),
    publicKeyAlgorithm: cred.response.getPublicKeyAlgorithm(),
  });
  return cred.id;
};
window.login = async () => {
  const cred = await navigator.credentials.get({ publicKey: {
    rpId: 'localhost', challenge: await challenge(), userVerification: 'required',
    allowCredentials: [], timeout: 10000,
  } });
  await post('/login', {
    id: cred.id, rawId: b64u(cred.rawId), type: cred.type,
    authenticatorData: b64u(cred.response.authenticatorData),
    clientDataJSON: b64u(cred.response.clientDataJSON),
    signature: b64u(cred.response.signature),
    userHandle: cred.response.userHandle ? b64u(cred.response.userHandle) : null,
  });
  return cred.id;
};
</script></body></html>
"#;

#[derive(Default)]
struct Seen {
    challenges: Vec<String>,
    registrations: Vec<Value>,
    logins: Vec<Value>,
}

type Shared = Arc<Mutex<Seen>>;

/// The relying party: serves the page, issues challenges and records what the browser posts.
struct Site {
    url: String,
    origin: String,
    seen: Shared,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Site {
    async fn start() -> Site {
        let seen: Shared = Arc::default();
        let app = Router::new()
            .route("/", get(|| async { Html(PAGE) }))
            .route(
                "/challenge",
                post(|State(seen): State<Shared>| async move {
                    let c = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
                    seen.lock().unwrap().challenges.push(c.clone());
                    c
                }),
            )
            .route(
                "/register",
                post(
                    |State(seen): State<Shared>, Json(v): Json<Value>| async move {
                        seen.lock().unwrap().registrations.push(v);
                    },
                ),
            )
            .route(
                "/login",
                post(
                    |State(seen): State<Shared>, Json(v): Json<Value>| async move {
                        seen.lock().unwrap().logins.push(v);
                    },
                ),
            )
            .with_state(seen.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await
                .unwrap();
        });
        // localhost, not 127.0.0.1: an IP address is not a valid RP ID.
        let origin = format!("http://localhost:{port}");
        Site {
            url: format!("{origin}/"),
            origin,
            seen,
            shutdown: Some(tx),
            task,
        }
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.abort();
    }
}

fn b64u(v: &Value, field: &str) -> Vec<u8> {
    let s = v[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} missing in {v}"));
    URL_SAFE_NO_PAD.decode(s).unwrap()
}

/// Checks clientDataJSON's type, origin and challenge; returns the raw bytes.
fn check_client_data(v: &Value, ty: &str, origin: &str, challenge: &str) -> Vec<u8> {
    let raw = b64u(v, "clientDataJSON");
    let cd: Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(cd["type"], ty, "clientDataJSON: {cd}");
    assert_eq!(cd["origin"], origin, "clientDataJSON: {cd}");
    assert_eq!(cd["challenge"], challenge, "challenge round-trip: {cd}");
    raw
}

/// Checks the authenticator data's RP ID hash and flags (UP, UV and, if `attested`, AT).
fn check_auth_data(auth_data: &[u8], attested: bool) {
    assert!(auth_data.len() >= 37, "authenticatorData too short");
    assert_eq!(
        &auth_data[..32],
        Sha256::digest(b"localhost").as_slice(),
        "rpIdHash is sha256(\"localhost\")"
    );
    let flags = auth_data[32];
    assert_ne!(flags & 0x01, 0, "user present flag");
    assert_ne!(flags & 0x04, 0, "user verified flag");
    assert_eq!(flags & 0x40 != 0, attested, "attested credential data flag");
}

#[tokio::test(flavor = "multi_thread")]
async fn passkey_create_and_get_in_headless_chromium() {
    let site = Site::start().await;

    let t0 = Instant::now();
    let browser = Browser::start().await;
    let started = t0.elapsed();
    let version = browser.version().await;
    eprintln!("{version} started in {started:?}");

    let page = browser.new_page().await;
    let auth = page
        .enable_virtual_authenticator(AuthenticatorOptions::default())
        .await;
    page.navigate(&site.url).await;
    page.wait_for(
        "typeof window.login === 'function'",
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(page.eval("location.origin").await, site.origin.as_str());

    // Registration.
    let t1 = Instant::now();
    let created_id = page.eval("register()").await;
    eprintln!("navigator.credentials.create() took {:?}", t1.elapsed());
    let (reg, reg_challenge) = {
        let seen = site.seen.lock().unwrap();
        assert_eq!(
            seen.registrations.len(),
            1,
            "the server got the registration"
        );
        (seen.registrations[0].clone(), seen.challenges[0].clone())
    };
    assert_eq!(reg["id"], created_id);
    assert_eq!(reg["type"], "public-key");
    assert_eq!(reg["publicKeyAlgorithm"], -7);
    check_client_data(&reg, "webauthn.create", &site.origin, &reg_challenge);
    assert!(!b64u(&reg, "attestationObject").is_empty());
    let reg_auth_data = b64u(&reg, "authenticatorData");
    check_auth_data(&reg_auth_data, true);
    let credential_id = b64u(&reg, "rawId");
    // Attested credential data: aaguid (16), id length (2), id.
    let id_len = u16::from_be_bytes([reg_auth_data[53], reg_auth_data[54]]) as usize;
    assert_eq!(&reg_auth_data[55..55 + id_len], credential_id.as_slice());
    let public_key = VerifyingKey::from_public_key_der(&b64u(&reg, "publicKey")).unwrap();

    // The authenticator holds one discoverable credential for localhost, with that key.
    let creds = page.credentials(&auth).await;
    assert_eq!(creds.len(), 1, "credentials: {creds:?}");
    let cred = &creds[0];
    assert_eq!(cred["isResidentCredential"], true);
    assert_eq!(cred["rpId"], "localhost");
    assert_eq!(
        STANDARD
            .decode(cred["credentialId"].as_str().unwrap())
            .unwrap(),
        credential_id
    );
    assert_eq!(
        STANDARD
            .decode(cred["userHandle"].as_str().unwrap())
            .unwrap(),
        b64u(&reg, "userId")
    );
    let secret = p256::SecretKey::from_pkcs8_der(
        &STANDARD
            .decode(cred["privateKey"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        VerifyingKey::from(secret.public_key()),
        public_key,
        "the attested public key is the authenticator's credential key"
    );

    // Authentication with the discoverable credential (no allowCredentials).
    let t2 = Instant::now();
    let got_id = page.eval("login()").await;
    eprintln!("navigator.credentials.get() took {:?}", t2.elapsed());
    assert_eq!(got_id, created_id);
    let (login, login_challenge) = {
        let seen = site.seen.lock().unwrap();
        assert_eq!(seen.logins.len(), 1, "the server got the assertion");
        assert_eq!(seen.challenges.len(), 2);
        (seen.logins[0].clone(), seen.challenges[1].clone())
    };
    assert_ne!(login_challenge, reg_challenge, "a fresh challenge");
    assert_eq!(b64u(&login, "rawId"), credential_id);
    assert_eq!(b64u(&login, "userHandle"), b64u(&reg, "userId"));
    let client_data = check_client_data(&login, "webauthn.get", &site.origin, &login_challenge);
    let auth_data = b64u(&login, "authenticatorData");
    check_auth_data(&auth_data, false);
    let signature = Signature::from_der(&b64u(&login, "signature")).unwrap();
    let mut signed = auth_data.clone();
    signed.extend_from_slice(&Sha256::digest(&client_data));
    public_key
        .verify(&signed, &signature)
        .expect("the assertion signature verifies with the credential's public key");
    // And it does not verify over anything else.
    signed[0] ^= 1;
    assert!(public_key.verify(&signed, &signature).is_err());

    // User verification now fails: a sign-in that requires it is refused.
    page.set_user_verified(&auth, false).await;
    let t3 = Instant::now();
    let refused = page.try_eval("login()").await;
    eprintln!("refused get() took {:?}", t3.elapsed());
    let err = refused.expect_err("get() must reject when user verification fails");
    assert!(err.contains("NotAllowedError"), "rejection: {err}");
    assert_eq!(site.seen.lock().unwrap().logins.len(), 1, "nothing posted");

    eprintln!("whole test took {:?}", t0.elapsed());
}

#[tokio::test(flavor = "multi_thread")]
async fn browser_is_stopped_and_profile_removed_on_drop() {
    let browser = Browser::start().await;
    let pid = browser.pid() as i32;
    let profile = browser.profile_dir().to_path_buf();
    let dir = browser.dir().to_string_lossy().into_owned();
    assert!(profile.exists());
    assert!(!live_processes_mentioning(&dir).is_empty());
    let page = browser.new_page().await;
    assert_eq!(page.eval("1 + 2").await, 3);
    assert!(page
        .try_eval("Promise.reject(new Error('boom'))")
        .await
        .is_err());
    page.close().await;
    let t0 = Instant::now();
    drop(browser);
    eprintln!("chromium stopped in {:?}", t0.elapsed());
    assert!(!profile.exists(), "profile directory removed");
    // No live process of the browser is left (killed ones may await reaping by init).
    let left = live_processes_mentioning(&dir);
    assert!(left.is_empty(), "chromium {pid} left processes {left:?}");
}
