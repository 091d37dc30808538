//! Capability minting. The route fixes the data class and the operation; the session fixes
//! who may ask; the body names operator, actor and service, each checked against the session
//! and then against the chain (device, role, scope, epoch).

use super::Broker;
use crate::audit::AuditEvent;
use crate::chain::authz::CapCheck;
use crate::chain::views;
use crate::http::{bearer_token, decode_json, json_ok, read_body, ApiFailure};
use agentkeys_core::cap::{clamp_ttl, CapClaims, Confirmation};
use agentkeys_core::identity::sha256;
use agentkeys_core::names::{validate_object_name, DataClass, Op, LIST_ALL};
use agentkeys_core::session::{verify_session, SessionClaims};
use agentkeys_core::time_util::now_secs;
use agentkeys_core::wire::{CapRequest, CapResponse};
use agentkeys_core::{b64, ApiError, ErrorCode};
use axum::extract::{Request, State};
use axum::response::Response;
use rand::RngCore;
use std::sync::Arc;

const SMALL_BODY: usize = 8 * 1024;

/// Writes a refused attempt on another operator's data into that operator's audit trail, so
/// the victim sees who tried. Best effort: the refusal stands whether or not it is recorded.
/// Operator and actor are the caller's words: the line goes only to an operator the chain
/// holds, and names the actor only when the chain says it is that operator's.
async fn record_foreign_attempt(
    b: &Broker,
    session: &SessionClaims,
    req: &CapRequest,
    dc: DataClass,
    op: Op,
) {
    if !b.foreign.admit(&b.authority, &session.sub).await {
        return;
    }
    match views::operator_nonce(b.authority.chain().as_ref(), &req.operator).await {
        Ok(n) if n > 0 => {}
        _ => return,
    }
    let actor = if req.actor == req.operator
        || b.authority.actor_operator(&req.actor).await.ok().flatten() == Some(req.operator)
    {
        req.actor.to_hex()
    } else {
        "?".to_string()
    };
    // The name is the caller's; only a well-formed one is kept in someone else's trail.
    let service = if req.service == LIST_ALL || validate_object_name(&req.service).is_ok() {
        req.service.clone()
    } else {
        "?".to_string()
    };
    let event = AuditEvent {
        operator: req.operator.to_hex(),
        device: session.sub.to_string(),
        actor,
        service,
        op: op.as_str().to_string(),
        data_class: dc.as_str().to_string(),
        outcome: ErrorCode::OperatorMismatch.as_str().to_string(),
        // No capability was minted; the session that asked is named instead.
        cap_jti_hash: hex::encode(sha256(session.jti.as_bytes())),
    };
    b.foreign.write(&req.operator, event).await;
}

pub async fn mint(
    State(b): State<Arc<Broker>>,
    req: Request,
    dc: DataClass,
    op: Op,
) -> Result<Response, ApiFailure> {
    let now = now_secs();
    let token = bearer_token(req.headers())
        .ok_or(ErrorCode::SessionMissing)?
        .to_string();
    let session = verify_session(&token, &b.jwks(), &b.issuer, now)?;
    let body = read_body(req.into_body(), SMALL_BODY).await?;
    let req: CapRequest = decode_json(&body)?;
    if req.operator != session.opr {
        record_foreign_attempt(&b, &session, &req, dc, op).await;
        return Err(ErrorCode::OperatorMismatch.into());
    }
    if !(op == Op::List && req.service == LIST_ALL) {
        validate_object_name(&req.service)?;
    }
    // Another actor only for a master's teardown of its own agent; the chain decides that.
    if req.actor != session.act && !matches!(op, Op::List | Op::Teardown) {
        return Err(ErrorCode::ActorNotPermitted.into());
    }
    b.authority
        .check(CapCheck {
            device: &session.sub,
            operator: &req.operator,
            actor: &req.actor,
            service: &req.service,
            op,
        })
        .await?;
    // A list names no service; refused only after the chain's answer, so that a refusal for
    // someone else's actor is the same whatever the request names.
    if op == Op::List && req.service != LIST_ALL {
        return Err(ErrorCode::InvalidServiceName.into());
    }
    let epoch = b.authority.epoch().await?;
    let signer_epoch = b.signer.current_epoch().await?;
    if signer_epoch != epoch {
        // Minting for an epoch the signer cannot wrap under would only fail later, at the vault.
        return Err(ApiError::new(
            ErrorCode::SignerUnavailable,
            format!("the signer's key epoch ({signer_epoch}) is not the chain's ({epoch})"),
        )
        .into());
    }
    let mut jti = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut jti);
    let ttl = clamp_ttl(req.ttl_secs);
    let claims = CapClaims {
        iss: b.issuer.clone(),
        aud: b.vault_audience.clone(),
        sub: req.actor,
        opr: req.operator,
        op,
        dc,
        svc: req.service,
        dkh: format!("0x{}", hex::encode(session.sub.device_key_hash())),
        epoch,
        iat: now,
        exp: now + ttl,
        jti: b64::encode_url(&jti),
        cnf: Confirmation {
            eth_addr: session.sub,
        },
    };
    let cap = claims.sign(&b.k1)?;
    Ok(json_ok(&CapResponse {
        cap,
        expires_at: claims.exp,
    }))
}
