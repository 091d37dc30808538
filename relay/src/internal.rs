//! Calls between relay roles that run apart (vault → signer, vault → audit, vault → broker
//! JWKS). Authenticated with a shared token from a 0600 file, compared in constant time.

use crate::http::ApiFailure;
use crate::keys;
use agentkeys_core::error::ErrorBody;
use agentkeys_core::wire::MAX_BODY_BYTES;
use agentkeys_core::{ApiError, ErrorCode};
use axum::http::HeaderMap;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

const TOKEN_HEADER: &str = "x-agentkeys-internal-token";

#[derive(Clone)]
pub struct InternalToken(Arc<Zeroizing<String>>);

impl std::fmt::Debug for InternalToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InternalToken(redacted)")
    }
}

impl InternalToken {
    pub fn load(path: &Path) -> Result<InternalToken, String> {
        let bytes = keys::read_secret_file(path)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("{} does not exist", path.display()))?;
        let text =
            std::str::from_utf8(&bytes).map_err(|_| format!("{} is not UTF-8", path.display()))?;
        let token = text.trim();
        if token.len() < 32 {
            return Err(format!(
                "{}: the token must be at least 32 characters",
                path.display()
            ));
        }
        Ok(InternalToken(Arc::new(Zeroizing::new(token.to_string()))))
    }
}

#[derive(Clone, Debug)]
pub struct InternalAuth {
    token: InternalToken,
}

impl InternalAuth {
    pub fn new(token: InternalToken) -> InternalAuth {
        InternalAuth { token }
    }

    pub fn check(&self, headers: &HeaderMap) -> Result<(), ApiFailure> {
        let presented = headers
            .get(TOKEN_HEADER)
            .map(|v| v.as_bytes())
            .unwrap_or(b"");
        let expected = self.token.0.as_bytes();
        if presented.len() == expected.len() && bool::from(presented.ct_eq(expected)) {
            Ok(())
        } else {
            Err(ErrorCode::SignerUnauthorized.into())
        }
    }
}

#[derive(Clone)]
pub struct InternalClient {
    http: reqwest::Client,
    base: String,
    token: Option<InternalToken>,
}

impl InternalClient {
    pub fn new(base: &str, token: Option<InternalToken>) -> Result<InternalClient, String> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(15))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(InternalClient {
            http,
            base: base.trim_end_matches('/').to_string(),
            token,
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    pub async fn get<R: DeserializeOwned>(&self, path: &str) -> Result<R, ApiError> {
        let req = self.http.get(format!("{}{path}", self.base));
        self.send(req).await
    }

    pub async fn post<B: Serialize, R: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<R, ApiError> {
        let req = self.http.post(format!("{}{path}", self.base)).json(body);
        self.send(req).await
    }

    async fn send<R: DeserializeOwned>(
        &self,
        mut req: reqwest::RequestBuilder,
    ) -> Result<R, ApiError> {
        if let Some(t) = &self.token {
            req = req.header(TOKEN_HEADER, t.0.as_str());
        }
        let resp = req.send().await.map_err(|e| {
            ApiError::new(
                ErrorCode::RelayUnreachable,
                format!(
                    "{} unreachable: {}",
                    self.base,
                    if e.is_timeout() {
                        "timed out"
                    } else {
                        "connection failed"
                    }
                ),
            )
        })?;
        let status = resp.status();
        if resp
            .content_length()
            .is_some_and(|l| l as usize > MAX_BODY_BYTES)
        {
            return Err(ApiError::new(
                ErrorCode::RelayProtocol,
                "response too large",
            ));
        }
        let bytes = resp.bytes().await.map_err(|_| {
            ApiError::new(
                ErrorCode::RelayUnreachable,
                format!("{}: response interrupted", self.base),
            )
        })?;
        if bytes.len() > MAX_BODY_BYTES {
            return Err(ApiError::new(
                ErrorCode::RelayProtocol,
                "response too large",
            ));
        }
        if status.is_success() {
            serde_json::from_slice(&bytes).map_err(|_| {
                ApiError::new(
                    ErrorCode::RelayProtocol,
                    format!("{}: unexpected response", self.base),
                )
            })
        } else {
            match serde_json::from_slice::<ErrorBody>(&bytes) {
                Ok(body) => Err(body.into_api_error()),
                Err(_) => Err(ApiError::new(
                    ErrorCode::RelayProtocol,
                    format!("{} answered HTTP {status}", self.base),
                )),
            }
        }
    }
}
