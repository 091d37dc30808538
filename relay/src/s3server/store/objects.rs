//! Object operations. Writers of one key are serialised by a per-key lock; readers take no
//! lock and rely on `rename` to see a whole old or whole new file.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::digest::{self, ExpectedDigests};
use super::format::{self, ContentHeaders, ObjectMeta};
use super::fsio::{self, TempFile};
use super::listing::{self, ListParams, Marker};
use super::names::{self, FileName};
use super::{blocking, not_found, Store, StoreError};

/// An `If-Match` / `If-None-Match` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EtagCondition {
    Any,
    /// ETag value without quotes.
    Etag(String),
}

/// Preconditions of a PUT, evaluated under the key's lock against the current object.
#[derive(Debug, Clone, Default)]
pub struct PutCondition {
    pub if_match: Option<EtagCondition>,
    pub if_none_match: Option<EtagCondition>,
}

/// An object to store.
#[derive(Debug, Clone, Default)]
pub struct NewObject {
    pub body: Bytes,
    pub expected: ExpectedDigests,
    pub headers: ContentHeaders,
    pub user_metadata: BTreeMap<String, String>,
    pub condition: PutCondition,
}

#[derive(Debug, Clone, Default)]
pub struct ListResult {
    pub objects: Vec<ObjectMeta>,
    pub common_prefixes: Vec<String>,
    pub next: Option<Marker>,
}

impl Store {
    fn object_path(&self, bucket: &str, key: &str) -> Result<(PathBuf, PathBuf), StoreError> {
        let dir = self.bucket_dir(bucket)?;
        names::validate_key(key)?;
        let path = dir.join(names::file_name(key));
        Ok((dir, path))
    }

    /// Stores an object. Returns only once it is durable. Nothing is replaced unless every
    /// digest the client sent matches the body and the preconditions hold.
    pub async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        obj: NewObject,
    ) -> Result<ObjectMeta, StoreError> {
        let (dir, path) = self.object_path(bucket, key)?;
        let tmp = self.inner.tmp.clone();
        let owned_key = key.to_owned();
        let check_dir = dir.clone();
        let NewObject {
            body,
            expected,
            headers,
            user_metadata,
            condition,
        } = obj;
        // Hash and write outside the key lock, so concurrent writers of one key only queue
        // for the short check-and-rename step.
        let (temp, meta) = blocking(move || {
            if !check_dir.is_dir() {
                return Err(StoreError::NoSuchBucket);
            }
            let md5_hex = digest::verify(&body, &expected)?;
            let meta = ObjectMeta {
                key: owned_key,
                size: body.len() as u64,
                md5_hex,
                last_modified_ms: now_ms(),
                headers,
                user_metadata,
                checksums: expected.checksums,
            };
            let prefix = format::encode_prefix(&meta)?;
            let temp = TempFile::write(&tmp, &[&prefix, &body])?;
            Ok((temp, meta))
        })
        .await?;

        let guard = self.inner.locks.lock(bucket, key).await;
        blocking(move || {
            // Moved in so the lock is held until the rename is durable, even if the request
            // future is dropped meanwhile.
            let _guard = guard;
            check_condition(&path, &meta.key, &condition)?;
            temp.commit(&path).map_err(|err| match err.kind() {
                io::ErrorKind::NotFound if !dir.is_dir() => StoreError::NoSuchBucket,
                _ => StoreError::Io(err),
            })?;
            Ok(meta)
        })
        .await
    }

    /// Reads a whole object, verified against its stored MD5.
    pub async fn get_object(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<(ObjectMeta, Bytes), StoreError> {
        let (dir, path) = self.object_path(bucket, key)?;
        let key = key.to_owned();
        blocking(move || read_object(&path, &key)?.ok_or_else(|| not_found(&dir))).await
    }

    pub async fn head_object(&self, bucket: &str, key: &str) -> Result<ObjectMeta, StoreError> {
        let (dir, path) = self.object_path(bucket, key)?;
        let key = key.to_owned();
        blocking(move || read_meta(&path, &key)?.ok_or_else(|| not_found(&dir))).await
    }

    /// Deletes an object; deleting a missing key succeeds, as in S3.
    pub async fn delete_object(&self, bucket: &str, key: &str) -> Result<(), StoreError> {
        let (dir, path) = self.object_path(bucket, key)?;
        let guard = self.inner.locks.lock(bucket, key).await;
        blocking(move || {
            let _guard = guard;
            match fs::remove_file(&path) {
                Ok(()) => Ok(fsio::sync_dir(&dir)?),
                Err(err) if err.kind() == io::ErrorKind::NotFound => match not_found(&dir) {
                    StoreError::NoSuchKey => Ok(()),
                    other => Err(other),
                },
                Err(err) => Err(err.into()),
            }
        })
        .await
    }

    /// One ListObjectsV2 page, in ascending key order.
    pub async fn list_objects(
        &self,
        bucket: &str,
        params: ListParams,
    ) -> Result<ListResult, StoreError> {
        let dir = self.bucket_dir(bucket)?;
        blocking(move || {
            let mut keys = list_keys(&dir, &params.prefix)?;
            keys.sort_unstable();
            let page = listing::select_page(keys.iter().map(String::as_str), &params);
            let mut objects = Vec::with_capacity(page.keys.len());
            for key in &page.keys {
                match read_meta(&dir.join(names::file_name(key)), key) {
                    Ok(Some(meta)) => objects.push(meta),
                    // Deleted since the directory was read: not part of this listing.
                    Ok(None) => {}
                    Err(StoreError::Io(err)) if err.kind() == io::ErrorKind::InvalidData => {
                        tracing::warn!(bucket = %dir.display(), %key, error = %err, "skipping damaged object");
                    }
                    Err(err) => return Err(err),
                }
            }
            Ok(ListResult {
                objects,
                common_prefixes: page.common_prefixes,
                next: page.next,
            })
        })
        .await
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn check_condition(path: &Path, key: &str, cond: &PutCondition) -> Result<(), StoreError> {
    if cond.if_match.is_none() && cond.if_none_match.is_none() {
        return Ok(());
    }
    let current = read_meta(path, key)?;
    match (&cond.if_match, &current) {
        (Some(_), None) => return Err(StoreError::NoSuchKey),
        (Some(EtagCondition::Etag(want)), Some(meta)) if want != meta.etag() => {
            return Err(StoreError::PreconditionFailed)
        }
        _ => {}
    }
    match (&cond.if_none_match, &current) {
        (Some(EtagCondition::Any), Some(_)) => Err(StoreError::PreconditionFailed),
        (Some(EtagCondition::Etag(want)), Some(meta)) if want == meta.etag() => {
            Err(StoreError::PreconditionFailed)
        }
        _ => Ok(()),
    }
}

/// Opens an object file; `None` if it does not exist.
fn open(path: &Path) -> Result<Option<(File, u64)>, StoreError> {
    match File::open(path) {
        Ok(file) => {
            let len = file.metadata()?.len();
            Ok(Some((file, len)))
        }
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err.into()),
    }
}

fn read_meta(path: &Path, key: &str) -> Result<Option<ObjectMeta>, StoreError> {
    let Some((mut file, len)) = open(path)? else {
        return Ok(None);
    };
    let (meta, _) = format::read_header(&mut file, len)?;
    check_key(&meta, key)?;
    Ok(Some(meta))
}

fn read_object(path: &Path, key: &str) -> Result<Option<(ObjectMeta, Bytes)>, StoreError> {
    let Some((mut file, len)) = open(path)? else {
        return Ok(None);
    };
    let (meta, _) = format::read_header(&mut file, len)?;
    check_key(&meta, key)?;
    let mut body = Vec::with_capacity(usize::try_from(meta.size).unwrap_or(0));
    file.read_to_end(&mut body)?;
    if body.len() as u64 != meta.size
        || digest::verify(&body, &ExpectedDigests::default())? != meta.md5_hex
    {
        return Err(corrupt("object bytes do not match their stored MD5").into());
    }
    Ok(Some((meta, Bytes::from(body))))
}

/// A file whose header names another key is misplaced or damaged: never serve it.
fn check_key(meta: &ObjectMeta, key: &str) -> Result<(), StoreError> {
    if meta.key == key {
        Ok(())
    } else {
        Err(corrupt("object file holds a different key").into())
    }
}

fn corrupt(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_owned())
}

/// Keys in a bucket directory starting with `prefix`, unsorted.
fn list_keys(dir: &Path, prefix: &str) -> Result<Vec<String>, StoreError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Err(StoreError::NoSuchBucket),
        Err(err) => return Err(err.into()),
    };
    let mut keys = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let key = match names::parse_file_name(name) {
            Some(FileName::Escaped(key)) => key,
            Some(FileName::Hashed) => match hashed_key(&entry.path()) {
                Some(key) => key,
                None => continue,
            },
            None => continue,
        };
        if key.starts_with(prefix) {
            keys.push(key);
        }
    }
    Ok(keys)
}

/// The key stored in a hashed-name file, if it is still there and readable.
fn hashed_key(path: &Path) -> Option<String> {
    let (mut file, len) = open(path).ok()??;
    match format::read_header(&mut file, len) {
        Ok((meta, _)) if names::file_name(&meta.key) == path.file_name()?.to_str()? => {
            Some(meta.key)
        }
        Ok(_) => None,
        Err(err) => {
            tracing::warn!(path = %path.display(), error = %err, "skipping unreadable object");
            None
        }
    }
}
