//! Embedded S3 server.
//!
//! The relay serves the S3 API on loopback so that one storage code path (`aws-sdk-s3`) runs
//! unchanged against this embedded store, moto_server, MinIO or AWS. The protocol (SigV4,
//! request parsing, XML) comes from `s3s`; storage is our own [`store`], because `s3s-fs`
//! does not fsync, can pair one write's metadata with another write's bytes, replaces objects
//! on a refused digest, races create-only PUTs and resolves `..` in keys.
//!
//! Guarantees of the store:
//! - an acknowledged PUT or DELETE is durable (file and directory fsync'd before the reply);
//! - a reader sees the old or the new object, never a torn one, and metadata always belongs
//!   to the bytes it is returned with (both live in one file, replaced by `rename`);
//! - a PUT whose Content-MD5 or `x-amz-checksum-*` (header or aws-chunked trailer) does not
//!   match its body leaves the stored object untouched;
//! - `If-None-Match: *` is checked under a per-key lock, so of two racing create-only PUTs
//!   exactly one succeeds.
//!
//! Clients: the default `aws-sdk-s3` configuration works; no
//! `RequestChecksumCalculation::WhenRequired` setting is needed. Over plain HTTP the SDK sends
//! an in-memory body with a signed payload hash and `x-amz-checksum-crc32` as a header, and a
//! streaming body (e.g. `ByteStream::from_path`) as signed aws-chunked with a CRC32 trailer.
//! s3s 0.14.1 decodes both and verifies the payload hash and chunk signatures, but no
//! checksum, so the store verifies Content-MD5 and CRC32/CRC32C/CRC64NVME/SHA1/SHA256 itself.
//!
//! Every operation's handler asks an [`AccessPolicy`] before touching the store; the
//! policy sees the access key, the session token, the bucket and the key or list prefix.

mod auth;
mod config;
mod policy;
mod server;
mod service;
mod store;

#[cfg(test)]
mod tests;

use std::future::Future;
use std::sync::Arc;

pub use auth::TemporaryKeys;
pub use config::{EmbeddedS3Config, MAX_OBJECT_SIZE};
pub use policy::{AccessDenied, AccessPolicy, AccessRequest, AllowAll, PolicyFuture, S3Op};

/// Errors that stop the server itself (request failures are S3 error responses instead).
#[derive(Debug, thiserror::Error)]
pub enum S3ServerError {
    #[error("invalid embedded S3 configuration: {0}")]
    Config(String),
    #[error("cannot open the object store at {path}: {source}")]
    Store {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("object store setup task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// The embedded S3 server. It has no state of its own between calls: everything durable is in
/// the configured root directory, so a restart on the same root serves the same objects.
#[derive(Debug)]
pub struct EmbeddedS3 {
    _private: (),
}

impl EmbeddedS3 {
    /// Binds nothing itself: serves the S3 API on `listener` until `shutdown` resolves, then
    /// drains. In-flight requests get a bounded grace period to finish; idle keep-alive
    /// connections are closed at once.
    pub async fn serve(
        config: EmbeddedS3Config,
        listener: tokio::net::TcpListener,
        policy: Arc<dyn AccessPolicy>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), S3ServerError> {
        serve(config, listener, policy, shutdown).await
    }
}

/// Same as [`EmbeddedS3::serve`].
pub async fn serve(
    config: EmbeddedS3Config,
    listener: tokio::net::TcpListener,
    policy: Arc<dyn AccessPolicy>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), S3ServerError> {
    config.validate()?;
    let root = config.root.clone();
    let store = tokio::task::spawn_blocking(move || store::Store::open(&root))
        .await?
        .map_err(|source| S3ServerError::Store {
            path: config.root.clone(),
            source,
        })?;
    let s3 = service::build(store, policy, &config);
    server::run(listener, s3, shutdown).await;
    Ok(())
}
