//! `GET /v1/jobs/{job}?after=<seq>`: a job's state once it changes past `after` (or after
//! 25 s, so the CLI's request never outlives its own timeout).

use std::time::Duration;

use agentkeys_core::daemon_api::JobView;
use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Deserialize;

use super::ApiResult;
use crate::state::SharedState;

const LONG_POLL: Duration = Duration::from_secs(25);

#[derive(Deserialize)]
pub struct After {
    #[serde(default)]
    after: u64,
}

pub async fn poll(
    State(state): State<SharedState>,
    Path(job): Path<String>,
    Query(q): Query<After>,
) -> ApiResult<JobView> {
    Ok(Json(state.jobs.poll(&job, q.after, LONG_POLL).await?))
}
