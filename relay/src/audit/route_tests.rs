//! `GET /v1/audit/log` and `GET /v1/audit/proof/{id}` through the router, with real session
//! tokens and a real (embedded) chain.

use std::sync::Arc;

use agentkeys_contracts::merkle;
use agentkeys_core::audit::decode_0x32;
use agentkeys_core::chain::{AnchorSchedule, AuditLogResponse, AuditProofResponse};
use agentkeys_core::es256::{Es256Key, Jwks, KeyPurpose};
use agentkeys_core::identity::{Address, Omni};
use agentkeys_core::session::SessionClaims;
use agentkeys_core::time_util::now_secs;
use alloy::primitives::B256;
use axum::body::Body;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use super::anchor_tests::{env, event_for, Env};
use super::*;
use crate::vault::LocalKeys;

const ISSUER: &str = "http://relay.test";
const OP_A: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const OP_B: &str = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
const SCHEDULE: AnchorSchedule = AnchorSchedule {
    every_records: 64,
    every_secs: 30,
};

fn k1() -> Es256Key {
    Es256Key::from_secret(KeyPurpose::Session, &[0x11; 32]).unwrap()
}

fn session(operator: &str, exp_in: i64, key: &Es256Key) -> String {
    let now = now_secs();
    let opr: Omni = operator.parse().unwrap();
    SessionClaims {
        iss: ISSUER.into(),
        aud: ISSUER.into(),
        sub: Address([0xab; 20]),
        opr,
        act: opr,
        role: "master".into(),
        iat: now - 10,
        exp: (now as i64 + exp_in) as u64,
        jti: "session-1".into(),
    }
    .sign(key)
    .unwrap()
}

fn app(e: &Env) -> axum::Router {
    let jwks = Jwks {
        keys: vec![k1().jwk().clone()],
    };
    operator_routes::router(
        e.log.clone(),
        Arc::new(LocalKeys(jwks)),
        ISSUER.into(),
        Some(SCHEDULE),
    )
}

async fn get(app: &axum::Router, uri: &str, token: Option<&str>) -> (u16, Value) {
    let mut req = http::Request::builder().uri(uri);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let resp = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("<none>")
}

#[tokio::test]
async fn sessions_are_required_and_checked() {
    let e = env().await;
    let app = app(&e);
    for uri in ["/v1/audit/log", "/v1/audit/proof/1"] {
        let (status, body) = get(&app, uri, None).await;
        assert_eq!((status, code(&body)), (401, "session_missing"), "{uri}");
        let (status, body) = get(&app, uri, Some("not.a.token")).await;
        assert_eq!((status, code(&body)), (401, "session_invalid"), "{uri}");
        let expired = session(OP_A, -5, &k1());
        let (status, body) = get(&app, uri, Some(&expired)).await;
        assert_eq!((status, code(&body)), (401, "session_expired"), "{uri}");
        // Signed by a key the broker does not publish.
        let other = Es256Key::from_secret(KeyPurpose::Session, &[0x22; 32]).unwrap();
        let forged = session(OP_A, 600, &other);
        let (status, body) = get(&app, uri, Some(&forged)).await;
        assert_eq!((status, code(&body)), (401, "session_invalid"), "{uri}");
    }
}

#[tokio::test]
async fn log_lists_only_the_session_operators_records() {
    let e = env().await;
    for n in 1..=70u32 {
        let op = if n % 10 == 0 { OP_B } else { OP_A };
        e.log.append(event_for(op, n)).await.unwrap();
    }
    let app = app(&e);
    let a = session(OP_A, 600, &k1());
    let (status, body) = get(&app, "/v1/audit/log", Some(&a)).await;
    assert_eq!(status, 200, "{body}");
    let page: AuditLogResponse = serde_json::from_value(body).unwrap();
    assert_eq!(page.records.len(), 50, "default page");
    assert!(page.records.iter().all(|r| r.operator == OP_A));
    assert_eq!(page.records[0].id, 1);
    // Every record carries what its hash covers.
    for r in &page.records {
        assert_eq!(
            agentkeys_core::audit::view_hash(r).as_deref(),
            Some(r.hash.as_str())
        );
    }

    let (_, body) = get(&app, "/v1/audit/log?after=55&limit=3", Some(&a)).await;
    let page: AuditLogResponse = serde_json::from_value(body).unwrap();
    let ids: Vec<u64> = page.records.iter().map(|r| r.id).collect();
    assert_eq!(ids, [56, 57, 58]);
    let (_, body) = get(&app, "/v1/audit/log?after=0&limit=100000", Some(&a)).await;
    let page: AuditLogResponse = serde_json::from_value(body).unwrap();
    assert_eq!(page.records.len(), 63);

    let b = session(OP_B, 600, &k1());
    let (_, body) = get(&app, "/v1/audit/log?limit=1000", Some(&b)).await;
    let page: AuditLogResponse = serde_json::from_value(body).unwrap();
    let ids: Vec<u64> = page.records.iter().map(|r| r.id).collect();
    assert_eq!(ids, [10, 20, 30, 40, 50, 60, 70]);

    let (status, body) = get(&app, "/v1/audit/log?after=-1", Some(&a)).await;
    assert_eq!((status, code(&body)), (400, "bad_request"));
    let (status, body) = get(&app, "/v1/audit/log?limit=x", Some(&a)).await;
    assert_eq!((status, code(&body)), (400, "bad_request"));
}

#[tokio::test]
async fn proof_is_for_the_operators_own_records_and_verifies_once_anchored() {
    let e = env().await;
    e.log.append(event_for(OP_A, 1)).await.unwrap();
    e.log.append(event_for(OP_B, 2)).await.unwrap();
    e.log.append(event_for(OP_A, 3)).await.unwrap();
    let app = app(&e);
    let a = session(OP_A, 600, &k1());

    let (status, body) = get(&app, "/v1/audit/proof/3", Some(&a)).await;
    assert_eq!(status, 200, "{body}");
    let p: AuditProofResponse = serde_json::from_value(body.clone()).unwrap();
    assert_eq!(p.record.id, 3);
    assert_eq!(p.anchor, None);
    assert!(body.get("anchor").is_none());
    assert_eq!(p.schedule, Some(SCHEDULE));

    // Another operator's record answers exactly like an unknown id.
    for uri in ["/v1/audit/proof/2", "/v1/audit/proof/99"] {
        let (status, body) = get(&app, uri, Some(&a)).await;
        assert_eq!((status, code(&body)), (404, "record_not_found"), "{uri}");
    }
    let (status, body) = get(&app, "/v1/audit/proof/abc", Some(&a)).await;
    assert_eq!((status, code(&body)), (400, "bad_request"));

    let anchorer = e.spawn(AnchorPolicy {
        every_records: 0,
        every_secs: 0,
    });
    anchorer.anchor_now().await.unwrap();
    let (status, body) = get(&app, "/v1/audit/proof/3", Some(&a)).await;
    assert_eq!(status, 200, "{body}");
    let p: AuditProofResponse = serde_json::from_value(body).unwrap();
    let anchor = p.anchor.expect("anchored");
    assert_eq!((anchor.root_index, anchor.count), (0, 2));
    assert!(anchor.block_number.is_some());
    assert!(anchor.tx_hash.as_deref().is_some_and(|t| t.len() == 66));
    let root = B256::from(decode_0x32(&anchor.root).unwrap());
    let proof: Vec<B256> = anchor
        .proof
        .iter()
        .map(|s| B256::from(decode_0x32(s).unwrap()))
        .collect();
    let hash = B256::from(agentkeys_core::audit::decode_hash(&p.record.hash).unwrap());
    assert!(merkle::verify(root, hash, &proof));
    // And the chain holds that root for A.
    let on_chain = crate::chain::views::audit_root(&*e.chain, &OP_A.parse().unwrap(), 0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(on_chain.root, anchor.root);
    assert_eq!(on_chain.count, 2);

    // Still not B's to read, anchored or not.
    let (status, body) = get(&app, "/v1/audit/proof/2", Some(&a)).await;
    assert_eq!((status, code(&body)), (404, "record_not_found"));
    let b = session(OP_B, 600, &k1());
    let (status, _) = get(&app, "/v1/audit/proof/2", Some(&b)).await;
    assert_eq!(status, 200);
}
