//! HTTP/1.1 serving loop: per-connection tasks, request size limit, timeouts and graceful
//! shutdown.

use std::future::Future;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use s3s::service::S3Service;
use s3s::{Body, HttpError};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::config::{DRAIN_TIMEOUT, HEADER_READ_TIMEOUT, MAX_OBJECT_SIZE};

/// Largest request head; S3 requests carry few headers.
const MAX_HEADER_BYTES: usize = 64 * 1024;
/// Slack for aws-chunked framing when only the raw Content-Length is known.
const FRAMING_SLACK: u64 = 64 * 1024;

pub(crate) async fn run(
    listener: TcpListener,
    s3: S3Service,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    connections.spawn(serve_connection(stream, s3.clone(), stop_rx.clone()));
                }
                Err(err) => {
                    // E.g. out of file descriptors: back off rather than spin.
                    tracing::warn!(error = %err, "embedded S3 accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            remaining = connections.len(),
            "embedded S3 shutdown: dropping unfinished requests"
        );
        connections.shutdown().await;
    }
}

async fn serve_connection(stream: TcpStream, s3: S3Service, mut stop: watch::Receiver<bool>) {
    let service = service_fn(move |req: Request<Incoming>| {
        let s3 = s3.clone();
        async move { handle(s3, req).await }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_HEADER_BYTES.max(8192))
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => log_conn_end(result),
        () = stopped(&mut stop) => {
            // Finish the request in flight, if any, then close.
            conn.as_mut().graceful_shutdown();
            log_conn_end(conn.await);
        }
    }
}

/// Resolves once shutdown is signalled (or the sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not `Send`; drop it here, not across an await.
    let _ = stop.wait_for(|stopped| *stopped).await.map(drop);
}

fn log_conn_end(result: Result<(), hyper::Error>) {
    if let Err(err) = result {
        tracing::debug!(error = %err, "embedded S3 connection ended with error");
    }
}

async fn handle(s3: S3Service, mut req: Request<Incoming>) -> Result<Response<Body>, HttpError> {
    if declares_oversized_body(&req) {
        return Ok(entity_too_large());
    }
    // s3s logs whole requests at debug level; keep bearer material out of those lines.
    for name in [http::header::AUTHORIZATION.as_str(), "x-amz-security-token"] {
        if let Some(value) = req.headers_mut().get_mut(name) {
            value.set_sensitive(true);
        }
    }
    s3.call(req.map(Body::from)).await
}

/// Refuses uploads that announce a body above the limit before reading any of it. Bodies
/// without a usable length are bounded while being read instead.
fn declares_oversized_body(req: &Request<Incoming>) -> bool {
    let header =
        |name: &str| -> Option<u64> { req.headers().get(name)?.to_str().ok()?.parse().ok() };
    match header("x-amz-decoded-content-length") {
        Some(decoded) => decoded > MAX_OBJECT_SIZE,
        None => header("content-length").is_some_and(|len| len > MAX_OBJECT_SIZE + FRAMING_SLACK),
    }
}

fn entity_too_large() -> Response<Body> {
    let error = s3s::s3_error!(
        EntityTooLarge,
        "Your proposed upload exceeds the maximum allowed object size."
    );
    let mut response = match error.to_http_response() {
        Ok(response) => response,
        Err(_) => {
            let mut plain = Response::new(Body::empty());
            *plain.status_mut() = StatusCode::BAD_REQUEST;
            plain
        }
    };
    // The unread body is still on the wire: this connection cannot carry another request.
    response.headers_mut().insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("close"),
    );
    response
}
