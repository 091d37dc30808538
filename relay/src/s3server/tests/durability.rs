use super::harness::*;

#[tokio::test]
async fn objects_survive_restart() {
    let dir = tempfile::tempdir().unwrap();
    let first = TestServer::start(dir.path()).await;
    let client = first.client();
    bucket(&client, "durable").await;
    let body: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    let etag = put(&client, "durable", "a/b/c", &body).await;
    put(&client, "durable", "deleted", b"gone soon").await;
    client
        .delete_object()
        .bucket("durable")
        .key("deleted")
        .send()
        .await
        .unwrap();
    first.stop().await;

    // A leftover from an upload that crashed mid-write must not survive or show up.
    std::fs::write(dir.path().join(".tmp").join("stale.tmp"), b"partial").unwrap();

    let second = TestServer::start(dir.path()).await;
    let client = second.client();
    let (bytes, etag_after) = get(&client, "durable", "a/b/c").await;
    assert_eq!(bytes, body);
    assert_eq!(etag_after, etag);
    let listed = client
        .list_objects_v2()
        .bucket("durable")
        .send()
        .await
        .unwrap();
    let keys: Vec<_> = listed
        .contents()
        .iter()
        .filter_map(|o| o.key.clone())
        .collect();
    assert_eq!(keys, ["a/b/c"]);
    assert_eq!(
        std::fs::read_dir(dir.path().join(".tmp")).unwrap().count(),
        0
    );
    second.stop().await;
}
