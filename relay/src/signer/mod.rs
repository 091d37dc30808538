//! The signer role: holds K3 for every epoch and wraps and unwraps data keys under the KEK of
//! [`agentkeys_core::kek`]. The KEK never leaves this module, not even to the vault: the vault
//! sees only the [`DekSigner`] interface, in process or over HTTP.

mod k3_store;
mod remote;
mod routes;

pub use k3_store::{K3Store, K3_DIR};
pub use remote::RemoteSigner;
pub use routes::router;

use agentkeys_core::envelope::{Dek, ObjectContext, VERSION, VERSION_V1};
use agentkeys_core::kek;
use agentkeys_core::{ApiError, ErrorCode};
use async_trait::async_trait;
use std::sync::Arc;

#[async_trait]
pub trait DekSigner: Send + Sync {
    /// Wraps `dek` for the object `ctx` under the current epoch, in the current envelope
    /// version; returns (epoch, wrapped).
    async fn wrap(&self, ctx: &ObjectContext<'_>, dek: &Dek) -> Result<(u32, Vec<u8>), ApiError>;
    /// Unwraps a key wrapped for envelope `version`: version 2 only for exactly `ctx`,
    /// version 1 for `ctx`'s actor and class (its operator and name are checked by the
    /// envelope's own associated data, so only the vault may ask for version 1).
    async fn unwrap(
        &self,
        version: u8,
        ctx: &ObjectContext<'_>,
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
    async fn wrap(&self, ctx: &ObjectContext<'_>, dek: &Dek) -> Result<(u32, Vec<u8>), ApiError> {
        let (epoch, k3) = self.store.current();
        Ok((epoch, kek::wrap_dek(&k3, epoch, ctx, dek)))
    }

    async fn unwrap(
        &self,
        version: u8,
        ctx: &ObjectContext<'_>,
        epoch: u32,
        wrapped: &[u8],
    ) -> Result<Dek, ApiError> {
        let k3 = self
            .store
            .get(epoch)
            .ok_or_else(|| ApiError::from_code(ErrorCode::EpochUnknown))?;
        let dek = match version {
            VERSION => kek::unwrap_dek(&k3, epoch, ctx, wrapped),
            VERSION_V1 => kek::unwrap_dek_v1(&k3, epoch, ctx.data_class, ctx.actor, wrapped),
            _ => None,
        };
        dek.ok_or_else(|| ApiError::from_code(ErrorCode::UnwrapFailed))
    }

    async fn current_epoch(&self) -> Result<u32, ApiError> {
        Ok(self.store.current().0)
    }

    async fn not_ready_reason(&self) -> Option<String> {
        None
    }
}
