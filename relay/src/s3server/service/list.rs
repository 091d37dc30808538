//! ListObjectsV2.

use s3s::dto::*;
use s3s::{s3_error, S3Request, S3Response, S3Result};

use crate::s3server::policy::S3Op;
use crate::s3server::store::{ListParams, Marker};

use super::errors::to_s3;
use super::objects::timestamp;
use super::Backend;

const MAX_KEYS: i32 = 1000;

pub(super) async fn list_objects_v2(
    b: &Backend,
    req: S3Request<ListObjectsV2Input>,
) -> S3Result<S3Response<ListObjectsV2Output>> {
    let input = &req.input;
    let prefix = input.prefix.clone().unwrap_or_default();
    // The policy sees the prefix, so it can confine a caller to its own part of a bucket.
    b.authorize(&req, S3Op::ListObjectsV2, &input.bucket, Some(&prefix))
        .await?;

    let max_keys = match input.max_keys {
        None => MAX_KEYS,
        Some(n) if n < 0 => {
            return Err(s3_error!(InvalidArgument, "max-keys must not be negative"))
        }
        Some(n) => n.min(MAX_KEYS),
    };
    let after = match (&input.continuation_token, &input.start_after) {
        (Some(token), _) => Some(Marker::from_token(token).ok_or_else(|| {
            s3_error!(
                InvalidArgument,
                "The continuation token provided is incorrect"
            )
        })?),
        (None, Some(key)) => Some(Marker::AfterKey(key.clone())),
        (None, None) => None,
    };
    let params = ListParams {
        prefix: prefix.clone(),
        delimiter: input.delimiter.clone().unwrap_or_default(),
        max_keys: usize::try_from(max_keys).unwrap_or(0),
        after,
    };
    let page = b
        .store
        .list_objects(&input.bucket, params)
        .await
        .map_err(to_s3)?;

    let url = input
        .encoding_type
        .as_ref()
        .is_some_and(|e| e.as_str() == EncodingType::URL);
    let enc = |s: &str| if url { url_encode(s) } else { s.to_owned() };
    let contents: Vec<Object> = page
        .objects
        .iter()
        .map(|meta| Object {
            key: Some(enc(&meta.key)),
            size: i64::try_from(meta.size).ok(),
            e_tag: Some(ETag::Strong(meta.md5_hex.clone())),
            last_modified: Some(timestamp(meta)),
            storage_class: Some(ObjectStorageClass::from_static(
                ObjectStorageClass::STANDARD,
            )),
            ..Default::default()
        })
        .collect();
    let common_prefixes: Vec<CommonPrefix> = page
        .common_prefixes
        .iter()
        .map(|p| CommonPrefix {
            prefix: Some(enc(p)),
        })
        .collect();
    let key_count = i32::try_from(contents.len() + common_prefixes.len()).unwrap_or(i32::MAX);
    let output = ListObjectsV2Output {
        name: Some(input.bucket.clone()),
        prefix: Some(enc(&prefix)),
        delimiter: input.delimiter.as_deref().map(enc),
        max_keys: Some(max_keys),
        key_count: Some(key_count),
        continuation_token: input.continuation_token.clone(),
        start_after: input.start_after.as_deref().map(enc),
        is_truncated: Some(page.next.is_some()),
        next_continuation_token: page.next.as_ref().map(Marker::to_token),
        contents: Some(contents),
        common_prefixes: (!common_prefixes.is_empty()).then_some(common_prefixes),
        encoding_type: input.encoding_type.clone(),
        ..Default::default()
    };
    Ok(S3Response::new(output))
}

/// `encoding-type=url`: percent-encode everything but unreserved characters and `/`.
fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
