//! The broker's OIDC issuer and STS minting against the real relay, with `moto_server` as the
//! token service (and as S3, to show the minted credentials work): discovery and JWKS with K1
//! and K2 apart, web-identity tokens for a master and for an agent, purpose separation (a
//! web-identity token is no capability), bounds, the audit record written first, and refusals
//! with their exact codes.

use agentkeys_core::cloud::{
    AwsCredsResponse, OidcClaims, OpenIdConfiguration, TAG_ACTOR, TAG_OPERATOR,
};
use agentkeys_core::es256::{verify_jwt, Jwks, JwtError, KeyPurpose};
use agentkeys_core::names::{DataClass, Op};
use agentkeys_core::routes;
use agentkeys_core::time_util::now_secs;
use agentkeys_core::wire::ListRequest;
use agentkeys_tests::agents::{register_agent, revoke_agent};
use agentkeys_tests::moto::Moto;
use agentkeys_tests::relay::RelayProc;
use agentkeys_tests::relay_client::{code, Pop, RelayClient};
use serde_json::{json, Value};

const ROLE: &str = "arn:aws:iam::123456789012:role/agentkeys-credentials";

async fn post(c: &RelayClient, path: &str, body: Value) -> (u16, Value) {
    let auth = c
        .session
        .as_ref()
        .map(|s| vec![("authorization", format!("Bearer {s}"))])
        .unwrap_or_default();
    c.post_raw(path, &auth, body.to_string().into_bytes()).await
}

async fn get_json(url: &str) -> Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn oidc_tokens_and_sts_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start();
    let relay = RelayProc::start(
        &dir.path().join("relay"),
        &[
            ("AGENTKEYS_STS_ENDPOINT", &moto.url),
            ("AGENTKEYS_AWS_ROLE_CREDENTIALS", ROLE),
            // Objects in moto too, so no embedded S3 server mints keys of its own here.
            ("AGENTKEYS_STORAGE", "s3"),
            ("AGENTKEYS_S3_ENDPOINT", &moto.url),
            ("AGENTKEYS_S3_ACCESS_KEY_ID", "test"),
            ("AGENTKEYS_S3_SECRET_ACCESS_KEY", "test"),
            ("AGENTKEYS_S3_CREATE_BUCKETS", "true"),
            ("AGENTKEYS_CREDENTIALS_BUCKET", "ak-oidc-credentials"),
            ("AGENTKEYS_MEMORY_BUCKET", "ak-oidc-memory"),
        ],
    );

    // Discovery names this relay as issuer and its JWKS, which holds K1 and K2 apart.
    let conf: OpenIdConfiguration =
        serde_json::from_value(get_json(&format!("{}{}", relay.url, routes::OIDC_DISCOVERY)).await)
            .unwrap();
    assert_eq!(conf.issuer, relay.url);
    assert_eq!(conf.jwks_uri, format!("{}{}", relay.url, routes::JWKS));
    assert_eq!(conf.id_token_signing_alg_values_supported, ["ES256"]);
    let jwks: Jwks = serde_json::from_value(get_json(&conf.jwks_uri).await).unwrap();
    let purposes: Vec<KeyPurpose> = jwks.keys.iter().map(|k| k.agentkeys_purpose).collect();
    assert_eq!(purposes, [KeyPurpose::Session, KeyPurpose::Oidc]);
    assert_ne!(jwks.keys[0].kid, jwks.keys[1].kid);

    let mut master = RelayClient::new(&relay.url);
    master.sign_in().await;
    let op = master.operator();

    // A master's token: itself as subject, the operator in both tags, 300 s by default.
    let (s, v) = post(&master, routes::MINT_OIDC_JWT, json!({})).await;
    assert_eq!(s, 200, "{v}");
    let token = v["token"].as_str().unwrap().to_string();
    let claims: OidcClaims = verify_jwt(&token, &jwks, KeyPurpose::Oidc, "JWT").unwrap();
    assert_eq!(claims.iss, relay.url);
    assert_eq!(claims.aud, "sts.amazonaws.com");
    assert_eq!(claims.sub, op.to_hex());
    assert_eq!(claims.exp - claims.iat, 300);
    assert_eq!(v["expires_at"], claims.exp);
    assert_eq!(claims.aws_tags.principal_tags[TAG_ACTOR], [op.to_hex()]);
    assert_eq!(claims.aws_tags.principal_tags[TAG_OPERATOR], [op.to_hex()]);
    // K2 is for web identity only: as a session key, or as a capability, it is refused.
    assert_eq!(
        verify_jwt::<OidcClaims>(&token, &jwks, KeyPurpose::Session, "JWT").unwrap_err(),
        JwtError::WrongPurpose
    );
    let list = serde_json::to_vec(&ListRequest {}).unwrap();
    let (s, v) = master
        .vault(
            DataClass::Credentials,
            Op::List,
            Some(&token),
            list,
            Pop::Valid,
        )
        .await;
    assert_eq!((s, code(&v).as_str()), (401, "cap_wrong_type"), "{v}");

    // Bounds and sessions.
    let (s, v) = post(&master, routes::MINT_OIDC_JWT, json!({"ttl_secs": 3600})).await;
    assert_eq!(s, 200, "{v}");
    for bad in [59, 3601] {
        let (s, v) = post(&master, routes::MINT_OIDC_JWT, json!({"ttl_secs": bad})).await;
        assert_eq!((s, code(&v).as_str()), (400, "bad_request"), "{v}");
    }
    let anonymous = RelayClient::new(&relay.url);
    let (s, v) = post(&anonymous, routes::MINT_OIDC_JWT, json!({})).await;
    assert_eq!((s, code(&v).as_str()), (401, "session_missing"), "{v}");
    let (s, v) = post(&master, routes::MINT_OIDC_JWT, json!({"ttl": 60})).await;
    assert_eq!((s, code(&v).as_str()), (400, "invalid_json"), "{v}");

    // An agent's token names the agent, under its operator; once revoked, it gets none.
    let (agent, actor) = register_agent(&master, "coder").await;
    let (s, v) = post(&agent, routes::MINT_OIDC_JWT, json!({})).await;
    assert_eq!(s, 200, "{v}");
    let claims: OidcClaims =
        verify_jwt(v["token"].as_str().unwrap(), &jwks, KeyPurpose::Oidc, "JWT").unwrap();
    assert_eq!(claims.sub, actor.to_hex());
    assert_eq!(claims.aws_tags.principal_tags[TAG_ACTOR], [actor.to_hex()]);
    assert_eq!(claims.aws_tags.principal_tags[TAG_OPERATOR], [op.to_hex()]);

    // STS through moto: temporary credentials for the class's role, which work against S3.
    let (s, v) = post(
        &master,
        routes::MINT_AWS_CREDS,
        json!({"data_class": "credentials"}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let creds: AwsCredsResponse = serde_json::from_value(v).unwrap();
    assert_eq!(creds.role_arn, ROLE);
    assert_eq!(creds.bucket, "ak-oidc-credentials");
    assert_eq!(creds.prefix, format!("bots/{}/credentials/", op.to_hex()));
    assert_eq!(creds.endpoint_url, None);
    // A master's default is STS's longest session.
    assert!(creds.expiration > now_secs() + 3000, "{creds:?}");
    assert!(!creds.session_token.is_empty() && !creds.secret_access_key.is_empty());
    // An agent's default is the shortest, so its credentials outlive a revocation briefly.
    let (s, v) = post(
        &agent,
        routes::MINT_AWS_CREDS,
        json!({"data_class": "credentials"}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let agent_creds: AwsCredsResponse = serde_json::from_value(v).unwrap();
    assert_eq!(
        agent_creds.prefix,
        format!("bots/{}/credentials/", actor.to_hex())
    );
    assert!(
        agent_creds.expiration <= now_secs() + 900 + 5,
        "{agent_creds:?}"
    );
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::new()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .credentials_provider(aws_credential_types::Credentials::new(
                creds.access_key_id.clone(),
                creds.secret_access_key.clone(),
                Some(creds.session_token.clone()),
                None,
                "minted",
            ))
            .endpoint_url(&moto.url)
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket()
        .bucket("minted-creds")
        .send()
        .await
        .unwrap();
    let buckets = s3.list_buckets().send().await.unwrap();
    assert!(buckets
        .buckets()
        .iter()
        .any(|b| b.name() == Some("minted-creds")));

    // Refusals: no role for memory, a session length STS would refuse, a revoked agent.
    let (s, v) = post(
        &master,
        routes::MINT_AWS_CREDS,
        json!({"data_class": "memory"}),
    )
    .await;
    assert_eq!((s, code(&v).as_str()), (503, "cloud_not_configured"), "{v}");
    let (s, v) = post(
        &master,
        routes::MINT_AWS_CREDS,
        json!({"data_class": "credentials", "duration_secs": 100}),
    )
    .await;
    assert_eq!((s, code(&v).as_str()), (400, "bad_request"), "{v}");
    revoke_agent(&master, &agent).await;
    let refused = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            let (s, v) = post(&agent, routes::MINT_OIDC_JWT, json!({})).await;
            if s != 200 {
                return (s, v);
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the revoked agent is refused");
    assert_eq!(
        (refused.0, code(&refused.1).as_str()),
        (403, "device_revoked")
    );

    // Every minting is in the operator's audit trail.
    let log = reqwest::Client::new()
        .get(format!("{}{}?limit=1000", relay.url, routes::AUDIT_LOG))
        .bearer_auth(master.session.as_deref().unwrap())
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let ops: Vec<(String, String)> = log["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["op"].as_str().unwrap_or_default().to_string(),
                r["service"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert!(
        ops.contains(&("mint-oidc-jwt".into(), "oidc".into())),
        "{ops:?}"
    );
    assert!(
        ops.contains(&("mint-aws-creds".into(), ROLE.into())),
        "{ops:?}"
    );
    // No token and no secret in any record.
    let text = log.to_string();
    assert!(!text.contains(&token) && !text.contains(&creds.secret_access_key));
}
