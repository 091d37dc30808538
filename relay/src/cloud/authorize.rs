//! Who may mint: a session of a device the chain holds as active with CAP_MINT, acting as the
//! operator and actor the chain gives it.

use agentkeys_core::chain::roles;
use agentkeys_core::session::SessionClaims;
use agentkeys_core::{ApiError, ErrorCode};
use axum::http::HeaderMap;

use crate::broker::Broker;

pub async fn session(broker: &Broker, headers: &HeaderMap) -> Result<SessionClaims, ApiError> {
    let s = broker.session(headers)?;
    let device = broker
        .authority
        .device(&s.sub)
        .await?
        .ok_or(ErrorCode::DeviceNotRegistered)?;
    if device.revoked {
        return Err(ErrorCode::DeviceRevoked.into());
    }
    if device.roles & roles::CAP_MINT == 0 {
        return Err(ErrorCode::DeviceLacksRole.into());
    }
    if device.operator != s.opr {
        return Err(ErrorCode::OperatorMismatch.into());
    }
    if device.actor != s.act {
        return Err(ErrorCode::ActorNotPermitted.into());
    }
    Ok(s)
}
