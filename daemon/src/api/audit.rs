//! The operator's audit trail: `GET /v1/audit/log` pages through it at the relay, and
//! `POST /v1/audit/verify` checks one record against the chain instead of trusting the relay:
//!
//! 1. the record's hash is recomputed from its fields and must equal the hash it carries;
//! 2. the sibling path must lead from that hash to the batch root the relay names;
//! 3. the chain must hold that root, with the same record count, at that index for the
//!    operator: read from a chain node directly when an RPC URL is given (`rpc_url`, else the
//!    daemon's `chain_rpc_url`), else through the relay's public chain endpoint.
//!
//! Any mismatch is `audit_proof_invalid`; a record whose batch is not anchored yet is
//! `audit_not_anchored`.

use agentkeys_core::audit::{decode_0x32, encode_0x32, root_from_proof, view_hash};
use agentkeys_core::chain::{
    AnchorSchedule, AuditLogResponse, AuditProofResponse, AuditRootView, AuditVerifyRequest,
    AuditVerifyResponse, AUDIT_LOG_DEFAULT_LIMIT, AUDIT_LOG_MAX_LIMIT,
};
use agentkeys_core::error::{ApiError, ErrorCode};
use agentkeys_core::identity::Omni;
use agentkeys_core::routes;
use axum::extract::{Query, State};
use axum::http::Uri;
use axum::Json;
use serde::Deserialize;

use super::{ApiJson, ApiResult};
use crate::state::SharedState;

#[derive(Deserialize)]
struct LogQuery {
    #[serde(default)]
    after: u64,
    limit: Option<usize>,
}

pub async fn log(State(state): State<SharedState>, uri: Uri) -> ApiResult<AuditLogResponse> {
    let q = Query::<LogQuery>::try_from_uri(&uri).map_err(|_| {
        ApiError::new(
            ErrorCode::BadRequest,
            "after and limit must be non-negative integers",
        )
    })?;
    let limit = q
        .limit
        .unwrap_or(AUDIT_LOG_DEFAULT_LIMIT)
        .min(AUDIT_LOG_MAX_LIMIT);
    let key = state.identity.require().await?;
    let path = format!("{}?after={}&limit={limit}", routes::AUDIT_LOG, q.after);
    let resp: AuditLogResponse = state.relay.get_session(&key, &path).await?;
    Ok(Json(resp))
}

pub async fn verify(
    State(state): State<SharedState>,
    ApiJson(req): ApiJson<AuditVerifyRequest>,
) -> ApiResult<AuditVerifyResponse> {
    let key = state.identity.require().await?;
    let path = routes::AUDIT_PROOF.replace("{id}", &req.id.to_string());
    let proof: AuditProofResponse = state.relay.get_session(&key, &path).await?;
    let claim = check_proof(req.id, &proof)?;
    let root_path = routes::CHAIN_AUDIT_ROOT
        .replace("{operator}", &claim.operator.to_hex())
        .replace("{index}", &claim.root_index.to_string());
    let on_chain = match super::chain::direct(&state, req.rpc_url).await? {
        // The chain itself, not the relay's account of it.
        Some(direct) => direct.audit_root(&claim.operator, claim.root_index).await?,
        None => match state.relay.get_public::<AuditRootView>(&root_path).await {
            Ok(root) => Some(root),
            Err(e) if e.code == ErrorCode::RecordNotFound => None,
            Err(e) => return Err(e.into()),
        },
    };
    Ok(Json(check_against_chain(claim, on_chain.as_ref())?))
}

/// What the relay claims about an anchored record, after the checks that need no chain.
#[derive(Debug)]
pub(crate) struct AnchorClaim {
    id: u64,
    record_hash: String,
    operator: Omni,
    root_index: u64,
    root: [u8; 32],
    count: u64,
    block_number: Option<u64>,
    tx_hash: Option<String>,
}

fn invalid(id: u64, why: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        ErrorCode::AuditProofInvalid,
        format!("audit record {id} does not verify: {why}"),
    )
}

pub(crate) fn not_anchored(id: u64, schedule: Option<AnchorSchedule>) -> ApiError {
    let when = match schedule {
        Some(s) if s.every_records > 0 && s.every_secs > 0 => format!(
            "the relay anchors batches every {} records or {} seconds, whichever comes first; \
             retry after that",
            s.every_records, s.every_secs
        ),
        Some(s) if s.every_secs > 0 => format!(
            "the relay anchors batches every {} seconds; retry after that",
            s.every_secs
        ),
        Some(s) if s.every_records > 0 => format!(
            "the relay anchors a batch every {} records; retry once more have been recorded",
            s.every_records
        ),
        _ => "this relay does not anchor audit batches on a chain".to_string(),
    };
    ApiError::new(
        ErrorCode::AuditNotAnchored,
        format!("audit record {id} is not anchored on chain yet: {when}"),
    )
}

/// Recomputes the record's hash and the root its proof leads to.
pub(crate) fn check_proof(id: u64, p: &AuditProofResponse) -> Result<AnchorClaim, ApiError> {
    let r = &p.record;
    if r.id != id {
        return Err(ApiError::new(
            ErrorCode::RelayProtocol,
            format!(
                "asked for audit record {id}, the relay answered with {}",
                r.id
            ),
        ));
    }
    let record_hash =
        view_hash(r).ok_or_else(|| invalid(id, "its prev_hash is not a record hash"))?;
    if record_hash != r.hash {
        return Err(invalid(
            id,
            "its fields do not hash to the hash the relay recorded",
        ));
    }
    let anchor = p
        .anchor
        .as_ref()
        .ok_or_else(|| not_anchored(id, p.schedule))?;
    let operator: Omni = r
        .operator
        .parse()
        .map_err(|_| invalid(id, "its operator is not an operator omni"))?;
    let leaf = agentkeys_core::audit::decode_hash(&record_hash)
        .ok_or_else(|| invalid(id, "its hash is malformed"))?;
    let proof = anchor
        .proof
        .iter()
        .map(|s| decode_0x32(s))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| invalid(id, "its proof holds a malformed hash"))?;
    let root = decode_0x32(&anchor.root).ok_or_else(|| invalid(id, "its root is malformed"))?;
    if root_from_proof(&leaf, &proof) != root {
        return Err(invalid(
            id,
            format!("its proof does not lead to root #{}", anchor.root_index),
        ));
    }
    Ok(AnchorClaim {
        id,
        record_hash,
        operator,
        root_index: anchor.root_index,
        root,
        count: anchor.count,
        block_number: anchor.block_number,
        tx_hash: anchor.tx_hash.clone(),
    })
}

/// Compares the claim with the root the chain holds at the claimed index.
pub(crate) fn check_against_chain(
    c: AnchorClaim,
    on_chain: Option<&AuditRootView>,
) -> Result<AuditVerifyResponse, ApiError> {
    let id = c.id;
    let root = on_chain.ok_or_else(|| {
        invalid(
            id,
            format!("the chain holds no root #{} for its operator", c.root_index),
        )
    })?;
    if root.operator != c.operator || root.index != c.root_index {
        return Err(ApiError::new(
            ErrorCode::RelayProtocol,
            "the relay answered with another operator's or another index's root",
        ));
    }
    if decode_0x32(&root.root) != Some(c.root) {
        return Err(invalid(
            id,
            format!(
                "root #{} on chain is {}, not the root its proof leads to ({})",
                c.root_index,
                root.root,
                encode_0x32(&c.root)
            ),
        ));
    }
    if root.count != c.count {
        return Err(invalid(
            id,
            format!(
                "root #{} on chain covers {} records, the relay says {}",
                c.root_index, root.count, c.count
            ),
        ));
    }
    Ok(AuditVerifyResponse {
        id,
        record_hash: c.record_hash,
        anchored: true,
        operator: c.operator,
        root_index: c.root_index,
        root: encode_0x32(&c.root),
        count: c.count,
        anchored_at: root.anchored_at,
        block_number: c.block_number,
        tx_hash: c.tx_hash,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentkeys_core::audit::{leaf_hash, node_hash, record_hash, RecordFields};
    use agentkeys_core::chain::{AuditAnchor, AuditRecordView};

    const OPERATOR: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn record(id: u64, prev: &str, service: &str) -> AuditRecordView {
        let mut v = AuditRecordView {
            id,
            time_ms: 1_700_000_000_000 + id as i64,
            operator: OPERATOR.into(),
            device: format!("0x{}", "ab".repeat(20)),
            actor: OPERATOR.into(),
            service: service.into(),
            op: "fetch".into(),
            data_class: "credentials".into(),
            outcome: "ok".into(),
            cap_jti_hash: "5964da055ae31cf8eb7230e190a504899c6f60f07f9f1cd3cade9fbf226e8c28".into(),
            prev_hash: prev.into(),
            hash: String::new(),
        };
        let prev = agentkeys_core::audit::decode_hash(prev).unwrap();
        v.hash = record_hash(&prev, v.id, v.time_ms, &RecordFields::of_view(&v));
        v
    }

    /// Three records in one batch; the proof of the second one.
    fn anchored() -> (AuditProofResponse, AuditRootView) {
        let r1 = record(1, agentkeys_core::audit::GENESIS_PREV_HASH, "a");
        let r2 = record(2, &r1.hash.clone(), "b");
        let r3 = record(3, &r2.hash.clone(), "c");
        let leaves: Vec<[u8; 32]> = [&r1, &r2, &r3]
            .iter()
            .map(|r| leaf_hash(&agentkeys_core::audit::decode_hash(&r.hash).unwrap()))
            .collect();
        let left = node_hash(&leaves[0], &leaves[1]);
        let root = node_hash(&left, &leaves[2]);
        let proof = AuditProofResponse {
            record: r2,
            anchor: Some(AuditAnchor {
                root_index: 4,
                root: encode_0x32(&root),
                count: 3,
                block_number: Some(45),
                tx_hash: Some(format!("0x{}", "77".repeat(32))),
                proof: vec![encode_0x32(&leaves[0]), encode_0x32(&leaves[2])],
            }),
            schedule: Some(AnchorSchedule {
                every_records: 64,
                every_secs: 30,
            }),
        };
        let on_chain = AuditRootView {
            operator: OPERATOR.parse().unwrap(),
            index: 4,
            root: encode_0x32(&root),
            count: 3,
            anchored_at: 1_700_000_100,
        };
        (proof, on_chain)
    }

    #[test]
    fn an_anchored_record_verifies() {
        let (proof, on_chain) = anchored();
        let claim = check_proof(2, &proof).unwrap();
        let v = check_against_chain(claim, Some(&on_chain)).unwrap();
        assert!(v.anchored);
        assert_eq!(v.record_hash, proof.record.hash);
        assert_eq!((v.root_index, v.count, v.block_number), (4, 3, Some(45)));
        assert_eq!(v.root, on_chain.root);
        assert_eq!(v.anchored_at, 1_700_000_100);
    }

    #[test]
    fn an_edited_field_is_caught() {
        let (mut proof, _) = anchored();
        proof.record.outcome = "pop_replayed".into();
        let e = check_proof(2, &proof).unwrap_err();
        assert_eq!(e.code, ErrorCode::AuditProofInvalid);
        // Even with a hash recomputed to match, the record no longer leads to the root.
        let prev = agentkeys_core::audit::decode_hash(&proof.record.prev_hash).unwrap();
        proof.record.hash = record_hash(
            &prev,
            2,
            proof.record.time_ms,
            &RecordFields::of_view(&proof.record),
        );
        let e = check_proof(2, &proof).unwrap_err();
        assert_eq!(e.code, ErrorCode::AuditProofInvalid);
        assert!(e.message.contains("root #4"), "{}", e.message);
    }

    #[test]
    fn a_wrong_sibling_is_caught() {
        let (mut proof, _) = anchored();
        proof.anchor.as_mut().unwrap().proof.swap(0, 1);
        let e = check_proof(2, &proof).unwrap_err();
        assert_eq!(e.code, ErrorCode::AuditProofInvalid);
    }

    #[test]
    fn the_chain_must_hold_the_same_root_and_count() {
        let (proof, on_chain) = anchored();
        let e = check_against_chain(check_proof(2, &proof).unwrap(), None).unwrap_err();
        assert_eq!(e.code, ErrorCode::AuditProofInvalid);

        let mut other = on_chain.clone();
        other.root = encode_0x32(&[9u8; 32]);
        let e = check_against_chain(check_proof(2, &proof).unwrap(), Some(&other)).unwrap_err();
        assert_eq!(e.code, ErrorCode::AuditProofInvalid);

        let mut other = on_chain.clone();
        other.count = 4;
        let e = check_against_chain(check_proof(2, &proof).unwrap(), Some(&other)).unwrap_err();
        assert_eq!(e.code, ErrorCode::AuditProofInvalid);

        let mut other = on_chain;
        other.index = 5;
        let e = check_against_chain(check_proof(2, &proof).unwrap(), Some(&other)).unwrap_err();
        assert_eq!(e.code, ErrorCode::RelayProtocol);
    }

    #[test]
    fn not_anchored_says_when_to_retry() {
        let (mut proof, _) = anchored();
        proof.anchor = None;
        let e = check_proof(2, &proof).unwrap_err();
        assert_eq!(e.code, ErrorCode::AuditNotAnchored);
        assert_eq!(e.status(), 409);
        assert!(
            e.message.contains("64 records or 30 seconds"),
            "{}",
            e.message
        );
        proof.schedule = None;
        let e = check_proof(2, &proof).unwrap_err();
        assert!(e.message.contains("does not anchor"), "{}", e.message);
    }

    /// The routes through the socket router, with a file keychain and no relay.
    #[tokio::test]
    async fn routes_refuse_before_reaching_the_relay() {
        use crate::identity::Identity;
        use crate::keychain::{DeviceKeyStore, KeychainConfig, KeychainMode};
        use crate::relay_client::RelayClient;
        use crate::shutdown::Shutdown;
        use crate::state::AppState;
        use http_body_util::BodyExt;
        use tower::ServiceExt;

        let dir = tempfile::tempdir().unwrap();
        let store = DeviceKeyStore::open(&KeychainConfig {
            mode: KeychainMode::File,
            service: "agentkeys-test".into(),
            account: "audit-test".into(),
            file_dir: dir.path().join("device"),
        })
        .unwrap();
        let state = std::sync::Arc::new(AppState::new(
            Identity::new(store),
            RelayClient::new("http://127.0.0.1:9").unwrap(),
            Shutdown::new(),
            crate::ceremony::Role::Primary,
            dir.path().join("daemon"),
            crate::keychain::KeychainConfig::new(
                crate::keychain::KeychainMode::File,
                dir.path().join("device"),
            ),
        ));
        let call = |method: &str, uri: &str, body: &'static str| {
            let router = crate::api::router(state.clone());
            let req = http::Request::builder()
                .method(method)
                .uri(uri)
                .header("content-type", "application/json")
                .body(axum::body::Body::from(body))
                .unwrap();
            async move {
                let resp = router.oneshot(req).await.unwrap();
                let status = resp.status().as_u16();
                let bytes = resp.into_body().collect().await.unwrap().to_bytes();
                let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                (
                    status,
                    v["error"]["code"].as_str().unwrap_or("").to_string(),
                )
            }
        };
        assert_eq!(
            call("GET", "/v1/audit/log?after=x", "").await,
            (400, "bad_request".into())
        );
        assert_eq!(
            call("GET", "/v1/audit/log?after=3&limit=5", "").await,
            (409, "not_initialized".into())
        );
        assert_eq!(
            call("POST", "/v1/audit/verify", r#"{"id":"x"}"#).await,
            (400, "invalid_json".into())
        );
        assert_eq!(
            call("POST", "/v1/audit/verify", r#"{"id":3}"#).await,
            (409, "not_initialized".into())
        );
    }

    #[test]
    fn another_record_than_asked_is_a_protocol_error() {
        let (proof, _) = anchored();
        let e = check_proof(3, &proof).unwrap_err();
        assert_eq!(e.code, ErrorCode::RelayProtocol);
    }
}
