//! The signer's HTTP API, mounted only when roles run apart. Every call needs the internal
//! token; nothing here ever returns a KEK or K3.

use super::DekSigner;
use crate::http::{decode_json, json_ok, read_body, ApiFailure};
use crate::internal::InternalAuth;
use agentkeys_core::envelope::{Dek, ObjectContext};
use agentkeys_core::wire::{
    SecretValue, UnwrapRequest, UnwrapResponse, WrapRequest, WrapResponse, MAX_BODY_BYTES,
};
use agentkeys_core::{b64, routes, ApiError, ErrorCode};
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use std::sync::Arc;

#[derive(Clone)]
struct SignerState {
    signer: Arc<dyn DekSigner>,
    auth: InternalAuth,
}

pub fn router(signer: Arc<dyn DekSigner>, auth: InternalAuth) -> Router {
    Router::new()
        .route(routes::SIGNER_WRAP, post(wrap))
        .route(routes::SIGNER_UNWRAP, post(unwrap))
        .route(routes::SIGNER_EPOCH, post(epoch))
        .with_state(SignerState { signer, auth })
}

async fn wrap(State(s): State<SignerState>, req: Request) -> Result<Response, ApiFailure> {
    s.auth.check(req.headers())?;
    let body = read_body(req.into_body(), MAX_BODY_BYTES).await?;
    let req: WrapRequest = decode_json(&body)?;
    let bytes = req.dek.decode().ok_or(ErrorCode::BadRequest)?;
    let dek = Dek::from_slice(&bytes).ok_or(ErrorCode::BadRequest)?;
    let ctx = ObjectContext {
        data_class: req.data_class,
        operator: &req.operator,
        actor: &req.actor,
        name: &req.name,
    };
    let (epoch, wrapped) = s.signer.wrap(&ctx, &dek).await?;
    Ok(json_ok(&WrapResponse {
        epoch,
        wrapped: b64::encode(&wrapped),
    }))
}

async fn unwrap(State(s): State<SignerState>, req: Request) -> Result<Response, ApiFailure> {
    s.auth.check(req.headers())?;
    let body = read_body(req.into_body(), MAX_BODY_BYTES).await?;
    let req: UnwrapRequest = decode_json(&body)?;
    let wrapped = b64::decode(&req.wrapped)
        .ok_or_else(|| ApiError::new(ErrorCode::BadRequest, "wrapped is not base64"))?;
    let ctx = ObjectContext {
        data_class: req.data_class,
        operator: &req.operator,
        actor: &req.actor,
        name: &req.name,
    };
    let dek = s
        .signer
        .unwrap(req.version, &ctx, req.epoch, &wrapped)
        .await?;
    Ok(json_ok(&UnwrapResponse {
        dek: SecretValue::from_bytes(dek.as_bytes()),
    }))
}

async fn epoch(State(s): State<SignerState>, req: Request) -> Result<Response, ApiFailure> {
    s.auth.check(req.headers())?;
    let epoch = s.signer.current_epoch().await?;
    Ok(json_ok(&WrapResponse {
        epoch,
        wrapped: String::new(),
    }))
}
