//! The connection loop: HTTP/1.1 with a header read timeout (slow clients cannot hold
//! connections open), a per-request timeout, and a graceful drain on shutdown. Each request
//! carries its TCP peer as `ConnectInfo<SocketAddr>` (for per-IP rate limits); behind a load
//! balancer that is the balancer's address, and the limits then apply to all its clients
//! together.

use super::ApiFailure;
use agentkeys_core::ErrorCode;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::time::Duration;
use tokio::net::TcpListener;
use tower::ServiceExt;

pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(20);

/// Wraps every handler in [`REQUEST_TIMEOUT`]; a request that takes longer gets 408 `timeout`.
pub fn with_request_timeout(router: Router) -> Router {
    router.layer(axum::middleware::from_fn(
        |req: axum::extract::Request, next: axum::middleware::Next| async move {
            match tokio::time::timeout(REQUEST_TIMEOUT, next.run(req)).await {
                Ok(resp) => resp,
                Err(_) => axum::response::IntoResponse::into_response(ApiFailure::from(
                    ErrorCode::Timeout,
                )),
            }
        },
    ))
}

pub async fn serve(listener: TcpListener, app: Router, shutdown: impl Future<Output = ()>) {
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        // Out of file descriptors and similar: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let service = TowerToHyperService::new(app.clone().map_request(
                    move |mut req: axum::extract::Request<hyper::body::Incoming>| {
                        req.extensions_mut().insert(ConnectInfo(peer));
                        req
                    },
                ));
                let mut builder = hyper::server::conn::http1::Builder::new();
                builder.timer(TokioTimer::new()).header_read_timeout(HEADER_READ_TIMEOUT);
                let conn = builder.serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(DRAIN_TIMEOUT) => {
            tracing::warn!("drain timed out; closing remaining connections");
        }
    }
}
