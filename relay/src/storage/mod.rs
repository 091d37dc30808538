//! Object storage through `aws-sdk-s3` only: the same code talks to the embedded S3 server,
//! moto_server, MinIO or AWS. One bucket per data class.

use crate::config::{S3Credentials, StorageConfig};
use agentkeys_core::names::DataClass;
use agentkeys_core::{ApiError, ErrorCode};
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use std::time::Duration;

/// Temporary credentials a caller presents to the vault (`X-Aws-*` headers).
pub struct CallerCredentials {
    pub access_key_id: String,
    pub secret_access_key: zeroize::Zeroizing<String>,
    pub session_token: zeroize::Zeroizing<String>,
}

impl std::fmt::Debug for CallerCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallerCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"redacted")
            .field("session_token", &"redacted")
            .finish()
    }
}

/// Objects larger than this are never read into memory (envelopes of 1 MiB values are ~1 MiB).
pub const MAX_OBJECT_BYTES: usize = 2 * 1024 * 1024;

#[derive(Clone)]
pub struct ObjectStore {
    client: Client,
    credentials_bucket: String,
    memory_bucket: String,
}

fn unavailable(what: &str, e: impl std::fmt::Display) -> ApiError {
    // The SDK's display never includes credentials; it names the operation and the cause.
    tracing::warn!(operation = what, error = %e, "object store request failed");
    ApiError::new(
        ErrorCode::StorageUnavailable,
        format!("object store {what} failed"),
    )
}

/// A refused request (403: credentials that may not touch that object) is the caller's
/// problem, not an outage.
fn failure<E: std::error::Error + Send + Sync + 'static>(
    what: &str,
    e: &SdkError<E, HttpResponse>,
) -> ApiError {
    if e.raw_response().is_some_and(|r| r.status().as_u16() == 403) {
        tracing::info!(operation = what, "the object store refused the credentials");
        return ApiError::new(
            ErrorCode::StorageAccessDenied,
            format!("the object store refused {what} with these credentials"),
        );
    }
    unavailable(what, aws_sdk_s3::error::DisplayErrorContext(e))
}

impl ObjectStore {
    /// The same store reached with the caller's own (temporary, actor-scoped) credentials, so
    /// the storage layer itself enforces the actor's prefix (ARCHITECTURE §6, layer 3).
    pub fn with_caller(&self, c: &CallerCredentials) -> ObjectStore {
        let conf = self
            .client
            .config()
            .to_builder()
            .credentials_provider(Credentials::new(
                c.access_key_id.clone(),
                c.secret_access_key.to_string(),
                Some(c.session_token.to_string()),
                None,
                "agentkeys-caller",
            ))
            .build();
        ObjectStore {
            client: Client::from_conf(conf),
            credentials_bucket: self.credentials_bucket.clone(),
            memory_bucket: self.memory_bucket.clone(),
        }
    }

    /// `endpoint` overrides the configured one (the embedded server's bound address).
    pub async fn connect(
        cfg: &StorageConfig,
        endpoint: Option<String>,
        creds: Option<S3Credentials>,
    ) -> ObjectStore {
        let mut loader =
            aws_config::defaults(BehaviorVersion::latest()).region(Region::new(cfg.region.clone()));
        if let Some(c) = creds.or_else(|| cfg.credentials.clone()) {
            loader = loader.credentials_provider(Credentials::new(
                c.access_key_id,
                c.secret_access_key,
                None,
                None,
                "agentkeys-relay-config",
            ));
        }
        let shared = loader.load().await;
        let mut builder = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(cfg.force_path_style || endpoint.is_some())
            // Integrity is the envelope's job (AEAD); streaming checksum trailers are not
            // understood by every S3-compatible server.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(3))
                    .operation_attempt_timeout(Duration::from_secs(10))
                    .operation_timeout(Duration::from_secs(20))
                    .build(),
            );
        if let Some(url) = endpoint.or_else(|| cfg.endpoint.clone()) {
            builder = builder.endpoint_url(url);
        }
        ObjectStore {
            client: Client::from_conf(builder.build()),
            credentials_bucket: cfg.credentials_bucket.clone(),
            memory_bucket: cfg.memory_bucket.clone(),
        }
    }

    pub fn bucket(&self, dc: DataClass) -> &str {
        match dc {
            DataClass::Credentials => &self.credentials_bucket,
            DataClass::Memory => &self.memory_bucket,
        }
    }

    pub async fn ensure_buckets(&self) -> Result<(), ApiError> {
        for dc in [DataClass::Credentials, DataClass::Memory] {
            let bucket = self.bucket(dc);
            if self
                .client
                .head_bucket()
                .bucket(bucket)
                .send()
                .await
                .is_ok()
            {
                continue;
            }
            match self.client.create_bucket().bucket(bucket).send().await {
                Ok(_) => {}
                Err(e) => {
                    let owned = e.as_service_error().is_some_and(|s| {
                        s.is_bucket_already_owned_by_you() || s.is_bucket_already_exists()
                    });
                    if !owned {
                        return Err(failure("create_bucket", &e));
                    }
                }
            }
        }
        Ok(())
    }

    /// None when healthy; otherwise which bucket fails and why.
    pub async fn not_ready_reason(&self) -> Option<String> {
        for dc in [DataClass::Credentials, DataClass::Memory] {
            let bucket = self.bucket(dc);
            if let Err(e) = self.client.head_bucket().bucket(bucket).send().await {
                let why = match &e {
                    SdkError::ServiceError(s) if s.raw().status().as_u16() == 404 => {
                        "bucket does not exist".to_string()
                    }
                    SdkError::ServiceError(s) => format!("HTTP {}", s.raw().status().as_u16()),
                    SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
                        "endpoint unreachable".to_string()
                    }
                    _ => "request failed".to_string(),
                };
                return Some(format!("bucket {bucket}: {why}"));
            }
        }
        None
    }

    pub async fn put(&self, dc: DataClass, key: &str, bytes: Vec<u8>) -> Result<(), ApiError> {
        self.client
            .put_object()
            .bucket(self.bucket(dc))
            .key(key)
            .content_type("application/octet-stream")
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| failure("put", &e))
    }

    pub async fn get(&self, dc: DataClass, key: &str) -> Result<Option<Vec<u8>>, ApiError> {
        let resp = match self
            .client
            .get_object()
            .bucket(self.bucket(dc))
            .key(key)
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) => {
                if e.as_service_error().is_some_and(|s| s.is_no_such_key()) {
                    return Ok(None);
                }
                if let SdkError::ServiceError(s) = &e {
                    if s.raw().status().as_u16() == 404 {
                        return Ok(None);
                    }
                }
                return Err(failure("get", &e));
            }
        };
        if resp
            .content_length()
            .is_some_and(|l| l < 0 || l as usize > MAX_OBJECT_BYTES)
        {
            return Err(ApiError::new(
                ErrorCode::ObjectIntegrityFailed,
                "stored object is larger than any envelope",
            ));
        }
        let data = resp
            .body
            .collect()
            .await
            .map_err(|e| unavailable("get body", e))?;
        let bytes = data.into_bytes();
        if bytes.len() > MAX_OBJECT_BYTES {
            return Err(ApiError::new(
                ErrorCode::ObjectIntegrityFailed,
                "stored object is larger than any envelope",
            ));
        }
        Ok(Some(bytes.to_vec()))
    }

    pub async fn exists(&self, dc: DataClass, key: &str) -> Result<bool, ApiError> {
        match self
            .client
            .head_object()
            .bucket(self.bucket(dc))
            .key(key)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) => {
                if e.as_service_error().is_some_and(|s| s.is_not_found()) {
                    return Ok(false);
                }
                if let SdkError::ServiceError(s) = &e {
                    if s.raw().status().as_u16() == 404 {
                        return Ok(false);
                    }
                }
                Err(failure("head", &e))
            }
        }
    }

    pub async fn delete(&self, dc: DataClass, key: &str) -> Result<(), ApiError> {
        self.client
            .delete_object()
            .bucket(self.bucket(dc))
            .key(key)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| failure("delete", &e))
    }

    /// Every key under `prefix`, following continuation tokens, at most `limit` keys.
    pub async fn list(
        &self,
        dc: DataClass,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<String>, ApiError> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut req = self
                .client
                .list_objects_v2()
                .bucket(self.bucket(dc))
                .prefix(prefix);
            if let Some(t) = &token {
                req = req.continuation_token(t);
            }
            let resp = req.send().await.map_err(|e| failure("list", &e))?;
            keys.extend(
                resp.contents()
                    .iter()
                    .filter_map(|o| o.key().map(String::from)),
            );
            if keys.len() >= limit {
                keys.truncate(limit);
                break;
            }
            match resp.next_continuation_token() {
                Some(t) if resp.is_truncated() == Some(true) => token = Some(t.to_string()),
                _ => break,
            }
        }
        Ok(keys)
    }
}
