//! The device identity: K10 in the keychain, kept in memory once loaded (it zeroizes on drop).

use std::sync::{Arc, RwLock};

use agentkeys_core::device_key::DeviceKey;
use agentkeys_core::error::{ApiError, ErrorCode};
use zeroize::Zeroizing;

use crate::keychain::{DeviceKeyStore, KeychainError};

pub struct Identity {
    store: Arc<DeviceKeyStore>,
    key: RwLock<Option<Arc<DeviceKey>>>,
    // Serializes `init` so two concurrent calls cannot both generate a key.
    init_lock: tokio::sync::Mutex<()>,
}

impl Identity {
    pub fn new(store: DeviceKeyStore) -> Identity {
        Identity {
            store: Arc::new(store),
            key: RwLock::new(None),
            init_lock: tokio::sync::Mutex::new(()),
        }
    }

    pub fn backend(&self) -> &'static str {
        self.store.backend()
    }

    pub fn is_file_fallback(&self) -> bool {
        self.store.is_file_fallback()
    }

    pub fn survives_reboot(&self) -> bool {
        self.store.survives_reboot()
    }

    fn cached(&self) -> Option<Arc<DeviceKey>> {
        self.key.read().ok().and_then(|k| k.clone())
    }

    fn remember(&self, key: DeviceKey) -> Arc<DeviceKey> {
        let key = Arc::new(key);
        if let Ok(mut slot) = self.key.write() {
            *slot = Some(key.clone());
        }
        key
    }

    /// The device key, from memory or else the keychain; `None` before `init`.
    pub async fn key(&self) -> Result<Option<Arc<DeviceKey>>, ApiError> {
        if let Some(key) = self.cached() {
            return Ok(Some(key));
        }
        match self.load().await? {
            Some(key) => Ok(Some(self.remember(key))),
            None => Ok(None),
        }
    }

    /// The device key, or `not_initialized`.
    pub async fn require(&self) -> Result<Arc<DeviceKey>, ApiError> {
        self.key()
            .await?
            .ok_or_else(|| ApiError::from_code(ErrorCode::NotInitialized))
    }

    /// Loads the device key, creating one first when none exists. The bool is true when
    /// this call created it.
    pub async fn ensure(&self) -> Result<(Arc<DeviceKey>, bool), ApiError> {
        let _guard = self.init_lock.lock().await;
        if let Some(key) = self.key().await? {
            return Ok((key, false));
        }
        let key = DeviceKey::generate();
        let secret = key.to_bytes();
        let store = self.store.clone();
        let created = tokio::task::spawn_blocking(move || store.create(&secret))
            .await
            .map_err(|_| ApiError::new(ErrorCode::Internal, "the keychain task failed"))?;
        match created {
            Ok(()) => {
                tracing::info!(device = %key.address(), backend = self.backend(), "created the device key");
                Ok((self.remember(key), true))
            }
            // Another process (an older daemon, a test) stored one in between: use that one.
            Err(KeychainError::AlreadyExists) => match self.load().await? {
                Some(existing) => Ok((self.remember(existing), false)),
                None => Err(keychain_failure(&KeychainError::AlreadyExists)),
            },
            Err(e) => Err(keychain_failure(&e)),
        }
    }

    async fn load(&self) -> Result<Option<DeviceKey>, ApiError> {
        let store = self.store.clone();
        let loaded = tokio::task::spawn_blocking(move || store.load())
            .await
            .map_err(|_| ApiError::new(ErrorCode::Internal, "the keychain task failed"))?
            .map_err(|e| keychain_failure(&e))?;
        let Some(secret) = loaded else {
            return Ok(None);
        };
        let secret: Zeroizing<[u8; 32]> = secret;
        DeviceKey::from_bytes(&secret).map(Some).ok_or_else(|| {
            ApiError::new(
                ErrorCode::KeychainUnavailable,
                "the stored device key is not a valid secp256k1 key",
            )
        })
    }
}

fn keychain_failure(e: &KeychainError) -> ApiError {
    tracing::error!(error = %e, code = e.code(), "device key storage failed");
    ApiError::new(
        ErrorCode::KeychainUnavailable,
        format!("device key storage failed: {e} [{}]", e.code()),
    )
}
