use std::sync::{Arc, Mutex};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};

use super::harness::*;
use crate::s3server::{AccessDenied, AccessPolicy, AccessRequest, PolicyFuture, S3Op};

/// Denies anything under `secret/` and records what it was asked.
#[derive(Default)]
struct DenySecret {
    seen: Mutex<Vec<AccessRequest>>,
}

impl AccessPolicy for DenySecret {
    fn check<'a>(&'a self, req: &'a AccessRequest) -> PolicyFuture<'a> {
        if let Ok(mut seen) = self.seen.lock() {
            seen.push(req.clone());
        }
        let verdict = match &req.key_or_prefix {
            Some(k) if k.starts_with("secret/") => Err(AccessDenied::new("secret/ is off limits")),
            _ => Ok(()),
        };
        Box::pin(async move { verdict })
    }
}

#[tokio::test]
async fn policy_sees_list_prefix_keys_and_session_token() {
    let dir = tempfile::tempdir().unwrap();
    let policy = Arc::new(DenySecret::default());
    let server = TestServer::start_with(dir.path(), policy.clone()).await;
    let client = server.client_as(ACCESS_KEY, SECRET_KEY, Some("session-token-1"));
    bucket(&client, "guarded").await;
    put(&client, "guarded", "public/a", b"a").await;

    let denied = client
        .list_objects_v2()
        .bucket("guarded")
        .prefix("secret/")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_of(&denied), ("AccessDenied".into(), 403));
    let allowed = client
        .list_objects_v2()
        .bucket("guarded")
        .prefix("public/")
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.key_count(), Some(1));

    let put_denied = client
        .put_object()
        .bucket("guarded")
        .key("secret/x")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_of(&put_denied), ("AccessDenied".into(), 403));

    // Multi-delete is checked per key: the denied key is reported, the other deleted.
    let ids = ["public/a", "secret/y"]
        .iter()
        .map(|k| ObjectIdentifier::builder().key(*k).build().unwrap())
        .collect::<Vec<_>>();
    let out = client
        .delete_objects()
        .bucket("guarded")
        .delete(Delete::builder().set_objects(Some(ids)).build().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(out.deleted().len(), 1);
    assert_eq!(out.errors().len(), 1);
    assert_eq!(out.errors()[0].code(), Some("AccessDenied"));
    assert_eq!(out.errors()[0].key(), Some("secret/y"));

    let seen = policy.seen.lock().unwrap().clone();
    let list = seen
        .iter()
        .find(|r| r.op == S3Op::ListObjectsV2 && r.key_or_prefix.as_deref() == Some("secret/"))
        .expect("policy saw the list prefix");
    assert_eq!(list.bucket, "guarded");
    assert_eq!(list.access_key.as_deref(), Some(ACCESS_KEY));
    assert_eq!(list.session_token.as_deref(), Some("session-token-1"));
    assert!(!format!("{list:?}").contains("session-token-1"));
    assert!(seen
        .iter()
        .any(|r| r.op == S3Op::DeleteObjects && r.key_or_prefix.as_deref() == Some("secret/y")));
    server.stop().await;
}
