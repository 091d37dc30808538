//! SigV4 credentials: the server's own access key id and secret, and the temporary keys a
//! [`TemporaryKeys`] provider derives (the actor-scoped credentials the broker mints).

use std::sync::Arc;

use s3s::auth::{S3Auth, SecretKey};
use s3s::{s3_error, S3Result};
use zeroize::Zeroizing;

/// s3s's `SimpleAuth` answers an unknown key with `NotSignedUp`; S3 clients expect
/// `InvalidAccessKeyId`, so this provider says that instead.
pub(crate) struct SingleKeyAuth {
    access_key_id: String,
    secret: SecretKey,
    temporary: Option<Arc<dyn TemporaryKeys>>,
}

/// Secrets of temporary access keys, derived rather than stored.
pub trait TemporaryKeys: Send + Sync + 'static {
    /// The secret of `access_key`, or `None` when it is not one of this provider's keys.
    fn secret_for(&self, access_key: &str) -> Option<Zeroizing<String>>;
}

impl SingleKeyAuth {
    pub(crate) fn new(
        access_key_id: &str,
        secret_access_key: &str,
        temporary: Option<Arc<dyn TemporaryKeys>>,
    ) -> Self {
        Self {
            access_key_id: access_key_id.to_owned(),
            secret: SecretKey::from(secret_access_key),
            temporary,
        }
    }
}

#[async_trait::async_trait]
impl S3Auth for SingleKeyAuth {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        if access_key == self.access_key_id {
            Ok(self.secret.clone())
        } else if let Some(secret) = self
            .temporary
            .as_ref()
            .and_then(|t| t.secret_for(access_key))
        {
            Ok(SecretKey::from(secret.as_str()))
        } else {
            Err(s3_error!(
                InvalidAccessKeyId,
                "The AWS access key Id you provided does not exist in our records."
            ))
        }
    }
}
