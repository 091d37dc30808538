//! The signer reached over HTTP when it runs in another process, authenticated by the shared
//! internal token.

use super::DekSigner;
use crate::internal::InternalClient;
use agentkeys_core::envelope::{Dek, ObjectContext};
use agentkeys_core::wire::{SecretValue, UnwrapRequest, UnwrapResponse, WrapRequest, WrapResponse};
use agentkeys_core::{b64, routes, ApiError, ErrorCode};
use async_trait::async_trait;

pub struct RemoteSigner {
    client: InternalClient,
}

impl RemoteSigner {
    pub fn new(client: InternalClient) -> RemoteSigner {
        RemoteSigner { client }
    }
}

fn unavailable(e: ApiError) -> ApiError {
    if e.code == ErrorCode::RelayUnreachable {
        ApiError::new(ErrorCode::SignerUnavailable, e.message)
    } else {
        e
    }
}

#[async_trait]
impl DekSigner for RemoteSigner {
    async fn wrap(&self, ctx: &ObjectContext<'_>, dek: &Dek) -> Result<(u32, Vec<u8>), ApiError> {
        let req = WrapRequest {
            data_class: ctx.data_class,
            operator: *ctx.operator,
            actor: *ctx.actor,
            name: ctx.name.to_string(),
            dek: SecretValue::from_bytes(dek.as_bytes()),
        };
        let resp: WrapResponse = self
            .client
            .post(routes::SIGNER_WRAP, &req)
            .await
            .map_err(unavailable)?;
        let wrapped = b64::decode(&resp.wrapped)
            .ok_or_else(|| ApiError::from_code(ErrorCode::SignerUnavailable))?;
        Ok((resp.epoch, wrapped))
    }

    async fn unwrap(
        &self,
        version: u8,
        ctx: &ObjectContext<'_>,
        epoch: u32,
        wrapped: &[u8],
    ) -> Result<Dek, ApiError> {
        let req = UnwrapRequest {
            version,
            data_class: ctx.data_class,
            operator: *ctx.operator,
            actor: *ctx.actor,
            name: ctx.name.to_string(),
            epoch,
            wrapped: b64::encode(wrapped),
        };
        let resp: UnwrapResponse = self
            .client
            .post(routes::SIGNER_UNWRAP, &req)
            .await
            .map_err(unavailable)?;
        let bytes = resp
            .dek
            .decode()
            .ok_or_else(|| ApiError::from_code(ErrorCode::SignerUnavailable))?;
        Dek::from_slice(&bytes).ok_or_else(|| ApiError::from_code(ErrorCode::SignerUnavailable))
    }

    async fn current_epoch(&self) -> Result<u32, ApiError> {
        let resp: WrapResponse = self
            .client
            .post(routes::SIGNER_EPOCH, &serde_json::json!({}))
            .await
            .map_err(unavailable)?;
        Ok(resp.epoch)
    }

    async fn not_ready_reason(&self) -> Option<String> {
        match self.current_epoch().await {
            Ok(_) => None,
            Err(e) => Some(format!(
                "signer at {}: {}",
                self.client.base_url(),
                e.message
            )),
        }
    }
}
