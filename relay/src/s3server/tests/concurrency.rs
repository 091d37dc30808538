use aws_sdk_s3::primitives::ByteStream;

use super::harness::*;

#[tokio::test]
async fn create_only_put_succeeds_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let client = server.client();
    bucket(&client, "cond").await;

    let create = |body: &'static [u8]| {
        client
            .put_object()
            .bucket("cond")
            .key("once")
            .if_none_match("*")
            .body(ByteStream::from_static(body))
            .send()
    };
    create(b"first").await.unwrap();
    let second = create(b"second").await.unwrap_err();
    assert_eq!(error_of(&second), ("PreconditionFailed".into(), 412));
    assert_eq!(get(&client, "cond", "once").await.0, b"first");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_create_only_puts_have_one_winner() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let client = server.client();
    bucket(&client, "race").await;

    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move {
                client
                    .put_object()
                    .bucket("race")
                    .key("winner")
                    .if_none_match("*")
                    .body(ByteStream::from(format!("writer {i}").into_bytes()))
                    .send()
                    .await
                    .map_err(|e| error_of(&e))
            })
        })
        .collect();
    let mut wins = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => wins += 1,
            Err(err) => assert_eq!(err, ("PreconditionFailed".into(), 412)),
        }
    }
    assert_eq!(wins, 1);
    server.stop().await;
}

/// Writers and readers of one key interleave freely; every read is one whole version whose
/// bytes hash to the ETag it came with.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_puts_to_one_key_never_tear() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let client = server.client();
    bucket(&client, "hot").await;
    put(&client, "hot", "key", b"seed").await;

    let mut tasks = Vec::new();
    for i in 0..16u8 {
        let client = client.clone();
        // Distinct sizes and contents, large enough to span several writes.
        let body = vec![i; 100_000 + usize::from(i) * 4099];
        tasks.push(tokio::spawn(async move {
            let etag = put(&client, "hot", "key", &body).await;
            assert_eq!(etag, quoted_md5(&body));
        }));
    }
    for _ in 0..16 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..4 {
                let (bytes, etag) = get(&client, "hot", "key").await;
                assert_eq!(quoted_md5(&bytes), etag, "torn or mismatched read");
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let (bytes, etag) = get(&client, "hot", "key").await;
    assert_eq!(quoted_md5(&bytes), etag);
    assert!(bytes.len() >= 100_000 && bytes.iter().all(|&b| b == bytes[0]));
    server.stop().await;
}
