//! Configuration of the embedded S3 server and its fixed limits.

use std::fmt;
use std::sync::Arc;

use super::auth::TemporaryKeys;
use std::path::PathBuf;
use std::time::Duration;

use super::S3ServerError;

/// Largest object body accepted; bigger uploads are refused with `EntityTooLarge`. Objects
/// are buffered whole in memory to verify digests before anything touches the disk, so this
/// also bounds the memory one request can pin.
pub const MAX_OBJECT_SIZE: u64 = 16 * 1024 * 1024;

/// A client that has not sent a complete request head within this time (including an idle
/// keep-alive connection waiting for its next request) is disconnected.
pub(crate) const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// A request body that stalls this long between two chunks is abandoned.
pub(crate) const BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long shutdown waits for in-flight requests before dropping them.
pub(crate) const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Configuration of [`super::EmbeddedS3`].
#[derive(Clone)]
pub struct EmbeddedS3Config {
    /// Directory holding the buckets; created if missing.
    pub root: PathBuf,
    /// The one access key id that is accepted.
    pub access_key_id: String,
    /// Secret for SigV4 verification. Never logged: `Debug` redacts it.
    pub secret_access_key: String,
    /// Region reported to clients, normally "us-east-1".
    pub region: String,
    /// Temporary keys accepted beside the server's own (actor-scoped credentials).
    pub temporary: Option<Arc<dyn TemporaryKeys>>,
}

impl EmbeddedS3Config {
    /// A configuration for `root` in region "us-east-1".
    pub fn new(
        root: impl Into<PathBuf>,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
    ) -> Self {
        Self {
            root: root.into(),
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            region: "us-east-1".to_owned(),
            temporary: None,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), S3ServerError> {
        // An empty key would make SigV4 trivially forgeable for anyone who can read this code.
        if self.access_key_id.is_empty() || self.secret_access_key.is_empty() {
            return Err(S3ServerError::Config(
                "access_key_id and secret_access_key must not be empty".to_owned(),
            ));
        }
        if self.region.is_empty() {
            return Err(S3ServerError::Config("region must not be empty".to_owned()));
        }
        Ok(())
    }
}

impl fmt::Debug for EmbeddedS3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbeddedS3Config")
            .field("root", &self.root)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("region", &self.region)
            .field("temporary", &self.temporary.is_some())
            .finish()
    }
}
