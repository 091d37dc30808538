//! One vault request: capability → proof of possession → replay → body → operation, each
//! refusal with its exact code. Refusals after the capability verified are audited too, so
//! the log shows attempts as well as successes.

use super::replay::ReplayVerdict;
use super::{dek, ops};
use super::{Action, Vault};
use crate::audit::AuditEvent;
use crate::chain::authz::CapCheck;
use crate::http::{bearer_token, read_body, ApiFailure};
use agentkeys_core::cap::{check_cap_claims, verify_cap_signature, CapClaims, CapExpectation};
use agentkeys_core::identity::sha256;
use agentkeys_core::names::{DataClass, Op};
use agentkeys_core::pop::{self, POP_HEADER};
use agentkeys_core::time_util::now_secs;
use agentkeys_core::wire::MAX_BODY_BYTES;
use agentkeys_core::{ApiError, ErrorCode};
use axum::extract::{Request, State};
use axum::response::Response;
use std::sync::Arc;

pub async fn handle(
    State(v): State<Arc<Vault>>,
    req: Request,
    dc: DataClass,
    op: Op,
    path: &'static str,
    action: Action,
) -> Result<Response, ApiFailure> {
    let now = now_secs();
    let token = bearer_token(req.headers())
        .ok_or(ErrorCode::CapMissing)?
        .to_string();
    let proof = match req.headers().get(POP_HEADER) {
        Some(h) => Some(h.to_str().map_err(|_| ErrorCode::PopMalformed)?.to_string()),
        None => None,
    };
    let claims = verify(&v, &token, dc, op, now).await?;
    let caller = super::caller_creds::from_headers(req.headers(), v.require_caller_credentials);
    let body = read_body(req.into_body(), MAX_BODY_BYTES).await?;
    let outcome = async {
        // The chain may have changed since the broker minted: revoked device, narrowed scope,
        // advanced epoch. Checked here too, and audited like every refusal after this point.
        v.authority
            .check_with_epoch(
                CapCheck {
                    device: &claims.cnf.eth_addr,
                    operator: &claims.opr,
                    actor: &claims.sub,
                    service: &claims.svc,
                    op,
                },
                claims.epoch,
            )
            .await?;
        let proof = proof.ok_or(ErrorCode::PopMissing)?;
        let verified = pop::verify(
            &proof,
            &claims.jti,
            &claims.cnf.eth_addr,
            "POST",
            path,
            &body,
            now,
        )?;
        match v
            .replay
            .check_and_insert(&verified.replay_key, verified.ts, now)
        {
            ReplayVerdict::Fresh => {}
            ReplayVerdict::Replayed => return Err(ApiError::from_code(ErrorCode::PopReplayed)),
            ReplayVerdict::Full => {
                return Err(ApiError::new(
                    ErrorCode::Timeout,
                    "too many requests in flight; retry shortly",
                ))
            }
        }
        // With the caller's own credentials the object store itself holds the actor to its
        // prefix; without, the vault's.
        let store = match caller? {
            Some(c) => v.store.with_caller(&c),
            None => v.store.clone(),
        };
        match action {
            Action::Object => ops::run(&v, &store, &claims, &body).await,
            Action::WrapDek => dek::wrap_route(&v, &claims, &body).await,
            Action::UnwrapDek => dek::unwrap_route(&v, &claims, &body).await,
        }
    }
    .await;
    match outcome {
        Ok(done) => {
            // Durable before the response: if the audit cannot write, nothing is released.
            v.audit.record(event(&claims, action, "ok")).await?;
            Ok(done)
        }
        Err(e) => {
            if let Err(audit_err) = v
                .audit
                .record(event(&claims, action, e.code.as_str()))
                .await
            {
                tracing::warn!(code = %audit_err.code, "refusal could not be audited");
            }
            Err(e.into())
        }
    }
}

async fn verify(
    v: &Vault,
    token: &str,
    dc: DataClass,
    op: Op,
    now: u64,
) -> Result<CapClaims, ApiError> {
    let expect = CapExpectation {
        issuer: &v.issuer,
        audience: &v.audience,
        op,
        data_class: dc,
        now,
    };
    let token_hash = sha256(token.as_bytes());
    let claims = match v.verified.get(&token_hash) {
        Some(claims) => claims,
        None => {
            let jwks = v.keys.jwks().await?;
            let claims = match verify_cap_signature(token, &jwks) {
                Err(ErrorCode::CapUnknownKey) => {
                    let fresh = v.keys.refresh().await?;
                    verify_cap_signature(token, &fresh)?
                }
                other => other?,
            };
            v.verified.insert(token_hash, claims.clone(), now);
            claims
        }
    };
    check_cap_claims(&claims, &expect)?;
    Ok(claims)
}

fn event(c: &CapClaims, action: Action, outcome: &str) -> AuditEvent {
    let op = match action {
        Action::Object => c.op.as_str(),
        Action::WrapDek => "dek-wrap",
        Action::UnwrapDek => "dek-unwrap",
    };
    AuditEvent {
        operator: c.opr.to_hex(),
        device: c.cnf.eth_addr.to_hex(),
        actor: c.sub.to_hex(),
        service: c.svc.clone(),
        op: op.to_string(),
        data_class: c.dc.as_str().to_string(),
        outcome: outcome.to_string(),
        cap_jti_hash: hex::encode(sha256(c.jti.as_bytes())),
    }
}
