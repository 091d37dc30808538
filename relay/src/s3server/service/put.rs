//! PutObject: read and verify the whole body, then hand it to the store.

use http::HeaderMap;
use s3s::dto::{ETag, ETagCondition, PutObjectInput, PutObjectOutput};
use s3s::{s3_error, S3Request, S3Response, S3Result};

use crate::s3server::config::MAX_OBJECT_SIZE;
use crate::s3server::policy::S3Op;
use crate::s3server::store::names::validate_key;
use crate::s3server::store::{
    ContentHeaders, EtagCondition, ExpectedDigests, NewObject, PutCondition, StoredChecksums,
};

use super::body::{read_limited, too_large};
use super::errors::{key_error, to_s3};
use super::Backend;

const CHECKSUM_HEADERS: [&str; 5] = [
    "x-amz-checksum-crc32",
    "x-amz-checksum-crc32c",
    "x-amz-checksum-crc64nvme",
    "x-amz-checksum-sha1",
    "x-amz-checksum-sha256",
];

pub(super) async fn put_object(
    b: &Backend,
    mut req: S3Request<PutObjectInput>,
) -> S3Result<S3Response<PutObjectOutput>> {
    let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
    if let Err(denied) = b
        .authorize(&req, S3Op::PutObject, &bucket, Some(&key))
        .await
    {
        // Read the refused body (bounded as any upload) so the connection stays in step: a
        // body left unread could be taken as the start of the client's next request.
        let _ = read_limited(req.input.body.take(), MAX_OBJECT_SIZE).await;
        return Err(denied);
    }
    // Refuse before reading a body that could never be stored.
    validate_key(&key).map_err(key_error)?;
    b.store.head_bucket(&bucket).await.map_err(to_s3)?;
    // For aws-chunked uploads s3s has already replaced this with the decoded length.
    if req
        .input
        .content_length
        .is_some_and(|n| n < 0 || n as u64 > MAX_OBJECT_SIZE)
    {
        return Err(too_large());
    }

    let body = read_limited(req.input.body.take(), MAX_OBJECT_SIZE).await?;
    // Only complete once the body stream has ended.
    let trailers = req.trailing_headers.as_ref().and_then(|t| t.take());
    let expected = expected_digests(&req.input, &req.headers, trailers.as_ref())?;

    let input = req.input;
    let obj = NewObject {
        body,
        expected,
        headers: ContentHeaders {
            content_type: input.content_type,
            content_encoding: input.content_encoding,
            content_disposition: input.content_disposition,
            content_language: input.content_language,
            cache_control: input.cache_control,
        },
        user_metadata: input.metadata.unwrap_or_default().into_iter().collect(),
        condition: PutCondition {
            if_match: input.if_match.map(condition),
            if_none_match: input.if_none_match.map(condition),
        },
    };
    let meta = b
        .store
        .put_object(&bucket, &key, obj)
        .await
        .map_err(to_s3)?;

    let c = meta.checksums;
    let output = PutObjectOutput {
        e_tag: Some(ETag::Strong(meta.md5_hex)),
        checksum_crc32: c.crc32,
        checksum_crc32c: c.crc32c,
        checksum_crc64nvme: c.crc64nvme,
        checksum_sha1: c.sha1,
        checksum_sha256: c.sha256,
        ..Default::default()
    };
    Ok(S3Response::new(output))
}

fn condition(c: ETagCondition) -> EtagCondition {
    match c {
        ETagCondition::Any => EtagCondition::Any,
        ETagCondition::ETag(etag) => EtagCondition::Etag(etag.value().to_owned()),
    }
}

/// Digests claimed in headers and, for aws-chunked uploads, in the trailer.
fn expected_digests(
    input: &PutObjectInput,
    headers: &HeaderMap,
    trailers: Option<&HeaderMap>,
) -> S3Result<ExpectedDigests> {
    let from_headers = [
        input.checksum_crc32.clone(),
        input.checksum_crc32c.clone(),
        input.checksum_crc64nvme.clone(),
        input.checksum_sha1.clone(),
        input.checksum_sha256.clone(),
    ];
    let announced = announced_trailers(headers);
    let mut merged: [Option<String>; 5] = Default::default();
    for (i, name) in CHECKSUM_HEADERS.iter().enumerate() {
        let trailed = trailers
            .and_then(|t| t.get(*name))
            .map(|v| v.to_str().map(str::to_owned))
            .transpose()
            .map_err(|_| s3_error!(InvalidRequest, "invalid trailing header {name}"))?;
        if trailed.is_none() && announced.iter().any(|a| a == name) {
            // An announced checksum that never arrived must not turn into "no checksum".
            return Err(s3_error!(
                InvalidRequest,
                "announced trailer {name} is missing"
            ));
        }
        merged[i] = match (from_headers[i].clone(), trailed) {
            (Some(h), Some(t)) if h != t => {
                return Err(s3_error!(BadDigest, "{name} header and trailer disagree"));
            }
            (h, t) => h.or(t),
        };
    }
    let [crc32, crc32c, crc64nvme, sha1, sha256] = merged;
    Ok(ExpectedDigests {
        content_md5: input.content_md5.clone(),
        checksums: StoredChecksums {
            crc32,
            crc32c,
            crc64nvme,
            sha1,
            sha256,
        },
    })
}

fn announced_trailers(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all("x-amz-trailer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    http::HeaderName::from_static(k),
                    http::HeaderValue::from_static(v),
                )
            })
            .collect()
    }

    #[test]
    fn trailer_checksums_are_claimed_and_must_arrive() {
        let input = PutObjectInput::default();
        let announced = headers(&[("x-amz-trailer", "x-amz-checksum-crc32")]);
        let trailer = headers(&[("x-amz-checksum-crc32", "AAAAAA==")]);
        let got = expected_digests(&input, &announced, Some(&trailer)).unwrap();
        assert_eq!(got.checksums.crc32.as_deref(), Some("AAAAAA=="));

        let missing = expected_digests(&input, &announced, None).unwrap_err();
        assert_eq!(missing.code(), &s3s::S3ErrorCode::InvalidRequest);

        let with_header = PutObjectInput {
            checksum_crc32: Some("BBBBBB==".into()),
            ..Default::default()
        };
        let disagree = expected_digests(&with_header, &announced, Some(&trailer)).unwrap_err();
        assert_eq!(disagree.code(), &s3s::S3ErrorCode::BadDigest);
    }
}
