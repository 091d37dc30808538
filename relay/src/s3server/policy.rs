//! The access hook every S3 operation passes through.
//!
//! It is called inside each operation's handler rather than in s3s's early `S3Access` hook,
//! because only the handler has the parsed list prefix and the keys of a multi-delete.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

/// The S3 operations the embedded server implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum S3Op {
    CreateBucket,
    HeadBucket,
    ListBuckets,
    DeleteBucket,
    PutObject,
    GetObject,
    HeadObject,
    DeleteObject,
    /// Checked once per key of a multi-object delete.
    DeleteObjects,
    ListObjectsV2,
}

impl S3Op {
    /// Whether the operation can change stored state.
    pub fn is_write(self) -> bool {
        matches!(
            self,
            S3Op::CreateBucket
                | S3Op::DeleteBucket
                | S3Op::PutObject
                | S3Op::DeleteObject
                | S3Op::DeleteObjects
        )
    }
}

/// What a request wants to do, as seen by an [`AccessPolicy`].
#[derive(Clone, PartialEq, Eq)]
pub struct AccessRequest {
    /// SigV4 access key id (already authenticated); `None` only if unauthenticated requests
    /// ever reach a handler, which the server's configuration does not allow.
    pub access_key: Option<String>,
    /// `x-amz-security-token` header (or presigned-URL query parameter), unverified.
    pub session_token: Option<String>,
    pub op: S3Op,
    /// Bucket name; empty for [`S3Op::ListBuckets`].
    pub bucket: String,
    /// Object key for object operations, list prefix (empty string when none) for
    /// [`S3Op::ListObjectsV2`], `None` for bucket operations.
    pub key_or_prefix: Option<String>,
}

impl fmt::Debug for AccessRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The session token is a bearer credential: keep it out of logs.
        f.debug_struct("AccessRequest")
            .field("access_key", &self.access_key)
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .field("op", &self.op)
            .field("bucket", &self.bucket)
            .field("key_or_prefix", &self.key_or_prefix)
            .finish()
    }
}

/// A policy's refusal; returned to the client as S3 `AccessDenied` (403) with this message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("access denied: {message}")]
pub struct AccessDenied {
    pub message: String,
}

impl AccessDenied {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

/// A policy's answer; a future because a policy may have to ask elsewhere (the chain).
pub type PolicyFuture<'a> = Pin<Box<dyn Future<Output = Result<(), AccessDenied>> + Send + 'a>>;

/// Decides whether an authenticated request may proceed.
pub trait AccessPolicy: Send + Sync + 'static {
    fn check<'a>(&'a self, req: &'a AccessRequest) -> PolicyFuture<'a>;
}

/// Allows every authenticated request.
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAll;

impl AccessPolicy for AllowAll {
    fn check<'a>(&'a self, _req: &'a AccessRequest) -> PolicyFuture<'a> {
        Box::pin(async { Ok(()) })
    }
}
