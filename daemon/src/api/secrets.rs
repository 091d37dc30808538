//! Credentials (`/v1/secrets/*`) and memory (`/v1/memory/*`): validated here, then one vault
//! operation through the relay client. The two data classes share shapes and differ only in
//! the class their capabilities are minted for.

use agentkeys_core::error::{ApiError, ErrorCode};
use agentkeys_core::names::{validate_object_name, DataClass, Op, MAX_VALUE_BYTES};
use agentkeys_core::wire::{
    GetResponse, ListRequest, ListResponse, NameRequest, PutRequest, PutResponse, TeardownResponse,
};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;

use super::acting;
use super::{ApiJson, ApiResult};
use crate::state::SharedState;

pub async fn store(
    State(state): State<SharedState>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<PutRequest>,
) -> ApiResult<PutResponse> {
    put(&state, &headers, DataClass::Credentials, req).await
}

pub async fn memory_put(
    State(state): State<SharedState>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<PutRequest>,
) -> ApiResult<PutResponse> {
    put(&state, &headers, DataClass::Memory, req).await
}

pub async fn read(
    State(state): State<SharedState>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<NameRequest>,
) -> ApiResult<GetResponse> {
    fetch(&state, &headers, DataClass::Credentials, req).await
}

pub async fn memory_get(
    State(state): State<SharedState>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<NameRequest>,
) -> ApiResult<GetResponse> {
    fetch(&state, &headers, DataClass::Memory, req).await
}

pub async fn remove(
    State(state): State<SharedState>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<NameRequest>,
) -> ApiResult<TeardownResponse> {
    named(&state, &headers, DataClass::Credentials, Op::Teardown, req).await
}

pub async fn list(
    State(state): State<SharedState>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<ListRequest>,
) -> ApiResult<ListResponse> {
    let key = acting::signer_key(&state, &headers, false).await?;
    let resp = state
        .relay
        .vault(&key, DataClass::Credentials, Op::List, "", &req)
        .await?;
    Ok(Json(resp))
}

async fn put(
    state: &SharedState,
    headers: &HeaderMap,
    dc: DataClass,
    req: PutRequest,
) -> ApiResult<PutResponse> {
    validate_object_name(&req.name)?;
    check_value(&req)?;
    let key = acting::signer_key(state, headers, true).await?;
    if state.direct_backend {
        let value = req.value.decode().ok_or_else(|| {
            ApiError::new(ErrorCode::InvalidValue, "the value is not valid base64")
        })?;
        return Ok(Json(
            state.relay.direct_put(&key, dc, &req.name, &value).await?,
        ));
    }
    let resp = state
        .relay
        .vault(&key, dc, Op::Store, &req.name, &req)
        .await?;
    Ok(Json(resp))
}

async fn named<Resp: serde::de::DeserializeOwned>(
    state: &SharedState,
    headers: &HeaderMap,
    dc: DataClass,
    op: Op,
    req: NameRequest,
) -> ApiResult<Resp> {
    validate_object_name(&req.name)?;
    let key = acting::signer_key(state, headers, false).await?;
    let resp = state.relay.vault(&key, dc, op, &req.name, &req).await?;
    Ok(Json(resp))
}

/// A read: through the vault, or with the direct backend from storage and opened here.
async fn fetch(
    state: &SharedState,
    headers: &HeaderMap,
    dc: DataClass,
    req: NameRequest,
) -> ApiResult<GetResponse> {
    if !state.direct_backend {
        return named(state, headers, dc, Op::Fetch, req).await;
    }
    validate_object_name(&req.name)?;
    let key = acting::signer_key(state, headers, false).await?;
    Ok(Json(state.relay.direct_get(&key, dc, &req.name).await?))
}

/// Refused here rather than by the vault so an obviously bad value never costs a sign-in.
fn check_value(req: &PutRequest) -> Result<(), ApiError> {
    let bytes = req
        .value
        .decode()
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidValue, "the value is not valid base64"))?;
    if bytes.is_empty() {
        return Err(ApiError::new(ErrorCode::InvalidValue, "the value is empty"));
    }
    if bytes.len() > MAX_VALUE_BYTES {
        return Err(ApiError::new(
            ErrorCode::InvalidValue,
            format!("the value is larger than {MAX_VALUE_BYTES} bytes"),
        ));
    }
    Ok(())
}
