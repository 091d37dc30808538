//! A durable object store on a directory.
//!
//! ```text
//! <root>/.tmp/              uploads being written; cleared on open
//! <root>/<bucket>/          one directory per bucket
//! <root>/<bucket>/o-…|h-…   one file per object: header + bytes (see `format`, `names`)
//! ```
//!
//! A write goes to `.tmp`, is fsync'd, renamed over the object's name and the bucket
//! directory is fsync'd, all before the call returns. The root must be served by one
//! process at a time (opening it discards unfinished uploads).
//!
//! Listing reads the bucket directory once per page (names decode to keys without opening
//! files), so it costs O(objects in the bucket): right for the relay's small buckets, not
//! for millions of objects.

mod buckets;
mod digest;
mod format;
mod fsio;
mod listing;
mod locks;
pub mod names;
mod objects;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use digest::{DigestError, ExpectedDigests};
pub use format::{ContentHeaders, ObjectMeta, StoredChecksums};
pub use listing::{ListParams, Marker};
pub use names::KeyError;
pub use objects::{EtagCondition, NewObject, PutCondition};

/// Why a store operation failed; the service maps each to an S3 error code.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the specified bucket is not valid")]
    InvalidBucketName,
    #[error(transparent)]
    InvalidKey(#[from] KeyError),
    #[error("the specified bucket does not exist")]
    NoSuchBucket,
    #[error("the specified key does not exist")]
    NoSuchKey,
    #[error("the bucket already exists")]
    BucketAlreadyExists,
    #[error("the bucket is not empty")]
    BucketNotEmpty,
    #[error("a precondition does not hold")]
    PreconditionFailed,
    #[error(transparent)]
    Digest(#[from] DigestError),
    #[error("storage I/O failed: {0}")]
    Io(#[from] io::Error),
    #[error("storage task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Cheap to clone; clones share the per-key locks.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    root: PathBuf,
    tmp: PathBuf,
    locks: locks::KeyLocks,
}

impl Store {
    /// Opens (creating if needed) the store at `root`. Blocks.
    pub fn open(root: &Path) -> io::Result<Self> {
        if let Some(parent) = root.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        fsio::ensure_private_dir(root)?;
        let tmp = root.join(".tmp");
        fsio::ensure_private_dir(&tmp)?;
        fsio::clear_dir(&tmp)?;
        fsio::sync_dir(root)?;
        Ok(Self {
            inner: Arc::new(Inner {
                root: root.to_path_buf(),
                tmp,
                locks: locks::KeyLocks::default(),
            }),
        })
    }

    fn bucket_dir(&self, bucket: &str) -> Result<PathBuf, StoreError> {
        if names::validate_bucket(bucket) {
            Ok(self.inner.root.join(bucket))
        } else {
            Err(StoreError::InvalidBucketName)
        }
    }
}

/// Runs blocking file system work off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f).await?
}

/// A missing file means a missing key, unless the bucket itself is gone.
fn not_found(bucket_dir: &Path) -> StoreError {
    if bucket_dir.is_dir() {
        StoreError::NoSuchKey
    } else {
        StoreError::NoSuchBucket
    }
}
