//! Bucket operations: a bucket is a directory under the root.

use std::fs;
use std::io;
use std::time::SystemTime;

use super::{blocking, fsio, names, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketInfo {
    pub name: String,
    pub created: SystemTime,
}

impl Store {
    pub async fn create_bucket(&self, bucket: &str) -> Result<(), StoreError> {
        let dir = self.bucket_dir(bucket)?;
        blocking(move || {
            match fsio::create_private_dir(&dir) {
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
                    return Err(StoreError::BucketAlreadyExists)
                }
                other => other?,
            }
            fsio::sync_parent(&dir)?;
            Ok(())
        })
        .await
    }

    pub async fn head_bucket(&self, bucket: &str) -> Result<(), StoreError> {
        let dir = self.bucket_dir(bucket)?;
        blocking(move || {
            if dir.is_dir() {
                Ok(())
            } else {
                Err(StoreError::NoSuchBucket)
            }
        })
        .await
    }

    pub async fn list_buckets(&self) -> Result<Vec<BucketInfo>, StoreError> {
        let root = self.inner.root.clone();
        blocking(move || {
            let mut out = Vec::new();
            for entry in fs::read_dir(&root)? {
                let entry = entry?;
                let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                    continue;
                };
                if !names::validate_bucket(&name) || !entry.file_type()?.is_dir() {
                    continue;
                }
                let meta = entry.metadata()?;
                // Birth time where the file system records it; mtime otherwise.
                let created = meta.created().or_else(|_| meta.modified())?;
                out.push(BucketInfo { name, created });
            }
            out.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(out)
        })
        .await
    }

    /// Removes an empty bucket. The emptiness check is the `rmdir` itself, so a concurrent
    /// PUT either lands first (and the delete fails) or finds the bucket gone.
    pub async fn delete_bucket(&self, bucket: &str) -> Result<(), StoreError> {
        let dir = self.bucket_dir(bucket)?;
        blocking(move || {
            if let Err(err) = fs::remove_dir(&dir) {
                return Err(match err.kind() {
                    io::ErrorKind::NotFound => StoreError::NoSuchBucket,
                    io::ErrorKind::DirectoryNotEmpty => StoreError::BucketNotEmpty,
                    _ if fs::read_dir(&dir).is_ok_and(|mut d| d.next().is_some()) => {
                        StoreError::BucketNotEmpty
                    }
                    _ => StoreError::Io(err),
                });
            }
            fsio::sync_parent(&dir)?;
            Ok(())
        })
        .await
    }
}
