//! The signer role: holds K3 for every epoch and wraps and unwraps data keys under
//! KEK(actor, data class, epoch). The KEK never leaves this module, not even to the vault: the
//! vault sees only the [`DekSigner`] interface, in process or over HTTP.

mod k3_store;
mod remote;
mod routes;

pub use k3_store::{K3Store, K3_DIR};
pub use remote::RemoteSigner;
pub use routes::router;

use agentkeys_core::envelope::Dek;
use agentkeys_core::identity::Omni;
use agentkeys_core::kek;
use agentkeys_core::names::DataClass;
use agentkeys_core::{ApiError, ErrorCode};
use async_trait::async_trait;
use std::sync::Arc;

#[async_trait]
pub trait DekSigner: Send + Sync {
    /// Wraps `dek` under the current epoch's KEK; returns (epoch, wrapped).
    async fn wrap(
        &self,
        dc: DataClass,
        actor: &Omni,
        dek: &Dek,
    ) -> Result<(u32, Vec<u8>), ApiError>;
    async fn unwrap(
        &self,
        dc: DataClass,
        actor: &Omni,
        epoch: u32,
        wrapped: &[u8],
    ) -> Result<Dek, ApiError>;
    async fn current_epoch(&self) -> Result<u32, ApiError>;
    /// None when ready; otherwise why not.
    async fn not_ready_reason(&self) -> Option<String>;
}

/// The signer in this process.
pub struct LocalSigner {
    store: Arc<K3Store>,
}

impl LocalSigner {
    pub fn new(store: Arc<K3Store>) -> LocalSigner {
        LocalSigner { store }
    }
}

#[async_trait]
impl DekSigner for LocalSigner {
    async fn wrap(
        &self,
        dc: DataClass,
        actor: &Omni,
        dek: &Dek,
    ) -> Result<(u32, Vec<u8>), ApiError> {
        let (epoch, k3) = self.store.current();
        Ok((epoch, kek::wrap_dek(&k3, epoch, dc, actor, dek)))
    }

    async fn unwrap(
        &self,
        dc: DataClass,
        actor: &Omni,
        epoch: u32,
        wrapped: &[u8],
    ) -> Result<Dek, ApiError> {
        let k3 = self
            .store
            .get(epoch)
            .ok_or_else(|| ApiError::from_code(ErrorCode::EpochUnknown))?;
        kek::unwrap_dek(&k3, epoch, dc, actor, wrapped)
            .ok_or_else(|| ApiError::from_code(ErrorCode::UnwrapFailed))
    }

    async fn current_epoch(&self) -> Result<u32, ApiError> {
        Ok(self.store.current().0)
    }

    async fn not_ready_reason(&self) -> Option<String> {
        None
    }
}
