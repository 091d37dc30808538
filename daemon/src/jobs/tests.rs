use std::time::Duration;

use agentkeys_core::daemon_api::{CeremonyPrompt, JobState};
use agentkeys_core::error::{ApiError, ErrorCode};

use super::Jobs;

#[tokio::test]
async fn a_job_reports_its_steps_then_its_result() {
    let jobs = Jobs::default();
    let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
    let id = jobs
        .spawn(|p| async move {
            p.ceremony(CeremonyPrompt {
                url: "http://localhost:1/t".into(),
                opened_with: None,
                role: "primary".into(),
                rp_id: "localhost".into(),
                operation: "Do it".into(),
            });
            let _ = go_rx.await;
            Ok::<_, ApiError>(42)
        })
        .unwrap();
    let v = jobs.poll(&id, 0, Duration::from_secs(5)).await.unwrap();
    assert_eq!(v.state, JobState::Running);
    assert_eq!(v.ceremony.as_ref().unwrap().operation, "Do it");
    go_tx.send(()).unwrap();
    let v = jobs.poll(&id, v.seq, Duration::from_secs(5)).await.unwrap();
    assert_eq!(v.state, JobState::Done);
    assert_eq!(v.result, Some(serde_json::json!(42)));
    assert!(v.ceremony.is_none());
}

#[tokio::test]
async fn a_failure_and_an_unknown_job_have_their_codes() {
    let jobs = Jobs::default();
    let id = jobs
        .spawn(|_| async { Err::<(), _>(ApiError::from_code(ErrorCode::PasskeyRequired)) })
        .unwrap();
    let v = jobs.poll(&id, 0, Duration::from_secs(5)).await.unwrap();
    let v = if v.state == JobState::Running {
        jobs.poll(&id, v.seq, Duration::from_secs(5)).await.unwrap()
    } else {
        v
    };
    assert_eq!(v.state, JobState::Failed);
    assert_eq!(v.error.unwrap().error.code, "passkey_required");
    let e = jobs.poll("nope", 0, Duration::ZERO).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::JobNotFound);
}

#[tokio::test]
async fn a_poll_without_news_returns_after_the_wait() {
    let jobs = Jobs::default();
    let id = jobs
        .spawn(|_| async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok::<_, ApiError>(())
        })
        .unwrap();
    let v = jobs.poll(&id, 0, Duration::from_millis(50)).await.unwrap();
    assert_eq!((v.seq, v.state), (0, JobState::Running));
}
