//! Store errors as S3 error responses.

use s3s::{S3Error, S3ErrorCode};

use crate::s3server::store::{DigestError, KeyError, StoreError};

pub(super) fn to_s3(err: StoreError) -> S3Error {
    use S3ErrorCode as C;
    let (code, message): (C, String) = match err {
        StoreError::InvalidBucketName => (C::InvalidBucketName, err.to_string()),
        StoreError::InvalidKey(KeyError::TooLong) => {
            (C::KeyTooLongError, "Your key is too long".into())
        }
        StoreError::InvalidKey(e) => (C::InvalidArgument, e.to_string()),
        StoreError::NoSuchBucket => (
            C::NoSuchBucket,
            "The specified bucket does not exist".into(),
        ),
        StoreError::NoSuchKey => (C::NoSuchKey, "The specified key does not exist.".into()),
        StoreError::BucketAlreadyExists => (
            C::BucketAlreadyOwnedByYou,
            "Your previous request to create the named bucket succeeded and you already own it."
                .into(),
        ),
        StoreError::BucketNotEmpty => (
            C::BucketNotEmpty,
            "The bucket you tried to delete is not empty".into(),
        ),
        StoreError::PreconditionFailed => (
            C::PreconditionFailed,
            "At least one of the pre-conditions you specified did not hold".into(),
        ),
        StoreError::Digest(ref d) => match d {
            DigestError::InvalidContentMd5 => (C::InvalidDigest, d.to_string()),
            DigestError::Mismatch(_) => (C::BadDigest, d.to_string()),
            DigestError::InvalidChecksum(_) => (C::InvalidRequest, d.to_string()),
        },
        StoreError::Io(_) | StoreError::Task(_) => {
            // Details (paths, OS errors) go to the log, not to the client.
            tracing::error!(error = %err, "embedded S3 storage failure");
            (
                C::InternalError,
                "We encountered an internal error. Please try again.".into(),
            )
        }
    };
    S3Error::with_message(code, message)
}

pub(super) fn key_error(err: KeyError) -> S3Error {
    to_s3(StoreError::InvalidKey(err))
}
