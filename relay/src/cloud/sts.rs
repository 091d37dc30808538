//! `AssumeRoleWithWebIdentity` through aws-sdk-sts. The call is unsigned by design (the web
//! identity token is the credential), so the client carries no credentials at all.

use std::time::Duration;

use agentkeys_core::cloud::AwsCredsResponse;
use agentkeys_core::{ApiError, ErrorCode};
use aws_sdk_sts::config::{BehaviorVersion, Region};

use crate::config::CloudConfig;

/// Session lengths STS accepts for a role, in seconds (this relay caps them at one hour).
pub const DURATION_MIN: u64 = 900;
pub const DURATION_MAX: u64 = 3600;

/// A client for the configured token service; `None` when no role is configured.
pub fn sts_client(config: &CloudConfig) -> Option<aws_sdk_sts::Client> {
    if config.role_credentials.is_none() && config.role_memory.is_none() {
        return None;
    }
    let timeouts = aws_sdk_sts::config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .operation_timeout(Duration::from_secs(15))
        .build();
    let mut b = aws_sdk_sts::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(config.sts_region.clone()))
        .timeout_config(timeouts);
    if let Some(url) = &config.sts_endpoint {
        b = b.endpoint_url(url);
    }
    Some(aws_sdk_sts::Client::from_conf(b.build()))
}

pub async fn assume(
    client: &aws_sdk_sts::Client,
    role_arn: &str,
    session_name: &str,
    token: &str,
    duration: u64,
) -> Result<AwsCredsResponse, ApiError> {
    let out = client
        .assume_role_with_web_identity()
        .role_arn(role_arn)
        .role_session_name(session_name)
        .web_identity_token(token)
        .duration_seconds(duration as i32)
        .send()
        .await
        .map_err(|e| {
            // The SDK's error names the service's code; never the token.
            let why = aws_sdk_sts::error::DisplayErrorContext(&e).to_string();
            tracing::warn!(role = role_arn, error = %why, "AssumeRoleWithWebIdentity failed");
            ApiError::new(
                ErrorCode::StsFailed,
                format!("AssumeRoleWithWebIdentity for {role_arn} failed"),
            )
        })?;
    let c = out.credentials().ok_or_else(|| {
        ApiError::new(
            ErrorCode::StsFailed,
            "the token service returned no credentials",
        )
    })?;
    Ok(AwsCredsResponse {
        access_key_id: c.access_key_id().to_string(),
        secret_access_key: c.secret_access_key().to_string(),
        session_token: c.session_token().to_string(),
        expiration: u64::try_from(c.expiration().secs()).unwrap_or(0),
        role_arn: role_arn.to_string(),
        endpoint_url: None,
        bucket: String::new(),
        prefix: String::new(),
    })
}
