//! HTTP to the relay: timeouts, a response size limit, and the mapping of transport failures
//! and the relay's `ErrorBody` answers to the project's error codes.

use std::time::Duration;

use agentkeys_core::error::{ApiError, ErrorBody, ErrorCode};
use agentkeys_core::pop::POP_HEADER;
use agentkeys_core::wire::MAX_BODY_BYTES;
use bytes::Bytes;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const TOTAL_TIMEOUT: Duration = Duration::from_secs(30);
/// An error answer is one short JSON object.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

pub(crate) struct Http {
    base: String,
    client: reqwest::Client,
}

impl Http {
    pub(crate) fn new(base: &str) -> Result<Http, ApiError> {
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(TOTAL_TIMEOUT)
            // Bearer tokens must go to the configured relay only: no redirects, and no proxy
            // picked up from the environment.
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("agentkeys-daemon/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                ApiError::new(
                    ErrorCode::Internal,
                    format!("cannot build the HTTP client: {e}"),
                )
            })?;
        Ok(Http {
            base: base.to_string(),
            client,
        })
    }

    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// POSTs `body` (JSON) and returns the body of a 2xx answer. A non-2xx answer becomes the
    /// relay's own error (same code, so the same HTTP status towards the CLI).
    pub(crate) async fn post(
        &self,
        path: &str,
        bearer: Option<&str>,
        proof: Option<&str>,
        body: Bytes,
    ) -> Result<Zeroizing<Vec<u8>>, ApiError> {
        self.post_with(path, bearer, proof, &[], body).await
    }

    /// [`Http::post`] with more headers (the caller's storage credentials).
    pub(crate) async fn post_with(
        &self,
        path: &str,
        bearer: Option<&str>,
        proof: Option<&str>,
        extra: &[(&str, &str)],
        body: Bytes,
    ) -> Result<Zeroizing<Vec<u8>>, ApiError> {
        let mut req = self
            .client
            .post(format!("{}{path}", self.base))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        if let Some(token) = bearer {
            req = req.bearer_auth(token);
        }
        if let Some(proof) = proof {
            req = req.header(POP_HEADER, proof);
        }
        for (name, value) in extra {
            req = req.header(*name, *value);
        }
        self.send(path, req).await
    }

    pub(crate) async fn get(
        &self,
        path: &str,
        timeout: Duration,
    ) -> Result<Zeroizing<Vec<u8>>, ApiError> {
        self.get_with(path, None, timeout).await
    }

    /// GETs `path` (which may carry a query) with an optional bearer token.
    pub(crate) async fn get_with(
        &self,
        path: &str,
        bearer: Option<&str>,
        timeout: Duration,
    ) -> Result<Zeroizing<Vec<u8>>, ApiError> {
        let mut req = self
            .client
            .get(format!("{}{path}", self.base))
            .timeout(timeout);
        if let Some(token) = bearer {
            req = req.bearer_auth(token);
        }
        self.send(path, req).await
    }

    /// Opens a long-lived GET (server-sent events) with the session: the client's total
    /// timeout would cut it, so this request has its own, `lifetime`. A non-2xx answer becomes
    /// the relay's error, as for [`Http::post`].
    pub(crate) async fn open_stream(
        &self,
        path: &str,
        bearer: &str,
        lifetime: Duration,
    ) -> Result<reqwest::Response, ApiError> {
        let req = self
            .client
            .get(format!("{}{path}", self.base))
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .bearer_auth(bearer)
            .timeout(lifetime);
        let resp = req.send().await.map_err(|e| self.transport_error(&e))?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        // Reuse the bounded reading and error mapping of ordinary answers.
        let status = resp.status().as_u16();
        let mut resp = resp;
        let mut body = Vec::new();
        while let Ok(Some(chunk)) = resp.chunk().await {
            if body.len() + chunk.len() > ERROR_BODY_LIMIT {
                body.clear();
                break;
            }
            body.extend_from_slice(&chunk);
        }
        Err(match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(err) => err.into_api_error(),
            Err(_) => ApiError::new(
                ErrorCode::RelayProtocol,
                format!("the relay answered {path} with HTTP {status} and no error body"),
            ),
        })
    }

    async fn send(
        &self,
        path: &str,
        req: reqwest::RequestBuilder,
    ) -> Result<Zeroizing<Vec<u8>>, ApiError> {
        let mut resp = req.send().await.map_err(|e| self.transport_error(&e))?;
        let status = resp.status();
        if resp
            .content_length()
            .is_some_and(|len| len > MAX_BODY_BYTES as u64)
        {
            return Err(too_large(path));
        }
        let mut body = Zeroizing::new(Vec::new());
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.transport_error(&e))? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(too_large(path));
            }
            body.extend_from_slice(&chunk);
        }
        tracing::debug!(path, status = status.as_u16(), "relay answered");
        if status.is_success() {
            return Ok(body);
        }
        match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(err) => Err(err.into_api_error()),
            Err(_) => Err(ApiError::new(
                ErrorCode::RelayProtocol,
                format!(
                    "the relay answered {path} with HTTP {} and no error body",
                    status.as_u16()
                ),
            )),
        }
    }

    fn transport_error(&self, e: &reqwest::Error) -> ApiError {
        let why = if e.is_timeout() {
            format!("no answer within {} s", TOTAL_TIMEOUT.as_secs())
        } else {
            root_cause(e)
        };
        ApiError::new(
            ErrorCode::RelayUnreachable,
            format!("cannot reach the relay at {}: {why}", self.base),
        )
    }
}

/// reqwest's top-level message repeats the URL; the innermost cause says what went wrong
/// ("Connection refused").
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

fn too_large(path: &str) -> ApiError {
    ApiError::new(
        ErrorCode::RelayProtocol,
        format!("the relay's answer to {path} is larger than {MAX_BODY_BYTES} bytes"),
    )
}

pub(crate) fn decode<T: DeserializeOwned>(path: &str, body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            ErrorCode::RelayProtocol,
            format!(
                "the relay's answer to {path} is not the expected JSON (line {}, column {})",
                e.line(),
                e.column()
            ),
        )
    })
}

/// JSON in a buffer that is wiped when the last clone is dropped (bodies carry secrets).
pub(crate) fn encode<T: serde::Serialize>(value: &T) -> Result<Bytes, ApiError> {
    serde_json::to_vec(value)
        .map(|v| Bytes::from_owner(Zeroizing::new(v)))
        .map_err(|_| ApiError::new(ErrorCode::Internal, "cannot encode a relay request"))
}
