//! The caller's own storage credentials for vault requests, minted only once a vault asks for
//! them (`caller_credentials_required`) and reused until shortly before they expire.

use std::collections::HashMap;
use std::sync::Mutex;

use agentkeys_core::cloud::{
    AwsCredsRequest, AwsCredsResponse, CALLER_ACCESS_KEY_HEADER, CALLER_SECRET_KEY_HEADER,
    CALLER_SESSION_TOKEN_HEADER,
};
use agentkeys_core::device_key::DeviceKey;
use agentkeys_core::error::ApiError;
use agentkeys_core::identity::Address;
use agentkeys_core::names::DataClass;
use agentkeys_core::routes;
use agentkeys_core::time_util::now_secs;

use super::RelayClient;

/// Credentials are replaced this long before they expire.
const MARGIN_SECS: u64 = 120;

#[derive(Default)]
pub(crate) struct StorageCreds {
    by_actor: Mutex<HashMap<(Address, DataClass), AwsCredsResponse>>,
}

impl StorageCreds {
    pub(crate) fn cached(&self, device: &Address, dc: DataClass) -> Option<AwsCredsResponse> {
        let map = self.by_actor.lock().ok()?;
        map.get(&(*device, dc))
            .filter(|c| now_secs() + MARGIN_SECS < c.expiration)
            .cloned()
    }

    fn put(&self, device: Address, dc: DataClass, c: AwsCredsResponse) {
        if let Ok(mut map) = self.by_actor.lock() {
            map.insert((device, dc), c);
        }
    }

    pub(crate) fn clear(&self) {
        if let Ok(mut map) = self.by_actor.lock() {
            map.clear();
        }
    }
}

/// The three headers of a vault request.
pub(crate) fn headers(c: &AwsCredsResponse) -> [(&'static str, &str); 3] {
    [
        (CALLER_ACCESS_KEY_HEADER, c.access_key_id.as_str()),
        (CALLER_SECRET_KEY_HEADER, c.secret_access_key.as_str()),
        (CALLER_SESSION_TOKEN_HEADER, c.session_token.as_str()),
    ]
}

impl RelayClient {
    /// Fresh storage credentials of `key`'s actor for `dc`, cached.
    pub(crate) async fn storage_creds(
        &self,
        key: &DeviceKey,
        dc: DataClass,
    ) -> Result<AwsCredsResponse, ApiError> {
        let device = key.address();
        if let Some(c) = self.storage.cached(&device, dc) {
            return Ok(c);
        }
        let req = AwsCredsRequest {
            data_class: dc,
            duration_secs: None,
        };
        let c: AwsCredsResponse = self.post_session(key, routes::MINT_AWS_CREDS, &req).await?;
        self.storage.put(device, dc, c.clone());
        Ok(c)
    }
}
