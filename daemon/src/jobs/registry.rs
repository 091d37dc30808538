//! The job table: one watch channel per job, bounded in number and in lifetime.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use agentkeys_core::daemon_api::{CeremonyPrompt, JobState, JobView};
use agentkeys_core::error::{ApiError, ErrorCode};
use rand::RngCore;
use serde::Serialize;
use tokio::sync::watch;

/// How long a finished job stays readable.
const KEEP_FINISHED: Duration = Duration::from_secs(600);
/// Jobs at once (running or kept); a runaway client cannot grow the daemon without bound.
const MAX_JOBS: usize = 256;

struct Entry {
    view: watch::Receiver<JobView>,
    finished_at: Option<Instant>,
}

#[derive(Default)]
pub struct Jobs {
    table: Arc<Mutex<HashMap<String, Entry>>>,
}

/// What a running job reports; every call bumps the job's sequence number.
#[derive(Clone)]
pub struct Progress {
    tx: Arc<watch::Sender<JobView>>,
}

impl Progress {
    /// A new step, in words; clears the ceremony prompt.
    pub fn step(&self, message: impl Into<String>) {
        let message = message.into();
        self.tx.send_modify(|v| {
            v.seq += 1;
            v.message = Some(message);
            v.ceremony = None;
        });
    }

    /// The person must act elsewhere (approve on another device); the CLI shows it.
    pub fn notice(&self, message: impl Into<String>) {
        let message = message.into();
        self.tx.send_modify(|v| {
            v.seq += 1;
            v.message = Some(message.clone());
            v.ceremony = None;
            v.notice = Some(message);
        });
    }

    /// A ceremony page now waits for the person.
    pub fn ceremony(&self, prompt: CeremonyPrompt) {
        self.tx.send_modify(|v| {
            v.seq += 1;
            v.message = Some(format!("waiting for the passkey: {}", prompt.operation));
            v.ceremony = Some(prompt);
        });
    }

    fn finish(&self, outcome: Result<serde_json::Value, ApiError>) {
        self.tx.send_modify(|v| {
            v.seq += 1;
            v.ceremony = None;
            match outcome {
                Ok(value) => {
                    v.state = JobState::Done;
                    v.result = Some(value);
                }
                Err(e) => {
                    v.state = JobState::Failed;
                    v.error = Some(e.to_body());
                }
            }
        });
    }
}

impl Jobs {
    /// Starts `work` in its own task; the job id to poll.
    pub fn spawn<T, F, Fut>(&self, work: F) -> Result<String, ApiError>
    where
        T: Serialize + Send + 'static,
        F: FnOnce(Progress) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, ApiError>> + Send + 'static,
    {
        let id = random_id();
        let (tx, rx) = watch::channel(JobView {
            job: id.clone(),
            seq: 0,
            state: JobState::Running,
            message: None,
            ceremony: None,
            notice: None,
            result: None,
            error: None,
        });
        {
            let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
            table.retain(|_, e| e.finished_at.is_none_or(|t| t.elapsed() < KEEP_FINISHED));
            if table.len() >= MAX_JOBS {
                return Err(ApiError::new(
                    ErrorCode::Timeout,
                    "too many operations are waiting for a passkey; finish or cancel them first",
                ));
            }
            table.insert(
                id.clone(),
                Entry {
                    view: rx,
                    finished_at: None,
                },
            );
        }
        let progress = Progress { tx: Arc::new(tx) };
        let table = self.table.clone();
        let job = id.clone();
        tokio::spawn(async move {
            // The work runs in its own task so that a panic in it still finishes the job.
            let outcome = match tokio::spawn(work(progress.clone())).await {
                Ok(Ok(value)) => serde_json::to_value(value).map_err(|e| {
                    ApiError::new(
                        ErrorCode::Internal,
                        format!("cannot encode the result: {e}"),
                    )
                }),
                Ok(Err(e)) => Err(e),
                Err(_) => Err(ApiError::new(ErrorCode::Internal, "the operation failed")),
            };
            if let Err(e) = &outcome {
                tracing::info!(job, code = %e.code, "job failed");
            }
            progress.finish(outcome);
            if let Some(e) = table
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get_mut(&job)
            {
                e.finished_at = Some(Instant::now());
            }
        });
        Ok(id)
    }

    /// The job's state once its sequence number passes `after`, or after `wait`, whichever
    /// comes first.
    pub async fn poll(&self, id: &str, after: u64, wait: Duration) -> Result<JobView, ApiError> {
        let mut rx = {
            let table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
            match table.get(id) {
                Some(e) if e.finished_at.is_none_or(|t| t.elapsed() < KEEP_FINISHED) => {
                    e.view.clone()
                }
                _ => return Err(ErrorCode::JobNotFound.into()),
            }
        };
        let _ = tokio::time::timeout(wait, rx.wait_for(|v| v.seq > after)).await;
        let view = rx.borrow().clone();
        Ok(view)
    }
}

fn random_id() -> String {
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}
