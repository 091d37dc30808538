//! The relay's approval mailbox end to end on the real relay binary with its embedded chain: a
//! master asks a companion device, which receives the request by SSE (through the daemon's
//! client) and answers; the master's long poll returns the answer. Every refusal asserts its
//! exact status and code.

use agentkeys_core::approval::{ApprovalAnswer, ApprovalRequest, ApprovalState, ApprovalStatus};
use agentkeys_core::b64;
use agentkeys_core::device_key::DeviceKey;
use agentkeys_core::identity::Address;
use agentkeys_core::passkey::{
    rp_id_hash, ChainAssertion, CHALLENGE_PREFIX, FLAG_UP, FLAG_UV, RP_ID_COMPANION, TYPE_GET_FIELD,
};
use agentkeys_core::routes;
use agentkeys_core::time_util::now_secs;
use agentkeys_core::ErrorCode;
use agentkeys_daemon::chain_ops::challenge::Domain;
use agentkeys_daemon::relay_client::RelayClient as DaemonClient;
use agentkeys_tests::agents;
use agentkeys_tests::relay::RelayProc;
use agentkeys_tests::relay_client::{code, RelayClient};
use futures::StreamExt;
use serde_json::Value;
use std::time::{Duration, Instant};

fn same_key(k: &DeviceKey) -> DeviceKey {
    DeviceKey::from_bytes(&k.to_bytes()).unwrap()
}

fn ask(from: &RelayClient, approver: Address, challenge: [u8; 32], ttl: u64) -> ApprovalRequest {
    ask_at(from, approver, challenge, ttl, now_secs())
}

fn ask_at(
    from: &RelayClient,
    approver: Address,
    challenge: [u8; 32],
    ttl: u64,
    now: u64,
) -> ApprovalRequest {
    ApprovalRequest::new_signed(
        &from.key,
        from.operator(),
        approver,
        "add_master",
        "Add this machine as a master device of your AgentKeys",
        challenge,
        RP_ID_COMPANION,
        ttl,
        now,
    )
    .unwrap()
}

/// A WebAuthn assertion shaped like a browser's; the relay does not verify its signature (the
/// chain does), only that it answers this challenge.
fn assertion(challenge: &[u8; 32]) -> ChainAssertion {
    let json = format!(
        r#"{{"type":"webauthn.get","challenge":"{}","origin":"http://companion.localhost:7000","crossOrigin":false}}"#,
        b64::encode_url(challenge)
    );
    let mut data = rp_id_hash(RP_ID_COMPANION).to_vec();
    data.push(FLAG_UP | FLAG_UV);
    data.extend_from_slice(&3u32.to_be_bytes());
    ChainAssertion {
        authenticator_data: data,
        challenge_location: json.find(CHALLENGE_PREFIX).unwrap() as u64,
        type_location: json.find(TYPE_GET_FIELD).unwrap() as u64,
        client_data_json: json.into_bytes(),
        r: [0x11; 32],
        s: [0x22; 32],
    }
}

fn auth(c: &RelayClient) -> Vec<(&'static str, String)> {
    vec![(
        "authorization",
        format!("Bearer {}", c.session.as_deref().expect("signed in")),
    )]
}

async fn post(c: &RelayClient, path: &str, body: &impl serde::Serialize) -> (u16, Value) {
    c.post_raw(path, &auth(c), serde_json::to_vec(body).unwrap())
        .await
}

async fn submit(c: &RelayClient, r: &ApprovalRequest) -> (u16, Value) {
    post(c, routes::APPROVALS, r).await
}

async fn answer(c: &RelayClient, id: &str, a: &ApprovalAnswer) -> (u16, Value) {
    post(c, &routes::APPROVAL_ANSWER.replace("{id}", id), a).await
}

async fn read(c: &RelayClient, id: &str, wait: &str) -> (u16, Value) {
    let url = format!(
        "{}{}?wait_secs={wait}",
        c.url,
        routes::APPROVAL.replace("{id}", id)
    );
    let resp = c
        .http
        .get(url)
        .bearer_auth(c.session.as_deref().expect("signed in"))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn refused(got: (u16, Value), status: u16, expect: ErrorCode) {
    let (s, v) = got;
    assert_eq!((s, code(&v).as_str()), (status, expect.as_str()), "{v}");
    assert_eq!(expect.http_status(), status);
}

fn created(got: (u16, Value), r: &ApprovalRequest) {
    let (s, v) = got;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["request_id"], r.request_id.as_str());
}

/// A signed-in master (registered on chain) and a signed-in device not registered yet.
async fn master_and_newcomer(url: &str) -> (RelayClient, RelayClient) {
    let mut a = RelayClient::new(url);
    a.sign_in().await;
    let mut b = RelayClient::new(url);
    b.sign_in_only().await;
    (a, b)
}

#[tokio::test(flavor = "multi_thread")]
async fn approval_happy_path_through_the_daemon_client() {
    let dir = tempfile::tempdir().unwrap();
    let mut relay = RelayProc::start(dir.path(), &[]);
    let (a, b) = master_and_newcomer(&relay.url).await;
    let a_daemon = DaemonClient::new(&relay.url).unwrap();
    let b_daemon = DaemonClient::new(&relay.url).unwrap();
    let (a_key, b_key) = (same_key(&a.key), same_key(&b.key));

    // One request waits before the companion connects, one arrives while it listens.
    let early = ask(&a, b.key.address(), [1; 32], 120);
    let created_early = a_daemon.request_approval(&a_key, &early).await.unwrap();
    assert_eq!(created_early.request_id, early.request_id);

    let stream = b_daemon.approval_stream(&b_key).await.unwrap();
    let mut stream = Box::pin(stream);
    let first = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("the waiting request arrives")
        .expect("stream open")
        .expect("valid request");
    assert_eq!(first, early);

    let late = ask(&a, b.key.address(), [2; 32], 120);
    a_daemon.request_approval(&a_key, &late).await.unwrap();
    let second = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("the new request arrives")
        .expect("stream open")
        .expect("valid request");
    assert_eq!(second, late);

    // The master waits while the companion approves.
    let waiter = {
        let id = late.request_id.clone();
        let key = same_key(&a_key);
        let url = relay.url.clone();
        tokio::spawn(async move {
            let c = DaemonClient::new(&url).unwrap();
            let started = Instant::now();
            let s = c.approval_status(&key, &id, 20).await;
            (s, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let proof = assertion(&[2; 32]);
    let answered = b_daemon
        .answer_approval(
            &b_key,
            &late.request_id,
            &ApprovalAnswer::Approved {
                assertion: proof.clone(),
                consent: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(answered.state, ApprovalState::Approved);
    let (status, waited) = waiter.await.unwrap();
    let status: ApprovalStatus = status.unwrap();
    assert!(
        waited < Duration::from_secs(10),
        "the wait ended early: {waited:?}"
    );
    assert_eq!(status.state, ApprovalState::Approved);
    assert_eq!(status.approver, b.key.address());
    assert_eq!(status.assertion, Some(proof));
    assert_eq!(status.reason, None);

    // The daemon client reports the relay's codes.
    let again = b_daemon
        .answer_approval(
            &b_key,
            &late.request_id,
            &ApprovalAnswer::Declined {
                reason: "no".into(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(again.code, ErrorCode::ApprovalAnswered);
    let not_mine = b_daemon
        .approval_status(&b_key, &late.request_id, 0)
        .await
        .unwrap_err();
    assert_eq!(not_mine.code, ErrorCode::ApprovalNotYours);

    // The early request is still pending for its requester.
    let s = a_daemon
        .approval_status(&a_key, &early.request_id, 0)
        .await
        .unwrap();
    assert_eq!(s.state, ApprovalState::Pending);

    // Shutdown ends the open stream instead of holding the drain until it times out.
    let started = Instant::now();
    let exit = relay.proc.stop(Duration::from_secs(15));
    assert!(
        exit.is_some(),
        "the relay did not exit on SIGTERM:\n{}",
        relay.log()
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let end = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("the stream ends");
    assert!(end.as_ref().is_none_or(|r| r.is_err()), "{end:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn approval_refusals_have_exact_codes() {
    let dir = tempfile::tempdir().unwrap();
    let relay = RelayProc::start(dir.path(), &[]);
    let (a, b) = master_and_newcomer(&relay.url).await;
    let mut c = RelayClient::new(&relay.url);
    c.sign_in_only().await;

    // No session.
    let r = ask(&a, b.key.address(), [3; 32], 120);
    refused(
        a.post_raw(routes::APPROVALS, &[], serde_json::to_vec(&r).unwrap())
            .await,
        401,
        ErrorCode::SessionMissing,
    );

    // Declined, with its reason.
    created(submit(&a, &r).await, &r);
    let (s, v) = answer(
        &b,
        &r.request_id,
        &ApprovalAnswer::Declined {
            reason: "I did not start this".into(),
        },
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["state"], "declined");
    let (s, v) = read(&a, &r.request_id, "0").await;
    assert_eq!(s, 200, "{v}");
    let status: ApprovalStatus = serde_json::from_value(v).unwrap();
    assert_eq!(status.state, ApprovalState::Declined);
    assert_eq!(status.reason.as_deref(), Some("I did not start this"));
    // A second answer, and the same request submitted again.
    refused(
        answer(
            &b,
            &r.request_id,
            &ApprovalAnswer::Approved {
                assertion: assertion(&[3; 32]),
                consent: None,
            },
        )
        .await,
        409,
        ErrorCode::ApprovalAnswered,
    );
    refused(submit(&a, &r).await, 409, ErrorCode::ApprovalAnswered);

    // B answering a request addressed to C; B reading A's request.
    let to_c = ask(&a, c.key.address(), [4; 32], 120);
    created(submit(&a, &to_c).await, &to_c);
    refused(
        answer(
            &b,
            &to_c.request_id,
            &ApprovalAnswer::Declined { reason: "x".into() },
        )
        .await,
        403,
        ErrorCode::ApprovalNotYours,
    );
    refused(
        read(&b, &to_c.request_id, "0").await,
        403,
        ErrorCode::ApprovalNotYours,
    );
    refused(
        read(&c, &to_c.request_id, "0").await,
        403,
        ErrorCode::ApprovalNotYours,
    );
    // Submitting a request signed by A from B's session.
    refused(
        submit(&b, &ask(&a, c.key.address(), [4; 32], 120)).await,
        403,
        ErrorCode::ApprovalNotYours,
    );
    // A device not registered on chain cannot ask.
    refused(
        submit(&c, &ask(&c, b.key.address(), [4; 32], 120)).await,
        403,
        ErrorCode::DeviceNotRegistered,
    );
    // An approval whose assertion answers another challenge.
    refused(
        answer(
            &c,
            &to_c.request_id,
            &ApprovalAnswer::Approved {
                assertion: assertion(&[9; 32]),
                consent: None,
            },
        )
        .await,
        400,
        ErrorCode::ApprovalInvalid,
    );
    // Unknown and malformed ids.
    refused(
        answer(
            &c,
            "AAAAAAAAAAAAAAAAAAAAAA",
            &ApprovalAnswer::Declined { reason: "x".into() },
        )
        .await,
        404,
        ErrorCode::ApprovalNotFound,
    );
    refused(
        read(&a, "not-an-id", "0").await,
        404,
        ErrorCode::ApprovalNotFound,
    );

    // Approvers the operator cannot use: another operator's master, the requester itself.
    let mut d = RelayClient::new(&relay.url);
    d.sign_in().await;
    refused(
        submit(&a, &ask(&a, d.key.address(), [5; 32], 120)).await,
        403,
        ErrorCode::ApproverNotPermitted,
    );
    refused(
        submit(&a, &ask(&a, a.key.address(), [5; 32], 120)).await,
        403,
        ErrorCode::ApproverNotPermitted,
    );

    // An agent device of the same operator neither approves nor asks.
    let (agent, _) = agents::register_agent(&a, "coder").await;
    refused(
        submit(&a, &ask(&a, agent.key.address(), [5; 32], 120)).await,
        403,
        ErrorCode::ApproverNotPermitted,
    );
    let from_agent = ApprovalRequest::new_signed(
        &agent.key,
        a.operator(),
        b.key.address(),
        "add_master",
        "x",
        [5; 32],
        RP_ID_COMPANION,
        60,
        now_secs(),
    )
    .unwrap();
    refused(
        submit(&agent, &from_agent).await,
        403,
        ErrorCode::ApprovalNotYours,
    );
    // The approver is checked again when it answers: here it became an agent meanwhile.
    let mut e = RelayClient::new(&relay.url);
    e.sign_in_only().await;
    let to_e = ask(&a, e.key.address(), [5; 32], 120);
    created(submit(&a, &to_e).await, &to_e);
    agents::ensure_scope_mgmt(&a).await;
    let chain = a.chain_status().await;
    let call =
        agents::agent_registration(Domain::registry(&chain), &a.operator(), &e.key, "late", 1);
    let (st, v) = a.send_call(&chain.contracts.registry, call).await;
    assert_eq!((st, v["success"].as_bool()), (200, Some(true)), "{v}");
    refused(
        answer(
            &e,
            &to_e.request_id,
            &ApprovalAnswer::Approved {
                assertion: assertion(&[5; 32]),
                consent: None,
            },
        )
        .await,
        403,
        ErrorCode::ApproverNotPermitted,
    );

    // A tampered request: its signature no longer matches.
    let mut t = ask(&a, b.key.address(), [6; 32], 120);
    t.operation = "Remove every other master device".into();
    refused(
        submit(&a, &t).await,
        400,
        ErrorCode::ApprovalSignatureInvalid,
    );
    let mut t = ask(&a, b.key.address(), [6; 32], 120);
    // Flip one hex digit of s (the digit before the recovery byte), whatever it was.
    let at = t.signature.len() - 3;
    let flipped = if &t.signature[at..at + 1] == "b" {
        "c"
    } else {
        "b"
    };
    t.signature.replace_range(at..at + 1, flipped);
    refused(
        submit(&a, &t).await,
        400,
        ErrorCode::ApprovalSignatureInvalid,
    );
    // A malformed field (re-signed, so only the shape is wrong).
    let mut t = ask(&a, b.key.address(), [6; 32], 120);
    t.op_tag = "Add-Master".into();
    t.signature = format!("0x{}", hex::encode(a.key.sign_prehash(&t.signing_digest())));
    refused(submit(&a, &t).await, 400, ErrorCode::ApprovalInvalid);
    // Not JSON of the request's shape; a body over 16 KiB.
    refused(
        a.post_raw(routes::APPROVALS, &auth(&a), b"{}".to_vec())
            .await,
        400,
        ErrorCode::InvalidJson,
    );
    refused(
        a.post_raw(routes::APPROVALS, &auth(&a), vec![b' '; 17 * 1024])
            .await,
        413,
        ErrorCode::BodyTooLarge,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn approval_expiry_and_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let relay = RelayProc::start(dir.path(), &[]);
    let (a, b) = master_and_newcomer(&relay.url).await;

    // Already expired when submitted.
    let old = ask_at(&a, b.key.address(), [7; 32], 30, now_secs() - 100);
    refused(submit(&a, &old).await, 410, ErrorCode::ApprovalExpired);

    // A wait with no answer returns pending after about N seconds.
    let r = ask(&a, b.key.address(), [8; 32], 3);
    created(submit(&a, &r).await, &r);
    let started = Instant::now();
    let (s, v) = read(&a, &r.request_id, "1").await;
    let waited = started.elapsed();
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["state"], "pending");
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    refused(
        read(&a, &r.request_id, "31").await,
        400,
        ErrorCode::BadRequest,
    );

    // A longer wait ends when the request expires, not at its full length.
    let started = Instant::now();
    let (s, v) = read(&a, &r.request_id, "20").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["state"], "expired");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );

    // Answering after expiry; the requester still reads the expired state.
    refused(
        answer(
            &b,
            &r.request_id,
            &ApprovalAnswer::Approved {
                assertion: assertion(&[8; 32]),
                consent: None,
            },
        )
        .await,
        410,
        ErrorCode::ApprovalExpired,
    );
    let (s, v) = read(&a, &r.request_id, "0").await;
    assert_eq!((s, v["state"].as_str()), (200, Some("expired")), "{v}");
    // Expired requests are not streamed.
    let b_daemon = DaemonClient::new(&relay.url).unwrap();
    let b_key = same_key(&b.key);
    let mut stream = Box::pin(b_daemon.approval_stream(&b_key).await.unwrap());
    let fresh = ask(&a, b.key.address(), [9; 32], 60);
    created(submit(&a, &fresh).await, &fresh);
    let got = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("an event")
        .expect("stream open")
        .expect("valid request");
    assert_eq!(got.request_id, fresh.request_id);
}

/// Keys the chain does not know may ask only for their own first registration, and one
/// network may ask only so often: the pool they share stays open to others, and a genuine
/// master's request is never refused for it.
#[tokio::test(flavor = "multi_thread")]
async fn first_registration_requests_are_limited_per_network() {
    let dir = tempfile::tempdir().unwrap();
    let relay = RelayProc::start(
        dir.path(),
        &[("AGENTKEYS_FIRST_REGISTRATIONS_PER_IP_PER_HOUR", "2")],
    );
    let (master, newcomer) = master_and_newcomer(&relay.url).await;
    let first_master = |c: &RelayClient| {
        ApprovalRequest::new_signed(
            &c.key,
            c.operator(),
            // A companion not on chain yet: the approver of a first registration.
            Address([0x55; 20]),
            "register_first_master",
            "Register this machine as the first master of its own AgentKeys",
            [7; 32],
            RP_ID_COMPANION,
            60,
            now_secs(),
        )
        .unwrap()
    };
    let r = first_master(&newcomer);
    created(submit(&newcomer, &r).await, &r);
    let mut second = RelayClient::new(&relay.url);
    second.sign_in_only().await;
    let r = first_master(&second);
    created(submit(&second, &r).await, &r);
    let mut third = RelayClient::new(&relay.url);
    third.sign_in_only().await;
    refused(
        submit(&third, &first_master(&third)).await,
        429,
        ErrorCode::SponsorBudgetExhausted,
    );
    // The genuine master's own request is in a pool of its own and not counted.
    let mut peer = RelayClient::new(&relay.url);
    peer.sign_in_only().await;
    let r = ask(&master, peer.key.address(), [9; 32], 60);
    created(submit(&master, &r).await, &r);
}
