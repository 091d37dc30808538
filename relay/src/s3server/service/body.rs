//! Reading an upload body into memory, bounded in size and in idle time.

use bytes::{Bytes, BytesMut};
use futures::StreamExt as _;
use s3s::dto::StreamingBlob;
use s3s::{s3_error, S3Error, S3ErrorCode, S3Result};

use crate::s3server::config::BODY_IDLE_TIMEOUT;

pub(super) fn too_large() -> S3Error {
    s3_error!(
        EntityTooLarge,
        "Your proposed upload exceeds the maximum allowed object size."
    )
}

pub(super) async fn read_limited(body: Option<StreamingBlob>, limit: u64) -> S3Result<Bytes> {
    let Some(mut stream) = body else {
        return Ok(Bytes::new());
    };
    let mut buf = BytesMut::new();
    loop {
        let next = tokio::time::timeout(BODY_IDLE_TIMEOUT, stream.next())
            .await
            .map_err(|_| s3_error!(RequestTimeout, "Your socket connection to the server was not read from or written to within the timeout period."))?;
        match next {
            None => return Ok(buf.freeze()),
            Some(Ok(chunk)) => {
                if (buf.len() + chunk.len()) as u64 > limit {
                    return Err(too_large());
                }
                buf.extend_from_slice(&chunk);
            }
            Some(Err(err)) => return Err(stream_error(err.as_ref())),
        }
    }
}

/// s3s reports payload verification failures as opaque stream errors whose types are
/// private; their messages name the cause, which decides the S3 code the client sees.
fn stream_error(err: &(dyn std::error::Error + Send + Sync)) -> S3Error {
    let text = err.to_string();
    if text.contains("Sha256Mismatch") {
        let mut e = S3Error::with_message(
            S3ErrorCode::Custom("XAmzContentSHA256Mismatch".into()),
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        );
        e.set_status_code(http::StatusCode::BAD_REQUEST);
        e
    } else if text.contains("SignatureMismatch") {
        s3_error!(SignatureDoesNotMatch, "The chunk signature does not match.")
    } else {
        tracing::debug!(error = %text, "upload body failed");
        s3_error!(
            IncompleteBody,
            "You did not provide the number of bytes specified by the Content-Length HTTP header."
        )
    }
}
