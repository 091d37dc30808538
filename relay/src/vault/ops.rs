//! The four operations on verified requests. The request body must name the capability's
//! service (`cap_service_mismatch` otherwise), so a capability for one object never touches
//! another.

use super::dek::object_of;
use super::Vault;
use crate::http::{decode_json, json_ok};
use crate::storage::ObjectStore;
use agentkeys_core::cap::CapClaims;
use agentkeys_core::envelope::{self, Dek, EnvelopeError, EnvelopeHeader};
use agentkeys_core::names::{validate_object_name, Op, LIST_ALL, MAX_VALUE_BYTES};
use agentkeys_core::wire::{
    GetResponse, ListRequest, ListResponse, NameRequest, PutRequest, PutResponse, SecretValue,
    TeardownResponse,
};
use agentkeys_core::{ApiError, ErrorCode};
use axum::response::Response;

/// Most objects one list returns.
const LIST_LIMIT: usize = 10_000;

fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    decode_json(body).map_err(|f| f.0)
}

pub(super) fn same_service(c: &CapClaims, name: &str) -> Result<(), ApiError> {
    validate_object_name(name)?;
    if name != c.svc {
        return Err(ApiError::from_code(ErrorCode::CapServiceMismatch));
    }
    Ok(())
}

pub async fn run(
    v: &Vault,
    store: &ObjectStore,
    c: &CapClaims,
    body: &[u8],
) -> Result<Response, ApiError> {
    match c.op {
        Op::Store => put(v, store, c, decode(body)?).await,
        Op::Fetch => fetch(v, store, c, decode(body)?).await,
        Op::Teardown => teardown(store, c, decode(body)?).await,
        Op::List => {
            let _: ListRequest = decode(body)?;
            list(store, c).await
        }
    }
}

async fn put(
    v: &Vault,
    store: &ObjectStore,
    c: &CapClaims,
    req: PutRequest,
) -> Result<Response, ApiError> {
    same_service(c, &req.name)?;
    let plain = req
        .value
        .decode()
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidValue, "value is not base64"))?;
    if plain.is_empty() || plain.len() > MAX_VALUE_BYTES {
        return Err(ApiError::from_code(ErrorCode::InvalidValue));
    }
    let dek = Dek::generate();
    let ctx = object_of(c, &req.name);
    let (epoch, wrapped) = v.signer.wrap(&ctx, &dek).await?;
    let header = EnvelopeHeader::new(epoch, wrapped);
    let sealed = envelope::seal(&dek, &header, &ctx, &plain);
    let key = envelope::object_key(c.dc, &c.sub, &req.name);
    store.put(c.dc, &key, sealed).await?;
    Ok(json_ok(&PutResponse {
        name: req.name,
        stored: true,
    }))
}

async fn fetch(
    v: &Vault,
    store: &ObjectStore,
    c: &CapClaims,
    req: NameRequest,
) -> Result<Response, ApiError> {
    same_service(c, &req.name)?;
    let key = envelope::object_key(c.dc, &c.sub, &req.name);
    let bytes = store.get(c.dc, &key).await?.ok_or_else(|| {
        ApiError::new(
            ErrorCode::SecretNotFound,
            format!("no {} stored under '{}'", c.dc, req.name),
        )
    })?;
    let integrity = |why: &str| {
        ApiError::new(
            ErrorCode::ObjectIntegrityFailed,
            format!("object '{}' {why}", req.name),
        )
    };
    let (header, _) = EnvelopeHeader::parse(&bytes).map_err(|e| match e {
        EnvelopeError::UnsupportedVersion(_) => integrity("has an unsupported envelope version"),
        _ => integrity("is not a valid envelope"),
    })?;
    // Version 1 objects (stored before data keys were bound to their object) still open here:
    // their key opens for the actor and class, and the envelope's own associated data checks
    // operator and name below before anything is released.
    let ctx = object_of(c, &req.name);
    let dek: Dek = v
        .signer
        .unwrap(header.version, &ctx, header.epoch, &header.wrapped_dek)
        .await
        .map_err(|e| match e.code {
            ErrorCode::UnwrapFailed | ErrorCode::EpochUnknown => {
                integrity("failed its integrity check: its data key does not open for this object")
            }
            _ => e,
        })?;
    let plain = envelope::open(&dek, &bytes, &ctx).map_err(|_| {
        integrity("failed its integrity check (tampered, or moved from another service or actor)")
    })?;
    Ok(json_ok(&GetResponse {
        name: req.name,
        value: SecretValue::from_bytes(&plain),
    }))
}

async fn teardown(
    store: &ObjectStore,
    c: &CapClaims,
    req: NameRequest,
) -> Result<Response, ApiError> {
    same_service(c, &req.name)?;
    let key = envelope::object_key(c.dc, &c.sub, &req.name);
    if !store.exists(c.dc, &key).await? {
        return Err(ApiError::new(
            ErrorCode::SecretNotFound,
            format!("no {} stored under '{}'", c.dc, req.name),
        ));
    }
    store.delete(c.dc, &key).await?;
    Ok(json_ok(&TeardownResponse {
        name: req.name,
        deleted: true,
    }))
}

async fn list(store: &ObjectStore, c: &CapClaims) -> Result<Response, ApiError> {
    if c.svc != LIST_ALL {
        return Err(ApiError::from_code(ErrorCode::CapServiceMismatch));
    }
    let prefix = envelope::object_prefix(c.dc, &c.sub);
    let keys = store.list(c.dc, &prefix, LIST_LIMIT).await?;
    let mut names: Vec<String> = keys
        .iter()
        .filter_map(|k| {
            k.strip_prefix(&prefix)?
                .strip_suffix(".enc")
                .map(String::from)
        })
        .filter(|n| validate_object_name(n).is_ok())
        .collect();
    names.sort();
    Ok(json_ok(&ListResponse { names }))
}
