//! An actor's temporary storage credentials as `agentkeys aws env` prints them, and an S3
//! client built from them, so a test can keep using credentials minted before a revocation
//! and see when storage itself stops honouring them.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// `agentkeys aws env` parsed: the exports by name, single quotes removed.
pub struct StorageCreds {
    pub vars: HashMap<String, String>,
}

impl StorageCreds {
    pub fn parse(exports: &str) -> StorageCreds {
        let vars = exports
            .lines()
            .filter_map(|l| l.strip_prefix("export "))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| {
                let v = v.trim();
                let v = v.strip_prefix('\'').unwrap_or(v);
                let v = v.strip_suffix('\'').unwrap_or(v);
                (k.to_string(), v.replace(r"'\''", "'"))
            })
            .collect();
        StorageCreds { vars }
    }

    /// The same, from a `mint-aws-creds` answer (its JSON), as `aws env` would print it.
    pub fn from_minted(v: &serde_json::Value) -> StorageCreds {
        let field = |k: &str| v[k].as_str().unwrap_or_default().to_string();
        let vars = [
            ("AWS_ACCESS_KEY_ID", field("access_key_id")),
            ("AWS_SECRET_ACCESS_KEY", field("secret_access_key")),
            ("AWS_SESSION_TOKEN", field("session_token")),
            ("AWS_ENDPOINT_URL_S3", field("endpoint_url")),
            ("AWS_REGION", "us-east-1".to_string()),
            ("AGENTKEYS_S3_BUCKET", field("bucket")),
            ("AGENTKEYS_S3_PREFIX", field("prefix")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        StorageCreds { vars }
    }

    pub fn get(&self, name: &str) -> &str {
        self.vars
            .get(name)
            .unwrap_or_else(|| panic!("{name} missing from aws env"))
    }

    pub fn bucket(&self) -> &str {
        self.get("AGENTKEYS_S3_BUCKET")
    }

    pub fn prefix(&self) -> &str {
        self.get("AGENTKEYS_S3_PREFIX")
    }

    pub fn client(&self) -> aws_sdk_s3::Client {
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::new()
                .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
                .region(aws_sdk_s3::config::Region::new(
                    self.get("AWS_REGION").to_string(),
                ))
                .credentials_provider(aws_credential_types::Credentials::new(
                    self.get("AWS_ACCESS_KEY_ID"),
                    self.get("AWS_SECRET_ACCESS_KEY"),
                    Some(self.get("AWS_SESSION_TOKEN").to_string()),
                    None,
                    "agentkeys-aws-env",
                ))
                .endpoint_url(self.get("AWS_ENDPOINT_URL_S3"))
                .force_path_style(true)
                .build(),
        )
    }
}

/// "ok", or the S3 error code of a failed call.
pub fn s3_code<T, E>(r: Result<T, aws_sdk_s3::error::SdkError<E>>) -> String
where
    E: aws_sdk_s3::error::ProvideErrorMetadata,
{
    match r {
        Ok(_) => "ok".into(),
        Err(e) => e
            .as_service_error()
            .and_then(|s| s.code())
            .unwrap_or("no service error")
            .to_string(),
    }
}

/// The code of a GET of `key` under the credentials' own prefix.
pub async fn get_code(c: &aws_sdk_s3::Client, creds: &StorageCreds, key: &str) -> String {
    s3_code(
        c.get_object()
            .bucket(creds.bucket())
            .key(format!("{}{key}", creds.prefix()))
            .send()
            .await,
    )
}

/// The codes of a GET, a PUT (of `planted`) and a DELETE of `key` in `bucket`: what a client
/// holding `c`'s credentials gets when it reaches for someone else's object.
pub async fn get_put_delete_codes(c: &aws_sdk_s3::Client, bucket: &str, key: &str) -> [String; 3] {
    [
        s3_code(c.get_object().bucket(bucket).key(key).send().await),
        s3_code(
            c.put_object()
                .bucket(bucket)
                .key(key)
                .body(b"planted".to_vec().into())
                .send()
                .await,
        ),
        s3_code(c.delete_object().bucket(bucket).key(key).send().await),
    ]
}

/// The code of a list of the credentials' own prefix.
pub async fn list_code(c: &aws_sdk_s3::Client, creds: &StorageCreds) -> String {
    s3_code(
        c.list_objects_v2()
            .bucket(creds.bucket())
            .prefix(creds.prefix())
            .send()
            .await,
    )
}

/// Repeats `probe` until it answers `AccessDenied`; how long that took. Panics past `limit`.
pub async fn denied_within<F, Fut>(limit: Duration, mut probe: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = String>,
{
    let since = Instant::now();
    loop {
        let code = probe().await;
        if code == "AccessDenied" {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < limit,
            "storage still answers {code} {} ms after the change was mined",
            since.elapsed().as_millis()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
