use aws_sdk_s3::primitives::ByteStream;

use super::harness::*;

#[tokio::test]
async fn dot_and_empty_segments_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let client = server.client();
    bucket(&client, "keys").await;

    for key in [
        "..",
        ".",
        "a//b",
        "a/../b",
        "a/./b",
        "../escape",
        "trailing/",
    ] {
        let err = client
            .put_object()
            .bucket("keys")
            .key(key)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            error_of(&err),
            ("InvalidArgument".into(), 400),
            "key {key:?}"
        );
        let err = client
            .get_object()
            .bucket("keys")
            .key(key)
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            error_of(&err),
            ("InvalidArgument".into(), 400),
            "key {key:?}"
        );
    }

    let long = "k".repeat(1025);
    let err = client
        .put_object()
        .bucket("keys")
        .key(&long)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_of(&err), ("KeyTooLongError".into(), 400));

    // Nothing was written, and nothing escaped the bucket directory.
    let listed = client
        .list_objects_v2()
        .bucket("keys")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.key_count(), Some(0));
    let entries: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(entries.len(), 2, "{entries:?}");

    // Long keys with unusual characters are fine.
    let odd = format!("{}/Ω%..x", "Seg".repeat(300));
    put(&client, "keys", &odd, b"odd").await;
    assert_eq!(get(&client, "keys", &odd).await.0, b"odd");
    let listed = client
        .list_objects_v2()
        .bucket("keys")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.contents()[0].key(), Some(odd.as_str()));
    server.stop().await;
}
