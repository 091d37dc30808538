//! The device identity: K10 in the keychain, kept in memory once loaded (it zeroizes on drop).

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use agentkeys_core::device_key::DeviceKey;
use agentkeys_core::error::{ApiError, ErrorCode};
use zeroize::Zeroizing;

use crate::keychain::{DeviceKeyStore, KeychainError};
use crate::local::device::{self, DeviceRecord};

pub struct Identity {
    store: Arc<DeviceKeyStore>,
    key: RwLock<Option<Arc<DeviceKey>>>,
    /// Where `device.json` lives: set for the machine's own identity, so that a key the
    /// keychain lost is told apart from a device never initialized.
    record_dir: Option<PathBuf>,
    // Serializes `init` so two concurrent calls cannot both generate a key.
    init_lock: tokio::sync::Mutex<()>,
}

impl Identity {
    pub fn new(store: DeviceKeyStore) -> Identity {
        Identity {
            store: Arc::new(store),
            key: RwLock::new(None),
            record_dir: None,
            init_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// The machine's own identity, recorded in `<data_dir>/device.json`.
    pub fn recorded(store: DeviceKeyStore, data_dir: PathBuf) -> Identity {
        Identity {
            record_dir: Some(data_dir),
            ..Identity::new(store)
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

    /// The device key, from memory or else the keychain; `None` before `init`, and
    /// `device_key_lost` when local state names a device whose key the keychain no longer has.
    pub async fn key(&self) -> Result<Option<Arc<DeviceKey>>, ApiError> {
        if let Some(key) = self.cached() {
            return Ok(Some(key));
        }
        let loaded = self.load().await?;
        let Some(dir) = &self.record_dir else {
            return Ok(loaded.map(|k| self.remember(k)));
        };
        match (loaded, device::load(dir)?) {
            (Some(key), Some(r)) if r.address == key.address() => Ok(Some(self.remember(key))),
            (Some(key), None) => {
                // A device initialized before the record existed: record it now.
                self.record(&key)?;
                Ok(Some(self.remember(key)))
            }
            // A device from before the record, whose key is gone: its other files say it was
            // initialized (they are written only once it had a key).
            (None, None) if device::initialized_before_record(dir) => Err(ApiError::new(
                ErrorCode::DeviceKeyLost,
                format!(
                    "this machine was initialized (its daemon folder holds its passkey, agents or \
                     joined operators), but the {} keychain holds no device key. Every secret of \
                     that device needs its key: restore the keychain (or the key) if you can. \
                     `agentkeys init --new-identity` makes a new device instead; the old \
                     device's secrets stay unreadable to it",
                    self.backend()
                ),
            )),
            (None, None) => Ok(None),
            (_, Some(r)) => Err(self.lost(&r)),
        }
    }

    fn record(&self, key: &DeviceKey) -> Result<(), ApiError> {
        match &self.record_dir {
            Some(dir) => device::save(
                dir,
                &DeviceRecord {
                    address: key.address(),
                    backend: self.backend().to_string(),
                },
            ),
            None => Ok(()),
        }
    }

    fn lost(&self, r: &DeviceRecord) -> ApiError {
        ApiError::new(
            ErrorCode::DeviceKeyLost,
            format!(
                "this machine is device {} (its key was in the {} keychain), but the {} keychain                  no longer holds that key{}. Every secret of that device needs it: restore the                  keychain (or the key) if you can. `agentkeys init --new-identity` makes a new                  device instead; the old device's secrets stay unreadable to it",
                r.address,
                r.backend,
                self.backend(),
                if self.backend() == "keyutils" {
                    " (the kernel keyring forgets keys at reboot)"
                } else {
                    ""
                }
            ),
        )
    }

    /// The device key, or `not_initialized`.
    pub async fn require(&self) -> Result<Arc<DeviceKey>, ApiError> {
        self.key()
            .await?
            .ok_or_else(|| ApiError::from_code(ErrorCode::NotInitialized))
    }

    /// Loads the device key, creating one first when none exists. The bool is true when
    /// this call created it. A key the keychain lost is replaced only with `new_identity`.
    pub async fn ensure(&self, new_identity: bool) -> Result<(Arc<DeviceKey>, bool), ApiError> {
        let _guard = self.init_lock.lock().await;
        match self.key().await {
            Ok(Some(key)) => return Ok((key, false)),
            Ok(None) => {}
            Err(e) if e.code == ErrorCode::DeviceKeyLost && new_identity => {
                if let Some(key) = self.load().await? {
                    // The keychain holds another key than the recorded one: that one it is.
                    tracing::warn!(device = %key.address(), "new identity: adopting the key the keychain holds");
                    self.record(&key)?;
                    return Ok((self.remember(key), false));
                }
                tracing::warn!("new identity: the recorded device's key is gone; making another");
            }
            Err(e) => return Err(e),
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
                self.record(&key)?;
                Ok((self.remember(key), true))
            }
            // Another process (an older daemon, a test) stored one in between: use that one.
            Err(KeychainError::AlreadyExists) => match self.load().await? {
                Some(existing) => {
                    self.record(&existing)?;
                    Ok((self.remember(existing), false))
                }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keychain::{KeychainConfig, KeychainMode};

    fn store(dir: &std::path::Path) -> DeviceKeyStore {
        DeviceKeyStore::open(&KeychainConfig {
            mode: KeychainMode::File,
            service: "agentkeys-test".into(),
            account: "identity-test".into(),
            file_dir: dir.join("device"),
        })
        .unwrap()
    }

    #[tokio::test]
    async fn a_lost_key_is_not_a_fresh_device() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("daemon");
        std::fs::create_dir_all(&data).unwrap();
        let id = Identity::recorded(store(dir.path()), data.clone());
        assert!(id.key().await.unwrap().is_none());
        let (first, created) = id.ensure(false).await.unwrap();
        assert!(created);
        assert_eq!(
            device::load(&data).unwrap().unwrap().address,
            first.address()
        );

        // The keychain forgets the key.
        store(dir.path()).delete().unwrap();
        let id = Identity::recorded(store(dir.path()), data.clone());
        let e = id.key().await.unwrap_err();
        assert_eq!(e.code, ErrorCode::DeviceKeyLost);
        assert!(
            e.message.contains(&first.address().to_string()),
            "{}",
            e.message
        );
        assert_eq!(
            id.ensure(false).await.unwrap_err().code,
            ErrorCode::DeviceKeyLost
        );
        let (second, created) = id.ensure(true).await.unwrap();
        assert!(created);
        assert_ne!(second.address(), first.address());
        assert_eq!(
            device::load(&data).unwrap().unwrap().address,
            second.address()
        );
    }

    #[tokio::test]
    async fn a_device_from_before_the_record_is_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("daemon");
        std::fs::create_dir_all(&data).unwrap();
        let (key, _) = Identity::new(store(dir.path()))
            .ensure(false)
            .await
            .unwrap();
        assert!(device::load(&data).unwrap().is_none());
        let id = Identity::recorded(store(dir.path()), data.clone());
        assert_eq!(id.key().await.unwrap().unwrap().address(), key.address());
        assert_eq!(device::load(&data).unwrap().unwrap().address, key.address());
    }

    #[tokio::test]
    async fn a_device_from_before_the_record_that_lost_its_key_is_not_new() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("daemon");
        std::fs::create_dir_all(&data).unwrap();
        // No key and no record, but the daemon folder lists an agent: it was initialized.
        std::fs::write(data.join("agents.json"), "[]").unwrap();
        let id = Identity::recorded(store(dir.path()), data.clone());
        assert_eq!(id.key().await.unwrap_err().code, ErrorCode::DeviceKeyLost);
        assert_eq!(
            id.ensure(false).await.unwrap_err().code,
            ErrorCode::DeviceKeyLost
        );
        assert!(id.ensure(true).await.unwrap().1);
    }
}
