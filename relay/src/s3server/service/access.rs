//! Building an [`AccessRequest`] from an s3s request and asking the policy.

use s3s::{S3Error, S3ErrorCode, S3Request, S3Result};

use crate::s3server::policy::{AccessRequest, S3Op};
use crate::s3server::store::names::unescape;

use super::Backend;

const TOKEN_HEADER: &str = "x-amz-security-token";
const TOKEN_QUERY: &str = "X-Amz-Security-Token";

/// The request's identity with no operation filled in yet; see [`Backend::authorize`].
pub(super) fn identity<T>(req: &S3Request<T>, op: S3Op, bucket: &str) -> AccessRequest {
    AccessRequest {
        access_key: req.credentials.as_ref().map(|c| c.access_key.clone()),
        session_token: session_token(req),
        op,
        bucket: bucket.to_owned(),
        key_or_prefix: None,
    }
}

impl Backend {
    pub(super) async fn authorize<T>(
        &self,
        req: &S3Request<T>,
        op: S3Op,
        bucket: &str,
        key_or_prefix: Option<&str>,
    ) -> S3Result<()> {
        let mut access = identity(req, op, bucket);
        access.key_or_prefix = key_or_prefix.map(str::to_owned);
        self.check(&access).await
    }

    pub(super) async fn check(&self, access: &AccessRequest) -> S3Result<()> {
        self.policy.check(access).await.map_err(|denied| {
            tracing::info!(request = ?access, reason = %denied.message, "embedded S3 access denied");
            S3Error::with_message(S3ErrorCode::AccessDenied, denied.message)
        })
    }
}

/// Header for signed requests; query parameter for presigned URLs.
fn session_token<T>(req: &S3Request<T>) -> Option<String> {
    if let Some(value) = req.headers.get(TOKEN_HEADER) {
        return value.to_str().ok().map(str::to_owned);
    }
    req.uri.query()?.split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        (name == TOKEN_QUERY).then(|| unescape(value)).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::unescape as percent_decode;

    #[test]
    fn decodes_query_values() {
        assert_eq!(percent_decode("a%2Fb%3D").as_deref(), Some("a/b="));
        assert_eq!(percent_decode("bad%2"), None);
    }
}
