//! Starting and stopping a server, building clients, reading SDK errors.

use std::fmt::Debug;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use aws_sdk_s3::config::{BehaviorVersion, Region};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use aws_smithy_types::retry::RetryConfig;
use md5::{Digest, Md5};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::s3server::{AccessPolicy, AllowAll, EmbeddedS3, EmbeddedS3Config, S3ServerError};

pub const ACCESS_KEY: &str = "AKIAEMBEDDEDTEST";
pub const SECRET_KEY: &str = "embedded-test-secret-key";

pub struct TestServer {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), S3ServerError>>,
}

impl TestServer {
    pub async fn start(root: &Path) -> Self {
        Self::start_with(root, Arc::new(AllowAll)).await
    }

    pub async fn start_with(root: &Path, policy: Arc<dyn AccessPolicy>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let config = EmbeddedS3Config::new(root, ACCESS_KEY, SECRET_KEY);
        let task = tokio::spawn(EmbeddedS3::serve(config, listener, policy, async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            stop: Some(stop),
            task,
        }
    }

    /// Signals shutdown and waits until the server has drained and returned.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.unwrap().unwrap();
    }

    pub fn client(&self) -> Client {
        self.client_as(ACCESS_KEY, SECRET_KEY, None)
    }

    pub fn client_as(&self, access_key: &str, secret: &str, session_token: Option<&str>) -> Client {
        let creds = aws_credential_types::Credentials::new(
            access_key,
            secret,
            session_token.map(str::to_owned),
            None,
            "embedded-s3-test",
        );
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(format!("http://{}", self.addr))
            .force_path_style(true)
            .credentials_provider(creds)
            // A retry would hide the first answer, which is what these tests check.
            .retry_config(RetryConfig::disabled())
            .build();
        Client::from_conf(config)
    }
}

/// The S3 error code and HTTP status of a failed call.
pub fn error_of<E: ProvideErrorMetadata + Debug>(err: &SdkError<E>) -> (String, u16) {
    let status = err.raw_response().map_or(0, |r| r.status().as_u16());
    let code = match err {
        SdkError::ServiceError(e) => e.err().code().unwrap_or_default().to_owned(),
        other => format!("{other:?}"),
    };
    (code, status)
}

pub fn quoted_md5(bytes: &[u8]) -> String {
    format!("\"{}\"", hex::encode(Md5::digest(bytes)))
}

pub async fn put(client: &Client, bucket: &str, key: &str, body: &[u8]) -> String {
    client
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .unwrap()
        .e_tag
        .unwrap()
}

pub async fn get(client: &Client, bucket: &str, key: &str) -> (Vec<u8>, String) {
    let out = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    let etag = out.e_tag.clone().unwrap();
    let bytes = out.body.collect().await.unwrap().into_bytes().to_vec();
    (bytes, etag)
}

pub async fn bucket(client: &Client, name: &str) {
    client.create_bucket().bucket(name).send().await.unwrap();
}
