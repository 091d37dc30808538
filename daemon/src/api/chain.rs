//! `GET /v1/chain/status[?rpc_url=URL]`: the relay's chain, and this device's entry on it.
//! With an RPC URL (or the daemon's `chain_rpc_url`) the device's record and its operator's
//! devices are also read from the chain itself, and any difference from the relay's account
//! is refused with `chain_view_mismatch`.

use agentkeys_core::chain::{ChainCheck, ChainStatusReport};
use agentkeys_core::error::{ApiError, ErrorCode};
use axum::extract::{Query, State};
use axum::http::Uri;
use axum::Json;
use serde::Deserialize;

use super::ApiResult;
use crate::chain_direct::{mismatch, DirectChain};
use crate::state::{AppState, SharedState};

#[derive(Deserialize)]
struct StatusQuery {
    rpc_url: Option<String>,
}

pub async fn status(State(state): State<SharedState>, uri: Uri) -> ApiResult<ChainStatusReport> {
    let q = Query::<StatusQuery>::try_from_uri(&uri)
        .map_err(|_| ApiError::new(ErrorCode::BadRequest, "rpc_url must be a URL"))?;
    let chain = state.relay.chain_status().await?;
    let key = state.identity.key().await?;
    let device = match &key {
        Some(key) => state.relay.chain_device(&key.address()).await?,
        None => None,
    };
    let checked = match direct(&state, q.0.rpc_url).await? {
        None => None,
        Some(direct) => {
            let pin = state.relay.pinned().await?;
            if chain.contracts != pin.contracts {
                return Err(mismatch(
                    "the relay now names other contracts than the ones pinned at `agentkeys init`",
                )
                .into());
            }
            let own = match &key {
                Some(key) => direct.device(key.address().device_key_hash()).await?,
                None => None,
            };
            if own != device {
                return Err(mismatch(format!(
                    "this device's record at {} is {}, the relay says {}",
                    direct.url(),
                    describe(own.as_ref()),
                    describe(device.as_ref())
                ))
                .into());
            }
            let operator_devices = match &own {
                Some(d) => direct.operator_devices(&d.operator).await?,
                None => Vec::new(),
            };
            Some(ChainCheck {
                rpc_url: direct.url().to_string(),
                chain_id: direct.chain_id,
                block_number: direct.block_number().await?,
                device: own,
                operator_devices,
            })
        }
    };
    Ok(Json(ChainStatusReport {
        chain,
        device,
        checked,
    }))
}

fn describe(d: Option<&agentkeys_core::chain::DeviceView>) -> String {
    match d {
        None => "absent".into(),
        Some(d) => format!(
            "operator {}, roles {}, {}",
            d.operator,
            d.roles,
            if d.revoked { "revoked" } else { "active" }
        ),
    }
}

/// The chain node asked for, else the configured one, connected and checked against the pin.
pub(crate) async fn direct(
    state: &AppState,
    asked: Option<String>,
) -> Result<Option<DirectChain>, ApiError> {
    let Some(url) = asked.or_else(|| state.chain_rpc_url.clone()) else {
        return Ok(None);
    };
    let pin = state.relay.pinned().await?;
    Ok(Some(DirectChain::connect(&url, &pin).await?))
}
