//! `POST /v1/aws/creds`: temporary cloud credentials for this device or, with a per-child
//! token, for the agent the request acts as (`agentkeys aws exec --agent`).

use agentkeys_core::cloud::{AwsCredsRequest, AwsCredsResponse};
use agentkeys_core::routes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;

use super::{acting, ApiJson, ApiResult};
use crate::state::SharedState;

pub async fn creds(
    State(state): State<SharedState>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<AwsCredsRequest>,
) -> ApiResult<AwsCredsResponse> {
    let key = acting::signer_key(&state, &headers, false).await?;
    let resp = state
        .relay
        .post_session(&key, routes::MINT_AWS_CREDS, &req)
        .await?;
    Ok(Json(resp))
}
