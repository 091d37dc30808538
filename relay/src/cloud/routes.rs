//! `GET /.well-known/openid-configuration`, `POST /v1/mint-oidc-jwt`, `POST /v1/mint-aws-creds`.
//! Every minting is recorded in the audit log before the answer goes out.

use std::sync::Arc;

use agentkeys_core::cloud::{
    AwsCredsRequest, AwsCredsResponse, OidcClaims, OidcTokenRequest, OidcTokenResponse,
    OpenIdConfiguration, AWS_TAGS_CLAIM,
};
use agentkeys_core::envelope::object_prefix;
use agentkeys_core::identity::sha256;
use agentkeys_core::names::DataClass;
use agentkeys_core::routes;
use agentkeys_core::session::SessionClaims;
use agentkeys_core::time_util::now_secs;
use agentkeys_core::{ApiError, ErrorCode};
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;

use super::{authorize, sts, token, CloudApi};
use crate::audit::AuditEvent;
use crate::http::{decode_json, json_ok, read_body, ApiFailure};
use crate::isolation::Holder;

const BODY_LIMIT: usize = 4 * 1024;

pub fn router(api: Arc<CloudApi>) -> Router {
    Router::new()
        .route(routes::OIDC_DISCOVERY, get(discovery))
        .route(routes::MINT_OIDC_JWT, post(mint_oidc))
        .route(routes::MINT_AWS_CREDS, post(mint_aws))
        .with_state(api)
}

async fn discovery(State(api): State<Arc<CloudApi>>) -> Response {
    let issuer = api.broker.issuer.clone();
    json_ok(&OpenIdConfiguration {
        jwks_uri: format!("{issuer}{}", routes::JWKS),
        issuer,
        response_types_supported: vec!["id_token".into()],
        subject_types_supported: vec!["public".into()],
        id_token_signing_alg_values_supported: vec!["ES256".into()],
        claims_supported: [
            "iss",
            "sub",
            "aud",
            "iat",
            "nbf",
            "exp",
            "jti",
            AWS_TAGS_CLAIM,
        ]
        .map(String::from)
        .to_vec(),
    })
}

/// The record of a minting, written (durably) before the token or credentials leave.
async fn record(
    api: &CloudApi,
    s: &SessionClaims,
    claims: &OidcClaims,
    service: &str,
    op: &str,
    dc: DataClass,
) -> Result<(), ApiError> {
    let audit = api
        .audit
        .as_ref()
        .ok_or_else(|| ApiError::from_code(ErrorCode::AuditUnavailable))?;
    audit
        .record(AuditEvent {
            operator: s.opr.to_hex(),
            device: s.sub.to_string(),
            actor: s.act.to_hex(),
            service: service.to_string(),
            op: op.to_string(),
            data_class: dc.as_str().to_string(),
            outcome: "ok".into(),
            cap_jti_hash: hex::encode(sha256(claims.jti.as_bytes())),
        })
        .await
}

async fn mint_oidc(State(api): State<Arc<CloudApi>>, req: Request) -> Result<Response, ApiFailure> {
    let s = authorize::session(&api.broker, req.headers()).await?;
    let body = read_body(req.into_body(), BODY_LIMIT).await?;
    let r: OidcTokenRequest = if body.is_empty() {
        OidcTokenRequest::default()
    } else {
        decode_json(&body)?
    };
    let ttl = token::ttl(r.ttl_secs)?;
    let (jwt, claims) = token::mint(&api.broker, &s, ttl, now_secs())?;
    record(
        &api,
        &s,
        &claims,
        "oidc",
        "mint-oidc-jwt",
        DataClass::Credentials,
    )
    .await?;
    Ok(json_ok(&OidcTokenResponse {
        token: jwt,
        expires_at: claims.exp,
    }))
}

async fn mint_aws(State(api): State<Arc<CloudApi>>, req: Request) -> Result<Response, ApiFailure> {
    let s = authorize::session(&api.broker, req.headers()).await?;
    let body = read_body(req.into_body(), BODY_LIMIT).await?;
    let r: AwsCredsRequest = decode_json(&body)?;
    let role = match r.data_class {
        DataClass::Credentials => api.config.role_credentials.as_deref(),
        DataClass::Memory => api.config.role_memory.as_deref(),
    };
    // An agent's credentials outlive its revocation by up to their lifetime on AWS, so agents
    // get the shortest STS allows unless they ask; a master acts for the operator itself.
    let is_agent = s.act != s.opr;
    let default = if is_agent {
        sts::DURATION_MIN
    } else {
        sts::DURATION_MAX
    };
    let duration = r.duration_secs.unwrap_or(default);
    if !(sts::DURATION_MIN..=sts::DURATION_MAX).contains(&duration) {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            format!(
                "duration_secs must be from {} to {}",
                sts::DURATION_MIN,
                sts::DURATION_MAX
            ),
        )
        .into());
    }
    let bucket = match r.data_class {
        DataClass::Credentials => api.credentials_bucket.clone(),
        DataClass::Memory => api.memory_bucket.clone(),
    };
    let prefix = object_prefix(r.data_class, &s.act);
    // The token only needs to outlive the call to STS; its jti names the minting in the audit.
    let (jwt, claims) = token::mint(&api.broker, &s, token::ttl(None)?, now_secs())?;
    let creds = match (role, api.sts.as_ref(), api.embedded.as_ref()) {
        (Some(role), Some(client), _) => {
            record(&api, &s, &claims, role, "mint-aws-creds", r.data_class).await?;
            // One session per actor, named so CloudTrail shows who it was.
            let session_name = format!("agentkeys-{}", &s.act.to_hex()[..16]);
            AwsCredsResponse {
                bucket,
                prefix,
                ..sts::assume(client, role, &session_name, &jwt, duration).await?
            }
        }
        (None, _, Some(embedded)) => {
            let role = format!("embedded:{}", r.data_class.as_str());
            record(&api, &s, &claims, &role, "mint-aws-creds", r.data_class).await?;
            let m = embedded.keyring.mint(
                Holder {
                    device: s.sub,
                    operator: s.opr,
                    actor: s.act,
                },
                r.data_class,
                duration,
                now_secs(),
            );
            AwsCredsResponse {
                access_key_id: m.access_key_id,
                secret_access_key: m.secret_access_key.to_string(),
                session_token: m.session_token.to_string(),
                expiration: m.expiration,
                role_arn: role,
                endpoint_url: Some(embedded.endpoint_url.clone()),
                bucket,
                prefix,
            }
        }
        _ => {
            return Err(ApiError::new(
                ErrorCode::CloudNotConfigured,
                format!(
                    "no role is configured for the {} class",
                    r.data_class.as_str()
                ),
            )
            .into())
        }
    };
    Ok(json_ok(&creds))
}
