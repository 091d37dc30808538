//! SigV4 credentials: exactly one access key id and secret.

use s3s::auth::{S3Auth, SecretKey};
use s3s::{s3_error, S3Result};

/// s3s's `SimpleAuth` answers an unknown key with `NotSignedUp`; S3 clients expect
/// `InvalidAccessKeyId`, so this provider says that instead.
pub(crate) struct SingleKeyAuth {
    access_key_id: String,
    secret: SecretKey,
}

impl SingleKeyAuth {
    pub(crate) fn new(access_key_id: &str, secret_access_key: &str) -> Self {
        Self {
            access_key_id: access_key_id.to_owned(),
            secret: SecretKey::from(secret_access_key),
        }
    }
}

#[async_trait::async_trait]
impl S3Auth for SingleKeyAuth {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        if access_key == self.access_key_id {
            Ok(self.secret.clone())
        } else {
            Err(s3_error!(
                InvalidAccessKeyId,
                "The AWS access key Id you provided does not exist in our records."
            ))
        }
    }
}
