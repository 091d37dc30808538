//! Layers 3 and 4 of storage isolation at the vault (ARCHITECTURE §6): a request that brings
//! the caller's own temporary storage credentials (`X-Aws-*`) is served with them, so the
//! embedded S3 server itself refuses another actor's prefix (`storage_access_denied`) and
//! another class's bucket; a partial set is refused, and a strict vault refuses requests
//! without them. Layers 1 and 2 (broker and vault checks) are in vault_negative and
//! chain_checks.

use agentkeys_core::cap::peek_claims;
use agentkeys_core::cloud::AwsCredsResponse;
use agentkeys_core::names::{DataClass, Op};
use agentkeys_core::pop;
use agentkeys_core::routes;
use agentkeys_core::time_util::now_secs;
use agentkeys_core::wire::{NameRequest, PutRequest, SecretValue};
use agentkeys_tests::agents::register_agent;
use agentkeys_tests::relay::RelayProc;
use agentkeys_tests::relay_client::{code, RelayClient};
use serde_json::{json, Value};

async fn creds(c: &RelayClient, dc: &str) -> AwsCredsResponse {
    let auth = vec![(
        "authorization",
        format!("Bearer {}", c.session.as_deref().unwrap()),
    )];
    let body = json!({ "data_class": dc }).to_string().into_bytes();
    let (s, v) = c.post_raw(routes::MINT_AWS_CREDS, &auth, body).await;
    assert_eq!(s, 200, "{v}");
    serde_json::from_value(v).unwrap()
}

/// A vault call with a capability, a proof, and the given storage credential headers.
async fn call(
    c: &RelayClient,
    dc: DataClass,
    op: Op,
    service: &str,
    body: Vec<u8>,
    storage: &[(&'static str, String)],
) -> (u16, Value) {
    let cap = c.cap(dc, op, service).await;
    let jti = peek_claims(&cap).unwrap().jti;
    let path = routes::vault_route(dc, op);
    let mut headers = vec![
        ("authorization", format!("Bearer {cap}")),
        (
            pop::POP_HEADER,
            pop::sign(&c.key, &jti, "POST", path, &body, now_secs()),
        ),
    ];
    headers.extend(storage.iter().cloned());
    c.post_raw(path, &headers, body).await
}

fn headers(cr: &AwsCredsResponse) -> Vec<(&'static str, String)> {
    vec![
        ("x-aws-access-key-id", cr.access_key_id.clone()),
        ("x-aws-secret-access-key", cr.secret_access_key.clone()),
        ("x-aws-session-token", cr.session_token.clone()),
    ]
}

fn put(name: &str, value: &[u8]) -> Vec<u8> {
    serde_json::to_vec(&PutRequest {
        name: name.into(),
        value: SecretValue::from_bytes(value),
    })
    .unwrap()
}

fn name(n: &str) -> Vec<u8> {
    serde_json::to_vec(&NameRequest { name: n.into() }).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn caller_credentials_hold_the_actor_to_its_prefix_and_class() {
    let dir = tempfile::tempdir().unwrap();
    let relay = RelayProc::start(&dir.path().join("relay"), &[]);
    let mut master = RelayClient::new(&relay.url);
    master.sign_in().await;
    let (cred, mem) = (DataClass::Credentials, DataClass::Memory);
    let mine = headers(&creds(&master, "credentials").await);

    // With its own credentials: stored and read back.
    let (s, v) = call(
        &master,
        cred,
        Op::Store,
        "openrouter",
        put("openrouter", b"sk-1"),
        &mine,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = call(
        &master,
        cred,
        Op::Fetch,
        "openrouter",
        name("openrouter"),
        &mine,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["value"], json!(SecretValue::from_bytes(b"sk-1")));

    // A partial set is refused, never ignored.
    let (s, v) = call(
        &master,
        cred,
        Op::Fetch,
        "openrouter",
        name("openrouter"),
        &mine[..2],
    )
    .await;
    assert_eq!(
        (s, code(&v).as_str()),
        (401, "caller_credentials_incomplete"),
        "{v}"
    );

    // Another actor's credentials (an agent's) cannot reach the operator's prefix: the
    // storage layer itself refuses, although the capability is the operator's own.
    let (agent, _) = register_agent(&master, "coder").await;
    let theirs = headers(&creds(&agent, "credentials").await);
    for (op, body) in [
        (Op::Fetch, name("openrouter")),
        (Op::Store, put("openrouter", b"overwrite")),
        (Op::Teardown, name("openrouter")),
    ] {
        let (s, v) = call(&master, cred, op, "openrouter", body, &theirs).await;
        assert_eq!(
            (s, code(&v).as_str()),
            (403, "storage_access_denied"),
            "{op:?}: {v}"
        );
    }

    // Memory credentials do not open the credentials bucket, and the reverse.
    let my_mem = headers(&creds(&master, "memory").await);
    let (s, v) = call(
        &master,
        cred,
        Op::Fetch,
        "openrouter",
        name("openrouter"),
        &my_mem,
    )
    .await;
    assert_eq!(
        (s, code(&v).as_str()),
        (403, "storage_access_denied"),
        "{v}"
    );
    let (s, v) = call(
        &master,
        mem,
        Op::Store,
        "notes",
        put("notes", b"short answers"),
        &mine,
    )
    .await;
    assert_eq!(
        (s, code(&v).as_str()),
        (403, "storage_access_denied"),
        "{v}"
    );
    let (s, v) = call(
        &master,
        mem,
        Op::Store,
        "notes",
        put("notes", b"short answers"),
        &my_mem,
    )
    .await;
    assert_eq!(s, 200, "{v}");

    // Nothing was overwritten by the refused calls.
    let (s, v) = call(
        &master,
        cred,
        Op::Fetch,
        "openrouter",
        name("openrouter"),
        &[],
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["value"], json!(SecretValue::from_bytes(b"sk-1")));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_strict_vault_requires_caller_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let relay = RelayProc::start(
        &dir.path().join("relay"),
        &[("AGENTKEYS_REQUIRE_CALLER_CREDENTIALS", "true")],
    );
    let mut master = RelayClient::new(&relay.url);
    master.sign_in().await;
    let cred = DataClass::Credentials;
    let (s, v) = call(&master, cred, Op::Store, "a", put("a", b"v"), &[]).await;
    assert_eq!(
        (s, code(&v).as_str()),
        (401, "caller_credentials_required"),
        "{v}"
    );
    let mine = headers(&creds(&master, "credentials").await);
    let (s, v) = call(&master, cred, Op::Store, "a", put("a", b"v"), &mine).await;
    assert_eq!(s, 200, "{v}");
}
