//! Web-identity tokens and temporary cloud credentials (ARCHITECTURE §7): what the broker's
//! OIDC issuer signs with K2, and what `mint-aws-creds` returns.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::names::DataClass;

/// `aud` of every web-identity token: what `AssumeRoleWithWebIdentity` expects.
pub const OIDC_AUDIENCE: &str = "sts.amazonaws.com";
/// The JOSE `typ` of web-identity tokens.
pub const OIDC_TYP: &str = "JWT";
/// Lifetimes of a web-identity token, in seconds.
pub const OIDC_TTL_MIN: u64 = 60;
pub const OIDC_TTL_MAX: u64 = 3600;
pub const OIDC_TTL_DEFAULT: u64 = 300;
/// The session tags AWS reads from a web-identity token (`aws:PrincipalTag/...`).
pub const TAG_ACTOR: &str = "agentkeys_actor_omni";
pub const TAG_OPERATOR: &str = "agentkeys_operator_omni";
/// The caller's own storage credentials on a vault request (all three or none).
pub const CALLER_ACCESS_KEY_HEADER: &str = "x-aws-access-key-id";
pub const CALLER_SECRET_KEY_HEADER: &str = "x-aws-secret-access-key";
pub const CALLER_SESSION_TOKEN_HEADER: &str = "x-aws-session-token";
/// The claim AWS reads session tags from.
pub const AWS_TAGS_CLAIM: &str = "https://aws.amazon.com/tags";

/// The claims of a web-identity token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcClaims {
    pub iss: String,
    /// The actor omni (hex): one subject per actor, so a role can trust exactly one.
    pub sub: String,
    pub aud: String,
    pub iat: u64,
    pub nbf: u64,
    pub exp: u64,
    pub jti: String,
    #[serde(rename = "https://aws.amazon.com/tags")]
    pub aws_tags: AwsTags,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwsTags {
    /// AWS takes each tag's value as a one-element list.
    pub principal_tags: BTreeMap<String, Vec<String>>,
    /// Tags kept for role chaining.
    pub transitive_tag_keys: Vec<String>,
}

/// `POST /v1/mint-oidc-jwt`
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OidcTokenRequest {
    /// 60 to 3600; 300 when absent.
    #[serde(default)]
    pub ttl_secs: Option<u64>,
}

#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OidcTokenResponse {
    pub token: String,
    pub expires_at: u64,
}

impl fmt::Debug for OidcTokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcTokenResponse")
            .field("token", &"redacted")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// `POST /v1/mint-aws-creds`
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AwsCredsRequest {
    /// Which class's role to assume (one role per data class).
    pub data_class: DataClass,
    /// 900 to 3600; when absent 900 for an agent and 3600 for a master.
    #[serde(default)]
    pub duration_secs: Option<u64>,
}

/// Temporary credentials of the actor's role session; the secret parts never print.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AwsCredsResponse {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    /// Unix seconds.
    pub expiration: u64,
    pub role_arn: String,
    /// The S3 endpoint to use them with; `None` for AWS itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_url: Option<String>,
    /// The class's bucket and the actor's own prefix in it: all the credentials may reach.
    pub bucket: String,
    pub prefix: String,
}

impl fmt::Debug for AwsCredsResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsCredsResponse")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"redacted")
            .field("session_token", &"redacted")
            .field("expiration", &self.expiration)
            .field("role_arn", &self.role_arn)
            .field("endpoint_url", &self.endpoint_url)
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .finish()
    }
}

/// `GET /.well-known/openid-configuration`
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct OpenIdConfiguration {
    pub issuer: String,
    pub jwks_uri: String,
    pub response_types_supported: Vec<String>,
    pub subject_types_supported: Vec<String>,
    pub id_token_signing_alg_values_supported: Vec<String>,
    pub claims_supported: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_print() {
        let c = AwsCredsResponse {
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: "s3cr3t".into(),
            session_token: "t0k3n".into(),
            expiration: 1,
            role_arn: "arn:aws:iam::1:role/r".into(),
            endpoint_url: None,
            bucket: "b".into(),
            prefix: "bots/x/credentials/".into(),
        };
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("s3cr3t") && !shown.contains("t0k3n"),
            "{shown}"
        );
        let t = OidcTokenResponse {
            token: "eyJ.x.y".into(),
            expires_at: 1,
        };
        assert!(!format!("{t:?}").contains("eyJ"));
    }
}
