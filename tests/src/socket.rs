//! One JSON request to a daemon's Unix socket, for API checks the CLI does not expose.

use std::path::Path;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::UnixStream;

/// The status and JSON body (Null when the body is not JSON).
pub async fn call(socket: &Path, method: &str, path: &str, body: &str) -> (u16, Value) {
    let stream = UnixStream::connect(socket)
        .await
        .expect("connect to the socket");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "daemon")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("request");
    let resp = sender.send_request(req).await.expect("send");
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Polls a daemon job until it is no longer running; its final view.
pub async fn wait_job(socket: &Path, job: &str) -> Value {
    let mut after = 0;
    loop {
        let (status, v) = call(socket, "GET", &format!("/v1/jobs/{job}?after={after}"), "").await;
        assert_eq!(status, 200, "{v}");
        if v["state"] != "running" {
            return v;
        }
        after = v["seq"].as_u64().unwrap_or(after);
    }
}
