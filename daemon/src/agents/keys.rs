//! Agent device keys: one keychain entry per (agent, generation), beside the device's own, so
//! an agent's key is as well kept as the device's and never shared between generations.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use agentkeys_core::device_key::DeviceKey;
use agentkeys_core::error::{ApiError, ErrorCode};

use crate::identity::Identity;
use crate::keychain::{DeviceKeyStore, KeychainConfig};

pub struct AgentKeys {
    base: KeychainConfig,
    opened: Mutex<HashMap<(String, u32), Arc<Identity>>>,
}

impl AgentKeys {
    pub fn new(base: KeychainConfig) -> AgentKeys {
        AgentKeys {
            base,
            opened: Mutex::new(HashMap::new()),
        }
    }

    fn config(&self, name: &str, generation: u32) -> KeychainConfig {
        let dir = self
            .base
            .file_dir
            .parent()
            .map(|p| p.to_path_buf())
            .unwrap_or_else(|| self.base.file_dir.clone());
        KeychainConfig {
            mode: self.base.mode,
            service: self.base.service.clone(),
            account: format!("{}-agent-{name}-{generation}", self.base.account),
            file_dir: dir.join(format!("agent-{name}-{generation}")),
        }
    }

    async fn identity(&self, name: &str, generation: u32) -> Result<Arc<Identity>, ApiError> {
        let slot = (name.to_string(), generation);
        if let Some(id) = self
            .opened
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&slot)
        {
            return Ok(id.clone());
        }
        let config = self.config(name, generation);
        let store = tokio::task::spawn_blocking(move || DeviceKeyStore::open(&config))
            .await
            .map_err(|_| ApiError::new(ErrorCode::Internal, "the keychain task failed"))?
            .map_err(|e| {
                ApiError::new(
                    ErrorCode::KeychainUnavailable,
                    format!("no keychain for the agent's key: {e} [{}]", e.code()),
                )
            })?;
        let id = Arc::new(Identity::new(store));
        self.opened
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(slot, id.clone());
        Ok(id)
    }

    /// The agent's key, created when it has none yet.
    pub async fn ensure(&self, name: &str, generation: u32) -> Result<Arc<DeviceKey>, ApiError> {
        Ok(self
            .identity(name, generation)
            .await?
            .ensure(false)
            .await?
            .0)
    }

    /// The agent's key; `agent_not_found` when the keychain has none.
    pub async fn load(&self, name: &str, generation: u32) -> Result<Arc<DeviceKey>, ApiError> {
        self.identity(name, generation)
            .await?
            .key()
            .await?
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::AgentNotFound,
                    format!("the keychain holds no key for agent {name} (generation {generation})"),
                )
            })
    }
}
