//! Where the vault gets the broker's public keys: in process, or from the broker's JWKS URL
//! (cached; refetched when a token names an unknown kid, at most every few seconds).

use crate::internal::InternalClient;
use agentkeys_core::es256::Jwks;
use agentkeys_core::{routes, ApiError};
use async_trait::async_trait;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[async_trait]
pub trait KeySource: Send + Sync {
    async fn jwks(&self) -> Result<Jwks, ApiError>;
    /// Called when a token names a kid the cached set lacks (key rotation).
    async fn refresh(&self) -> Result<Jwks, ApiError>;
}

pub struct LocalKeys(pub Jwks);

#[async_trait]
impl KeySource for LocalKeys {
    async fn jwks(&self) -> Result<Jwks, ApiError> {
        Ok(self.0.clone())
    }
    async fn refresh(&self) -> Result<Jwks, ApiError> {
        Ok(self.0.clone())
    }
}

const MIN_REFRESH: Duration = Duration::from_secs(5);

pub struct RemoteKeys {
    client: InternalClient,
    cache: Mutex<Option<(Jwks, Instant)>>,
}

impl RemoteKeys {
    pub fn new(client: InternalClient) -> RemoteKeys {
        RemoteKeys {
            client,
            cache: Mutex::new(None),
        }
    }

    async fn fetch(&self) -> Result<Jwks, ApiError> {
        let jwks: Jwks = self.client.get(routes::JWKS).await?;
        if let Ok(mut c) = self.cache.lock() {
            *c = Some((jwks.clone(), Instant::now()));
        }
        Ok(jwks)
    }
}

#[async_trait]
impl KeySource for RemoteKeys {
    async fn jwks(&self) -> Result<Jwks, ApiError> {
        let cached = self
            .cache
            .lock()
            .ok()
            .and_then(|c| c.as_ref().map(|(j, _)| j.clone()));
        match cached {
            Some(j) => Ok(j),
            None => self.fetch().await,
        }
    }

    async fn refresh(&self) -> Result<Jwks, ApiError> {
        let recent = self.cache.lock().ok().and_then(|c| {
            c.as_ref()
                .filter(|(_, at)| at.elapsed() < MIN_REFRESH)
                .map(|(j, _)| j.clone())
        });
        match recent {
            // A flood of unknown kids must not turn into a flood of JWKS fetches.
            Some(j) => Ok(j),
            None => self.fetch().await,
        }
    }
}
