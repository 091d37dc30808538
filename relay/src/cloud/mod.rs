//! The broker's OIDC issuer and STS minting (ARCHITECTURE §7): web-identity tokens signed with
//! K2 for the session's actor, and temporary cloud credentials from `AssumeRoleWithWebIdentity`
//! for the role of a data class. Only this relay's configuration names roles; no long-lived
//! cloud key is ever needed here or returned.

mod authorize;
mod routes;
mod sts;
mod token;

pub use routes::router;
pub use sts::sts_client;

use std::sync::Arc;

use crate::broker::Broker;
use crate::config::CloudConfig;
use crate::isolation::SessionKeyring;
use crate::vault::AuditSink;

pub struct CloudApi {
    pub broker: Arc<Broker>,
    /// Where minting is recorded before anything is returned; without one, nothing is minted.
    pub audit: Option<Arc<dyn AuditSink>>,
    /// `None` when no role is configured.
    pub sts: Option<aws_sdk_sts::Client>,
    pub config: CloudConfig,
    /// In the embedded deployment: the S3 server whose temporary keys this broker mints.
    pub embedded: Option<EmbeddedS3Sessions>,
    pub credentials_bucket: String,
    pub memory_bucket: String,
}

/// The embedded S3 server's session keyring and address.
#[derive(Clone)]
pub struct EmbeddedS3Sessions {
    pub keyring: Arc<SessionKeyring>,
    pub endpoint_url: String,
}
