//! Verifying an upload against the digests its client sent, before anything is written.
//!
//! s3s 0.14.1 checks the SigV4 payload hash but neither `Content-MD5` nor
//! `x-amz-checksum-*` (sent as headers or as aws-chunked trailers), so the store does.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use s3s::crypto::{Checksum, Crc32, Crc32c, Crc64Nvme, Md5, Sha1, Sha256};

use super::format::StoredChecksums;

/// Digests claimed by the client, base64 as sent.
#[derive(Debug, Clone, Default)]
pub struct ExpectedDigests {
    pub content_md5: Option<String>,
    pub checksums: StoredChecksums,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    /// Maps to S3 `InvalidDigest`.
    #[error("the Content-MD5 you specified is not valid")]
    InvalidContentMd5,
    /// Maps to S3 `BadDigest`.
    #[error("the {0} you specified did not match the calculated checksum")]
    Mismatch(&'static str),
    /// Maps to S3 `InvalidRequest`.
    #[error("value for x-amz-checksum-{0} is invalid")]
    InvalidChecksum(&'static str),
}

/// Checks `body` against every claimed digest and returns its MD5 as lower-case hex.
pub fn verify(body: &[u8], expected: &ExpectedDigests) -> Result<String, DigestError> {
    let md5 = Md5::checksum(body);
    if let Some(claimed) = &expected.content_md5 {
        let claimed = BASE64
            .decode(claimed.trim())
            .map_err(|_| DigestError::InvalidContentMd5)?;
        if claimed.len() != md5.len() {
            return Err(DigestError::InvalidContentMd5);
        }
        if claimed != md5 {
            return Err(DigestError::Mismatch("Content-MD5"));
        }
    }
    let c = &expected.checksums;
    check::<Crc32>(body, c.crc32.as_deref(), "crc32")?;
    check::<Crc32c>(body, c.crc32c.as_deref(), "crc32c")?;
    check::<Crc64Nvme>(body, c.crc64nvme.as_deref(), "crc64nvme")?;
    check::<Sha1>(body, c.sha1.as_deref(), "sha1")?;
    check::<Sha256>(body, c.sha256.as_deref(), "sha256")?;
    Ok(hex::encode(md5))
}

fn check<C: Checksum>(
    body: &[u8],
    claimed: Option<&str>,
    name: &'static str,
) -> Result<(), DigestError> {
    let Some(claimed) = claimed else {
        return Ok(());
    };
    let claimed = BASE64
        .decode(claimed.trim())
        .map_err(|_| DigestError::InvalidChecksum(name))?;
    let actual = C::checksum(body);
    if claimed.len() != actual.as_ref().len() {
        return Err(DigestError::InvalidChecksum(name));
    }
    if claimed != actual.as_ref() {
        return Err(DigestError::Mismatch(name));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_digests_pass_and_wrong_ones_are_named() {
        let body = b"hello";
        let md5 = BASE64.encode(Md5::checksum(body));
        let crc = BASE64.encode(Crc32::checksum(body));
        let ok = ExpectedDigests {
            content_md5: Some(md5),
            checksums: StoredChecksums {
                crc32: Some(crc.clone()),
                ..Default::default()
            },
        };
        assert_eq!(
            verify(body, &ok).unwrap(),
            "5d41402abc4b2a76b9719d911017c592"
        );
        assert_eq!(
            verify(b"hellO", &ok),
            Err(DigestError::Mismatch("Content-MD5"))
        );
        let bad_crc = ExpectedDigests {
            content_md5: None,
            checksums: StoredChecksums {
                crc32: Some(crc),
                ..Default::default()
            },
        };
        assert_eq!(
            verify(b"hellO", &bad_crc),
            Err(DigestError::Mismatch("crc32"))
        );
        let garbage = ExpectedDigests {
            content_md5: Some("!!".into()),
            ..Default::default()
        };
        assert_eq!(verify(body, &garbage), Err(DigestError::InvalidContentMd5));
    }
}
