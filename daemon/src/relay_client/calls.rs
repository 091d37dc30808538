//! Plain JSON calls to the relay beyond the vault: public chain reads, and session-bearing
//! calls (chain transactions, the operator's audit trail). A refused cached session is
//! replaced by a fresh sign-in once, as for vault calls.

use std::time::Duration;

use agentkeys_core::device_key::DeviceKey;
use agentkeys_core::error::ApiError;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::http::{decode, encode};
use super::{is_stale_token, RelayClient};

/// Reads are quick; a transaction waits for its block, which a real chain may take a while
/// to produce.
const READ_TIMEOUT: Duration = Duration::from_secs(15);

impl RelayClient {
    /// GET of a public endpoint.
    pub async fn get_public<Resp: DeserializeOwned>(&self, path: &str) -> Result<Resp, ApiError> {
        let reply = self.http.get_with(path, None, READ_TIMEOUT).await?;
        decode(path, &reply)
    }

    /// GET with the device's session.
    pub async fn get_session<Resp: DeserializeOwned>(
        &self,
        key: &DeviceKey,
        path: &str,
    ) -> Result<Resp, ApiError> {
        let address = key.address();
        let first = {
            let token = self.session_token(key, &address).await?;
            self.http.get_with(path, Some(&token), READ_TIMEOUT).await
        };
        let reply = match first {
            Err(e) if is_stale_token(&e) => {
                self.forget().await;
                let token = self.session_token(key, &address).await?;
                self.http.get_with(path, Some(&token), READ_TIMEOUT).await?
            }
            other => other?,
        };
        decode(path, &reply)
    }

    /// POST of a JSON body with the device's session.
    pub async fn post_session<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        key: &DeviceKey,
        path: &str,
        req: &Req,
    ) -> Result<Resp, ApiError> {
        let address = key.address();
        let body = encode(req)?;
        let first = {
            let token = self.session_token(key, &address).await?;
            self.http.post(path, Some(&token), None, body.clone()).await
        };
        let reply = match first {
            Err(e) if is_stale_token(&e) => {
                self.forget().await;
                let token = self.session_token(key, &address).await?;
                self.http.post(path, Some(&token), None, body).await?
            }
            other => other?,
        };
        decode(path, &reply)
    }
}
