//! `agents.json`: the agents this device created, each with its generation, key address and
//! actor, and the service names last set in its scope (the chain keeps only their hashes).

use std::path::{Path, PathBuf};

use agentkeys_core::error::ApiError;
use agentkeys_core::identity::{Address, Omni};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

const FILE: &str = "agents.json";

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AgentRecord {
    pub name: String,
    pub generation: u32,
    pub device: Address,
    pub actor: Omni,
    pub created_at: u64,
    /// The registration transaction was mined.
    pub registered: bool,
    pub revoked: bool,
    #[serde(default)]
    pub scope: Vec<String>,
}

#[derive(Default, Serialize, Deserialize)]
struct AgentsFile {
    agents: Vec<AgentRecord>,
}

/// Read-modify-write of the file, one change at a time.
pub struct Agents {
    path: PathBuf,
    lock: Mutex<()>,
}

impl Agents {
    pub fn new(data_dir: &Path) -> Agents {
        Agents {
            path: data_dir.join(FILE),
            lock: Mutex::new(()),
        }
    }

    pub async fn all(&self) -> Result<Vec<AgentRecord>, ApiError> {
        let _guard = self.lock.lock().await;
        Ok(self.read()?.agents)
    }

    /// The newest generation of `name` that is not revoked.
    pub async fn active(&self, name: &str) -> Result<Option<AgentRecord>, ApiError> {
        Ok(self
            .all()
            .await?
            .into_iter()
            .rev()
            .find(|a| a.name == name && !a.revoked))
    }

    /// Applies `change` to the list and writes it back whole; nothing is written when
    /// `change` fails.
    pub async fn update<R>(
        &self,
        change: impl FnOnce(&mut Vec<AgentRecord>) -> Result<R, ApiError>,
    ) -> Result<R, ApiError> {
        let _guard = self.lock.lock().await;
        let mut file = self.read()?;
        let out = change(&mut file.agents)?;
        super::write_json(&self.path, &file)?;
        Ok(out)
    }

    fn read(&self) -> Result<AgentsFile, ApiError> {
        Ok(super::read_json(&self.path)?.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(name: &str, generation: u32, revoked: bool) -> AgentRecord {
        AgentRecord {
            name: name.into(),
            generation,
            device: Address([generation as u8; 20]),
            actor: Omni([generation as u8; 32]),
            created_at: 1,
            registered: true,
            revoked,
            scope: vec![],
        }
    }

    #[tokio::test]
    async fn the_newest_unrevoked_generation_is_active() {
        let dir = tempfile::tempdir().unwrap();
        let agents = Agents::new(dir.path());
        agents
            .update(|list| {
                list.push(record("coder", 1, true));
                list.push(record("coder", 2, false));
                Ok(())
            })
            .await
            .unwrap();
        assert_eq!(agents.active("coder").await.unwrap().unwrap().generation, 2);
        assert_eq!(agents.active("other").await.unwrap(), None);
        let failed: Result<(), ApiError> = agents
            .update(|list| {
                list.clear();
                Err(ApiError::from_code(agentkeys_core::ErrorCode::AgentExists))
            })
            .await;
        assert!(failed.is_err());
        assert_eq!(
            agents.all().await.unwrap().len(),
            2,
            "a failed change writes nothing"
        );
    }
}
