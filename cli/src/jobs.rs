//! Operations that wait for a passkey: the daemon answers with a job, and the CLI follows it,
//! showing each ceremony page as it comes (the operation in words, the role and RP ID, and
//! the page's address in case the browser did not open), until the job's result or refusal.

use std::collections::HashSet;
use std::time::Duration;

use agentkeys_core::daemon_api::{CeremonyPrompt, JobStarted, JobState, JobView};
use agentkeys_core::error::ErrorCode;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::daemon_client::DaemonClient;
use crate::error::CliError;
use crate::output;

/// Longer than the daemon's 25 s long poll.
const POLL_TIMEOUT: Duration = Duration::from_secs(40);

pub async fn run<Req: Serialize, T: DeserializeOwned>(
    client: &DaemonClient,
    path: &str,
    req: &Req,
) -> Result<T, CliError> {
    let started: JobStarted = client.post(path, req).await?;
    let poller = DaemonClient::new(client.socket().to_path_buf()).with_timeout(POLL_TIMEOUT);
    let mut after = 0;
    let mut shown = HashSet::new();
    loop {
        let view: JobView = poller
            .get(&format!("/v1/jobs/{}?after={after}", started.job))
            .await?;
        after = view.seq;
        if let Some(c) = &view.ceremony {
            if shown.insert(c.url.clone()) {
                prompt(c);
            }
        }
        if let Some(n) = &view.notice {
            if shown.insert(n.clone()) {
                output::note(n);
            }
        }
        match view.state {
            JobState::Running => continue,
            JobState::Done => {
                let value = view.result.unwrap_or(serde_json::Value::Null);
                return serde_json::from_value(value).map_err(|e| {
                    CliError::new(
                        ErrorCode::Internal,
                        format!("the daemon's result is not the expected JSON: {e}"),
                    )
                });
            }
            JobState::Failed => {
                return Err(match view.error {
                    Some(body) => CliError::from_body(body),
                    None => CliError::new(ErrorCode::Internal, "the operation failed"),
                })
            }
        }
    }
}

fn prompt(c: &CeremonyPrompt) {
    let how = match &c.opened_with {
        Some(program) => format!("approve in the browser ({program} opened the page)"),
        None => "open this page in a browser on this machine to approve".to_string(),
    };
    output::note(&format!(
        "passkey needed [{} · {}]: {}\n  {how}:\n  {}",
        c.role, c.rp_id, c.operation, c.url
    ));
}
