//! The direct backend: the daemon seals an object itself with a data key the vault wraps (and
//! unwraps) through the signer, and moves the bytes with its own actor-scoped storage
//! credentials. The envelope is byte for byte the vault's, so either backend reads what the
//! other wrote. Objects in envelope version 1 (stored before data keys were bound to their
//! object) have keys the vault never hands out; those are read through the vault instead.

use std::time::Duration;

use agentkeys_core::b64;
use agentkeys_core::cloud::AwsCredsResponse;
use agentkeys_core::device_key::DeviceKey;
use agentkeys_core::envelope::{self, Dek, EnvelopeHeader, ObjectContext};
use agentkeys_core::error::{ApiError, ErrorCode};
use agentkeys_core::names::{DataClass, Op};
use agentkeys_core::pop;
use agentkeys_core::routes;
use agentkeys_core::time_util::now_secs;
use agentkeys_core::wire::{
    DekUnwrapRequest, DekUnwrapResponse, DekWrapRequest, DekWrapResponse, GetResponse, NameRequest,
    PutResponse, SecretValue,
};
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::primitives::ByteStream;
use serde::de::DeserializeOwned;
use serde::Serialize;
use zeroize::Zeroizing;

use super::http::{decode, encode};
use super::{is_stale_token, RelayClient};

/// Largest envelope read back (a 1 MiB value seals to a little more).
const MAX_OBJECT_BYTES: usize = 2 * 1024 * 1024;

fn storage_failure(what: &str, e: impl std::fmt::Display) -> ApiError {
    tracing::warn!(operation = what, error = %e, "direct storage request failed");
    ApiError::new(
        ErrorCode::StorageUnavailable,
        format!("the object store {what} failed"),
    )
}

fn s3(c: &AwsCredsResponse) -> aws_sdk_s3::Client {
    let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".to_string());
    let mut b = aws_sdk_s3::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .credentials_provider(Credentials::new(
            c.access_key_id.clone(),
            c.secret_access_key.clone(),
            Some(c.session_token.clone()),
            None,
            "agentkeys-direct",
        ))
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_timeout(Duration::from_secs(20))
                .build(),
        );
    if let Some(url) = &c.endpoint_url {
        b = b.endpoint_url(url).force_path_style(true);
    }
    aws_sdk_s3::Client::from_conf(b.build())
}

fn dek_from(text: &str) -> Result<Dek, ApiError> {
    let bytes = Zeroizing::new(b64::decode(text).unwrap_or_default());
    let arr: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
        ApiError::new(
            ErrorCode::RelayProtocol,
            "the vault sent a malformed data key",
        )
    })?;
    Ok(Dek::from_bytes(arr))
}

impl RelayClient {
    /// One data-key call with a capability for (`dc`, `op`, `name`) and a proof for `path`.
    async fn dek_call<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        key: &DeviceKey,
        dc: DataClass,
        op: Op,
        name: &str,
        path: &'static str,
        req: &Req,
    ) -> Result<Resp, ApiError> {
        let body = encode(req)?;
        for attempt in 0..2 {
            let now = now_secs();
            let cap = self.cap(key, None, dc, op, name, now).await?;
            let proof = pop::sign(key, &cap.jti, "POST", path, &body, now);
            match self
                .http
                .post(path, Some(&cap.token), Some(&proof), body.clone())
                .await
            {
                Err(e) if attempt == 0 && is_stale_token(&e) => self.forget().await,
                Err(e) => return Err(self.after_failure(e).await),
                other => return decode(path, &other?),
            }
        }
        Err(ApiError::new(
            ErrorCode::Internal,
            "the vault kept refusing",
        ))
    }

    /// Seals `value` under a fresh wrapped data key and PUTs it with the actor's credentials.
    pub async fn direct_put(
        &self,
        key: &DeviceKey,
        dc: DataClass,
        name: &str,
        value: &[u8],
    ) -> Result<PutResponse, ApiError> {
        let session = self.session(key, &key.address()).await?;
        let (wrap, _) = routes::dek_routes(dc);
        let w: DekWrapResponse = self
            .dek_call(
                key,
                dc,
                Op::Store,
                name,
                wrap,
                &DekWrapRequest {
                    name: name.into(),
                    version: envelope::VERSION,
                },
            )
            .await?;
        let dek = dek_from(&w.dek)?;
        let wrapped = b64::decode(&w.wrapped_dek).ok_or_else(|| {
            ApiError::new(
                ErrorCode::RelayProtocol,
                "the vault sent a malformed wrapped key",
            )
        })?;
        let header = EnvelopeHeader::new(w.epoch, wrapped);
        let ctx = ObjectContext {
            data_class: dc,
            operator: &session.operator,
            actor: &session.actor,
            name,
        };
        let sealed = envelope::seal(&dek, &header, &ctx, value);
        let creds = self.storage_creds(key, dc).await?;
        s3(&creds)
            .put_object()
            .bucket(&creds.bucket)
            .key(envelope::object_key(dc, &session.actor, name))
            .content_type("application/octet-stream")
            .body(ByteStream::from(sealed))
            .send()
            .await
            .map_err(|e| storage_failure("put", aws_sdk_s3::error::DisplayErrorContext(&e)))?;
        Ok(PutResponse {
            name: name.to_string(),
            stored: true,
        })
    }

    /// GETs the envelope with the actor's credentials and opens it with the unwrapped key.
    pub async fn direct_get(
        &self,
        key: &DeviceKey,
        dc: DataClass,
        name: &str,
    ) -> Result<GetResponse, ApiError> {
        let session = self.session(key, &key.address()).await?;
        let creds = self.storage_creds(key, dc).await?;
        let object = match s3(&creds)
            .get_object()
            .bucket(&creds.bucket)
            .key(envelope::object_key(dc, &session.actor, name))
            .send()
            .await
        {
            Ok(o) => o,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => {
                return Err(ApiError::new(
                    ErrorCode::SecretNotFound,
                    format!("no {dc} stored under '{name}'"),
                ))
            }
            Err(e) => {
                return Err(storage_failure(
                    "get",
                    aws_sdk_s3::error::DisplayErrorContext(&e),
                ))
            }
        };
        let bytes = object
            .body
            .collect()
            .await
            .map_err(|e| storage_failure("get body", e))?
            .into_bytes();
        let integrity = |why: &str| {
            ApiError::new(
                ErrorCode::ObjectIntegrityFailed,
                format!("object '{name}' {why}"),
            )
        };
        if bytes.len() > MAX_OBJECT_BYTES {
            return Err(integrity("is larger than any envelope"));
        }
        let (header, _) =
            EnvelopeHeader::parse(&bytes).map_err(|_| integrity("is not a valid envelope"))?;
        let (_, unwrap) = routes::dek_routes(dc);
        let u: DekUnwrapResponse = match self
            .dek_call(
                key,
                dc,
                Op::Fetch,
                name,
                unwrap,
                &DekUnwrapRequest {
                    name: name.into(),
                    version: header.version,
                    epoch: header.epoch,
                    wrapped_dek: b64::encode(&header.wrapped_dek),
                },
            )
            .await
        {
            Err(e) if e.code == ErrorCode::EnvelopeLegacyFormat => {
                tracing::info!(name, "a version 1 object; reading it through the vault");
                let req = NameRequest { name: name.into() };
                return self.vault(key, dc, Op::Fetch, name, &req).await;
            }
            other => other?,
        };
        let dek = dek_from(&u.dek)?;
        let ctx = ObjectContext {
            data_class: dc,
            operator: &session.operator,
            actor: &session.actor,
            name,
        };
        let plain = Zeroizing::new(envelope::open(&dek, &bytes, &ctx).map_err(|_| {
            integrity(
                "failed its integrity check (tampered, or moved from another service or actor)",
            )
        })?);
        Ok(GetResponse {
            name: name.to_string(),
            value: SecretValue::from_bytes(&plain),
        })
    }
}
