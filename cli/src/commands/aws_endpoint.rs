//! A loopback credential endpoint for one child, in the container-credentials protocol the AWS
//! SDKs already speak (`AWS_CONTAINER_CREDENTIALS_FULL_URI` with
//! `AWS_CONTAINER_AUTHORIZATION_TOKEN`): the SDK asks it again before its credentials expire,
//! so a long-running program never holds expired keys. It lives in this CLI process, as long
//! as the child, answers only on 127.0.0.1, and only to the child's random token.

use std::convert::Infallible;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use rand::RngCore;
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use zeroize::Zeroizing;

use crate::error::CliError;
use agentkeys_core::error::ErrorCode;

/// Fetches fresh credentials as the container-credentials JSON; errors carry no secret.
pub type Fetch = Arc<
    dyn Fn() -> Pin<Box<dyn Future<Output = Result<Zeroizing<String>, String>> + Send>>
        + Send
        + Sync,
>;

pub struct Endpoint {
    pub url: String,
    pub token: Zeroizing<String>,
    server: JoinHandle<()>,
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.server.abort();
    }
}

pub async fn start(fetch: Fetch) -> Result<Endpoint, CliError> {
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .map_err(|e| {
            CliError::new(
                ErrorCode::Internal,
                format!("cannot listen on loopback: {e}"),
            )
        })?;
    let port = listener
        .local_addr()
        .map_err(|e| CliError::new(ErrorCode::Internal, e.to_string()))?
        .port();
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let token = Zeroizing::new(hex::encode(raw));
    let expected = Arc::new(token.clone());
    let server = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let (fetch, expected) = (fetch.clone(), expected.clone());
            let service = hyper::service::service_fn(move |req| {
                let (fetch, expected) = (fetch.clone(), expected.clone());
                async move { Ok::<_, Infallible>(answer(req, &expected, &fetch).await) }
            });
            tokio::spawn(async move {
                let _ = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(10))
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(Endpoint {
        url: format!("http://127.0.0.1:{port}/"),
        token,
        server,
    })
}

fn reply(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    resp
}

async fn answer(req: Request<Incoming>, expected: &str, fetch: &Fetch) -> Response<Full<Bytes>> {
    if req.method() != Method::GET {
        return reply(
            StatusCode::METHOD_NOT_ALLOWED,
            r#"{"message":"GET only"}"#.into(),
        );
    }
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !bool::from(presented.ct_eq(expected.as_bytes())) {
        return reply(
            StatusCode::UNAUTHORIZED,
            r#"{"message":"a valid AWS_CONTAINER_AUTHORIZATION_TOKEN is required"}"#.into(),
        );
    }
    match tokio::time::timeout(Duration::from_secs(30), fetch()).await {
        Ok(Ok(json)) => reply(StatusCode::OK, json.to_string()),
        Ok(Err(why)) => reply(
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({ "message": why }).to_string(),
        ),
        Err(_) => reply(
            StatusCode::SERVICE_UNAVAILABLE,
            r#"{"message":"the daemon did not answer in time"}"#.into(),
        ),
    }
}
