//! The one-shot HTTP server of a ceremony: `127.0.0.1:0`, one random path token, three routes
//! under it (`GET /<token>` the page, `GET /<token>/options`, `POST /<token>/result`, handled in
//! `result`), 404 for anything else, a per-request timeout, a `Host` check (the page must be opened
//! at the RP ID, never at an IP), and a stop after the first result or the ceremony's timeout.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agentkeys_core::axum_response::ApiFailure;
use agentkeys_core::error::{ApiError, ErrorCode};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use rand::RngCore;
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{page, CeremonySettings, Role, MAX_OPERATION_CHARS};

const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the answer to the result may take to reach the browser once the ceremony ends.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(3);

/// One WebAuthn operation: its options for the page and the verification of the browser's
/// answer.
pub(crate) trait Flow: Send + Sync + 'static {
    type Output: Send + 'static;
    /// `create` (enrollment) or `get` (assertion), as the page's JS calls it.
    const KIND: &'static str;
    /// The page's heading.
    const TITLE: &'static str;
    /// `{"publicKey": {...}}` in the JSON form of WebAuthn options (byte strings base64url).
    fn options(&self) -> serde_json::Value;
    /// Verifies the browser's credential (the JSON the page posts).
    fn finish(&self, credential: serde_json::Value) -> Result<Self::Output, ApiError>;
    /// Shown on the page after success.
    const DONE: &'static str;
}

/// A running ceremony; [`Ceremony::wait`] yields its one result. Dropping it stops the server.
pub struct Ceremony<T> {
    url: String,
    origin: String,
    timeout: Duration,
    deadline: Instant,
    result: oneshot::Receiver<Result<T, ApiError>>,
    stop: watch::Sender<bool>,
    server: JoinHandle<()>,
}

impl<T> Ceremony<T> {
    /// `http://<rp id>:<port>/<token>`: the page to open. Its token is the only secret in it,
    /// and it is good for this one ceremony only.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `http://<rp id>:<port>`: the origin the browser reports in clientDataJSON.
    pub fn origin(&self) -> &str {
        &self.origin
    }
}

impl<T: Send + 'static> Ceremony<T> {
    /// Binds, builds the flow for the origin it will be served at, and starts serving.
    pub(crate) async fn start<F>(
        role: Role,
        operation: &str,
        settings: CeremonySettings,
        make_flow: impl FnOnce(&str) -> Result<F, ApiError>,
    ) -> Result<Ceremony<T>, ApiError>
    where
        F: Flow<Output = T>,
    {
        let operation = operation.trim();
        if operation.is_empty() || operation.chars().count() > MAX_OPERATION_CHARS {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                format!("the operation text must be 1-{MAX_OPERATION_CHARS} characters"),
            ));
        }
        let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .await
            .map_err(|e| {
                ApiError::new(
                    ErrorCode::Internal,
                    format!("cannot listen for the ceremony page: {e}"),
                )
            })?;
        let port = listener
            .local_addr()
            .map_err(|e| ApiError::new(ErrorCode::Internal, format!("no local address: {e}")))?
            .port();
        let host = format!("{}:{port}", role.rp_id());
        let origin = format!("http://{host}");
        let flow = make_flow(&origin)?;
        let token = random_text(32);
        let nonce = random_text(16);
        let page = page::render(&page::PageSpec {
            role,
            title: F::TITLE,
            operation,
            nonce: &nonce,
        });
        let (result_tx, result_rx) = oneshot::channel();
        let shared = Arc::new(Shared {
            flow,
            token: token.clone(),
            host: host.clone(),
            origin: origin.clone(),
            page,
            csp: page::content_security_policy(&nonce),
            request_timeout: settings.request_timeout,
            result: Mutex::new(Some(result_tx)),
        });
        let (stop_tx, stop_rx) = watch::channel(false);
        let router = Router::new().fallback(handle::<F>).with_state(shared);
        let server = tokio::spawn(serve(listener, router, stop_rx));
        tracing::info!(
            port,
            rp_id = role.rp_id(),
            kind = F::KIND,
            "ceremony page served"
        );
        Ok(Ceremony {
            url: format!("{origin}/{token}"),
            origin,
            timeout: settings.timeout,
            deadline: Instant::now() + settings.timeout,
            result: result_rx,
            stop: stop_tx,
            server,
        })
    }

    /// The result of the ceremony: the first answer the page posted, verified, or
    /// `ceremony_timeout`. The server stops either way.
    pub async fn wait(mut self) -> Result<T, ApiError> {
        let outcome = tokio::select! {
            r = &mut self.result => r.unwrap_or_else(|_| Err(ApiError::new(
                ErrorCode::Internal,
                "the ceremony page stopped before it had a result",
            ))),
            _ = tokio::time::sleep_until(self.deadline) => Err(ApiError::new(
                ErrorCode::CeremonyTimeout,
                format!(
                    "the passkey page was not completed within {} s; run the command again and \
                     approve in the browser",
                    self.timeout.as_secs()
                ),
            )),
        };
        let _ = self.stop.send(true);
        // The server drains within DRAIN_TIMEOUT, so this only waits for the last answer.
        let _ = tokio::time::timeout(DRAIN_TIMEOUT * 2, &mut self.server).await;
        outcome
    }
}

pub(super) type ResultSender<T> = oneshot::Sender<Result<T, ApiError>>;

pub(super) struct Shared<F: Flow> {
    pub(super) flow: F,
    token: String,
    host: String,
    pub(super) origin: String,
    page: String,
    csp: String,
    request_timeout: Duration,
    /// Taken by the first result: a ceremony verifies one answer, ever.
    pub(super) result: Mutex<Option<ResultSender<F::Output>>>,
}

fn random_text(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    hex::encode(buf)
}

async fn serve(listener: TcpListener, router: Router, mut stop: watch::Receiver<bool>) {
    let graceful = GracefulShutdown::new();
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                // Another user may learn the URL (a browser's argv is public in /proc): its
                // connections are closed before a byte is read, so it can neither complete
                // nor disrupt the ceremony.
                Ok((stream, peer)) => match stream.local_addr() {
                    Ok(local) if agentkeys_core::tcp_peer::peer_is_us(peer, local) => stream,
                    _ => {
                        tracing::warn!(%peer, "ceremony connection from another user refused");
                        continue;
                    }
                },
                Err(e) => {
                    tracing::warn!(error = %e, "ceremony accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            // A send or the sender's drop (the Ceremony was dropped) both stop the server.
            _ = stop.changed() => break,
        };
        let conn = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT)
            .serve_connection(
                TokioIo::new(stream),
                TowerToHyperService::new(router.clone()),
            );
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "ceremony connection ended with an error");
            }
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown()).await;
}

async fn handle<F: Flow>(State(shared): State<Arc<Shared<F>>>, req: Request) -> Response {
    match tokio::time::timeout(shared.request_timeout, dispatch(&shared, req)).await {
        Ok(resp) => resp,
        Err(_) => ApiFailure::from(ErrorCode::Timeout).into_response(),
    }
}

async fn dispatch<F: Flow>(shared: &Shared<F>, req: Request) -> Response {
    let host_ok = req
        .headers()
        .get(header::HOST)
        .is_some_and(|h| h.as_bytes() == shared.host.as_bytes());
    if !host_ok {
        // Also refuses DNS rebinding: another site's name resolving to 127.0.0.1.
        return ApiFailure(ApiError::new(
            ErrorCode::BadRequest,
            format!(
                "open the ceremony page at http://{}/… (an IP address is not a valid RP ID)",
                shared.host
            ),
        ))
        .into_response();
    }
    let path = req.uri().path();
    let rest = path.strip_prefix('/').unwrap_or(path);
    let (token, sub) = match rest.split_once('/') {
        Some((token, sub)) => (token, Some(sub)),
        None => (rest, None),
    };
    let token_ok: bool = token.as_bytes().ct_eq(shared.token.as_bytes()).into();
    if !token_ok {
        return not_found();
    }
    let method = req.method().clone();
    match (sub, method) {
        (None, Method::GET) => page_response(shared),
        (Some("options"), Method::GET) => {
            let mut options = shared.flow.options();
            if let Some(obj) = options.as_object_mut() {
                obj.insert("kind".into(), F::KIND.into());
            }
            no_store(Json(options).into_response())
        }
        (Some("result"), Method::POST) => no_store(super::result::handle(shared, req).await),
        (None | Some("options") | Some("result"), _) => {
            ApiFailure::from(ErrorCode::MethodNotAllowed).into_response()
        }
        _ => not_found(),
    }
}

fn not_found() -> Response {
    ApiFailure::from(ErrorCode::RouteNotFound).into_response()
}

fn no_store(mut resp: Response) -> Response {
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn page_response<F: Flow>(shared: &Shared<F>) -> Response {
    let mut resp = Response::new(Body::from(shared.page.clone()));
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(csp) = HeaderValue::from_str(&shared.csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    // The URL carries the token: never send it on as a referrer.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    no_store(resp)
}
