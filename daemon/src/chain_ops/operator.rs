//! Chain reads the passkey operations need: the operator's nonce and masters, an agent's
//! scope and its nonce.

use agentkeys_core::chain::{OperatorView, ScopeView};
use agentkeys_core::error::ApiError;
use agentkeys_core::identity::Omni;

use crate::relay_client::RelayClient;

pub async fn operator(relay: &RelayClient, operator: &Omni) -> Result<OperatorView, ApiError> {
    relay
        .get_public(&format!("/v1/chain/operator/{operator}"))
        .await
}

pub async fn scope(
    relay: &RelayClient,
    operator: &Omni,
    actor: &Omni,
) -> Result<ScopeView, ApiError> {
    relay
        .get_public(&format!("/v1/chain/scope/{operator}/{actor}"))
        .await
}
