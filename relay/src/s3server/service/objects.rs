//! GetObject, HeadObject, DeleteObject and DeleteObjects.

use s3s::dto::*;
use s3s::{s3_error, S3Request, S3Response, S3Result};

use crate::s3server::policy::S3Op;
use crate::s3server::store::{ObjectMeta, StoredChecksums};

use super::access::identity;
use super::errors::to_s3;
use super::Backend;

/// S3's limit on keys per multi-object delete.
const MAX_DELETE_KEYS: usize = 1000;

pub(super) async fn get(
    b: &Backend,
    req: S3Request<GetObjectInput>,
) -> S3Result<S3Response<GetObjectOutput>> {
    let input = &req.input;
    b.authorize(&req, S3Op::GetObject, &input.bucket, Some(&input.key))
        .await?;
    let (meta, bytes) = b
        .store
        .get_object(&input.bucket, &input.key)
        .await
        .map_err(to_s3)?;
    check_preconditions(
        &meta,
        &input.if_match,
        &input.if_none_match,
        &input.if_modified_since,
        &input.if_unmodified_since,
    )?;

    let size = meta.size;
    let (body, content_range) = match &input.range {
        None => (bytes, None),
        Some(range) => {
            let r = range
                .check(size)
                .map_err(|_| s3_error!(InvalidRange, "The requested range is not satisfiable"))?;
            let slice = bytes.slice(usize_of(r.start)..usize_of(r.end));
            (
                slice,
                Some(format!(
                    "bytes {}-{}/{}",
                    r.start,
                    r.end.saturating_sub(1),
                    size
                )),
            )
        }
    };
    // Stored checksums cover the whole object only.
    let checksums =
        if content_range.is_none() && checksum_mode_enabled(input.checksum_mode.as_ref()) {
            meta.checksums.clone()
        } else {
            StoredChecksums::default()
        };
    let output = GetObjectOutput {
        content_length: Some(body.len() as i64),
        body: Some(StreamingBlob::from(s3s::Body::from(body))),
        content_range,
        accept_ranges: Some("bytes".to_owned()),
        e_tag: Some(ETag::Strong(meta.md5_hex.clone())),
        last_modified: Some(timestamp(&meta)),
        content_type: meta.headers.content_type.clone(),
        content_encoding: meta.headers.content_encoding.clone(),
        content_disposition: meta.headers.content_disposition.clone(),
        content_language: meta.headers.content_language.clone(),
        cache_control: meta.headers.cache_control.clone(),
        metadata: user_metadata(&meta),
        checksum_crc32: checksums.crc32,
        checksum_crc32c: checksums.crc32c,
        checksum_crc64nvme: checksums.crc64nvme,
        checksum_sha1: checksums.sha1,
        checksum_sha256: checksums.sha256,
        ..Default::default()
    };
    Ok(S3Response::new(output))
}

pub(super) async fn head(
    b: &Backend,
    req: S3Request<HeadObjectInput>,
) -> S3Result<S3Response<HeadObjectOutput>> {
    let input = &req.input;
    b.authorize(&req, S3Op::HeadObject, &input.bucket, Some(&input.key))
        .await?;
    let meta = b
        .store
        .head_object(&input.bucket, &input.key)
        .await
        .map_err(to_s3)?;
    check_preconditions(
        &meta,
        &input.if_match,
        &input.if_none_match,
        &input.if_modified_since,
        &input.if_unmodified_since,
    )?;
    let checksums = if checksum_mode_enabled(input.checksum_mode.as_ref()) {
        meta.checksums.clone()
    } else {
        StoredChecksums::default()
    };
    let output = HeadObjectOutput {
        content_length: i64::try_from(meta.size).ok(),
        accept_ranges: Some("bytes".to_owned()),
        e_tag: Some(ETag::Strong(meta.md5_hex.clone())),
        last_modified: Some(timestamp(&meta)),
        content_type: meta.headers.content_type.clone(),
        content_encoding: meta.headers.content_encoding.clone(),
        content_disposition: meta.headers.content_disposition.clone(),
        content_language: meta.headers.content_language.clone(),
        cache_control: meta.headers.cache_control.clone(),
        metadata: user_metadata(&meta),
        checksum_crc32: checksums.crc32,
        checksum_crc32c: checksums.crc32c,
        checksum_crc64nvme: checksums.crc64nvme,
        checksum_sha1: checksums.sha1,
        checksum_sha256: checksums.sha256,
        ..Default::default()
    };
    Ok(S3Response::new(output))
}

pub(super) async fn delete(
    b: &Backend,
    req: S3Request<DeleteObjectInput>,
) -> S3Result<S3Response<DeleteObjectOutput>> {
    let input = &req.input;
    b.authorize(&req, S3Op::DeleteObject, &input.bucket, Some(&input.key))
        .await?;
    b.store
        .delete_object(&input.bucket, &input.key)
        .await
        .map_err(to_s3)?;
    Ok(S3Response::new(DeleteObjectOutput::default()))
}

/// Each key is authorised and deleted on its own; failures are reported per key, as S3 does.
pub(super) async fn delete_many(
    b: &Backend,
    req: S3Request<DeleteObjectsInput>,
) -> S3Result<S3Response<DeleteObjectsOutput>> {
    let input = &req.input;
    if input.delete.objects.len() > MAX_DELETE_KEYS {
        return Err(s3_error!(
            MalformedXML,
            "at most {MAX_DELETE_KEYS} keys per request"
        ));
    }
    b.store.head_bucket(&input.bucket).await.map_err(to_s3)?;
    let quiet = input.delete.quiet.unwrap_or(false);
    let mut deleted = Vec::new();
    let mut errors = Vec::new();
    for object in &input.delete.objects {
        let mut access = identity(&req, S3Op::DeleteObjects, &input.bucket);
        access.key_or_prefix = Some(object.key.clone());
        let result = match b.check(&access).await {
            Ok(()) => b
                .store
                .delete_object(&input.bucket, &object.key)
                .await
                .map_err(to_s3),
            Err(denied) => Err(denied),
        };
        match result {
            Ok(()) if quiet => {}
            Ok(()) => deleted.push(DeletedObject {
                key: Some(object.key.clone()),
                ..Default::default()
            }),
            Err(err) => errors.push(Error {
                code: Some(err.code().as_str().to_owned()),
                key: Some(object.key.clone()),
                message: err.message().map(str::to_owned),
                ..Default::default()
            }),
        }
    }
    let output = DeleteObjectsOutput {
        deleted: Some(deleted),
        errors: (!errors.is_empty()).then_some(errors),
        ..Default::default()
    };
    Ok(S3Response::new(output))
}

fn check_preconditions(
    meta: &ObjectMeta,
    if_match: &Option<ETagCondition>,
    if_none_match: &Option<ETagCondition>,
    if_modified_since: &Option<Timestamp>,
    if_unmodified_since: &Option<Timestamp>,
) -> S3Result<()> {
    let matches = |c: &ETagCondition| match c {
        ETagCondition::Any => true,
        ETagCondition::ETag(e) => e.value() == meta.md5_hex,
    };
    // HTTP dates have whole seconds; compare at that precision (RFC 9110 §13.2.2 order).
    let modified_s = meta.last_modified_ms.div_euclid(1000);
    let secs = |t: &Timestamp| time::OffsetDateTime::from(t.clone()).unix_timestamp();
    match if_match {
        Some(c) if !matches(c) => return Err(precondition_failed()),
        None if if_unmodified_since
            .as_ref()
            .is_some_and(|t| modified_s > secs(t)) =>
        {
            return Err(precondition_failed())
        }
        _ => {}
    }
    match if_none_match {
        Some(c) if matches(c) => Err(s3_error!(NotModified)),
        None if if_modified_since
            .as_ref()
            .is_some_and(|t| modified_s <= secs(t)) =>
        {
            Err(s3_error!(NotModified))
        }
        _ => Ok(()),
    }
}

fn precondition_failed() -> s3s::S3Error {
    s3_error!(
        PreconditionFailed,
        "At least one of the pre-conditions you specified did not hold"
    )
}

fn checksum_mode_enabled(mode: Option<&ChecksumMode>) -> bool {
    mode.is_some_and(|m| m.as_str().eq_ignore_ascii_case(ChecksumMode::ENABLED))
}

pub(super) fn timestamp(meta: &ObjectMeta) -> Timestamp {
    let nanos = i128::from(meta.last_modified_ms) * 1_000_000;
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    Timestamp::from(t)
}

fn user_metadata(meta: &ObjectMeta) -> Option<Metadata> {
    (!meta.user_metadata.is_empty()).then(|| meta.user_metadata.clone().into_iter().collect())
}

/// Ranges were checked against the object's in-memory length, so they fit in `usize`.
fn usize_of(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}
