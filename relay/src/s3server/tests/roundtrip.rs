use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumMode, Delete, ObjectIdentifier};

use super::harness::*;

#[tokio::test]
async fn bucket_and_object_roundtrip() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let client = server.client();

    bucket(&client, "roundtrip").await;
    client
        .head_bucket()
        .bucket("roundtrip")
        .send()
        .await
        .unwrap();
    let again = client
        .create_bucket()
        .bucket("roundtrip")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_of(&again), ("BucketAlreadyOwnedByYou".into(), 409));
    let names: Vec<_> = client
        .list_buckets()
        .send()
        .await
        .unwrap()
        .buckets()
        .iter()
        .filter_map(|b| b.name.clone())
        .collect();
    assert_eq!(names, vec!["roundtrip".to_owned()]);

    let body: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let put = client
        .put_object()
        .bucket("roundtrip")
        .key("dir/Obj ü+1.bin")
        .content_type("application/x-test")
        .metadata("owner", "alice")
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(put.e_tag(), Some(quoted_md5(&body).as_str()));

    let (got, etag) = get(&client, "roundtrip", "dir/Obj ü+1.bin").await;
    assert_eq!(got, body);
    assert_eq!(etag, quoted_md5(&body));

    let head = client
        .head_object()
        .bucket("roundtrip")
        .key("dir/Obj ü+1.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(70_000));
    assert_eq!(head.e_tag(), Some(quoted_md5(&body).as_str()));
    assert_eq!(head.content_type(), Some("application/x-test"));
    assert_eq!(
        head.metadata()
            .and_then(|m| m.get("owner"))
            .map(String::as_str),
        Some("alice")
    );

    let ranged = client
        .get_object()
        .bucket("roundtrip")
        .key("dir/Obj ü+1.bin")
        .range("bytes=10-19")
        .send()
        .await
        .unwrap();
    assert_eq!(ranged.content_range(), Some("bytes 10-19/70000"));
    assert_eq!(
        ranged.body.collect().await.unwrap().into_bytes().as_ref(),
        &body[10..20]
    );

    let not_empty = client
        .delete_bucket()
        .bucket("roundtrip")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_of(&not_empty), ("BucketNotEmpty".into(), 409));

    client
        .delete_object()
        .bucket("roundtrip")
        .key("dir/Obj ü+1.bin")
        .send()
        .await
        .unwrap();
    let gone = client
        .get_object()
        .bucket("roundtrip")
        .key("dir/Obj ü+1.bin")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_of(&gone), ("NoSuchKey".into(), 404));
    // Deleting a missing key succeeds, as in S3.
    client
        .delete_object()
        .bucket("roundtrip")
        .key("dir/Obj ü+1.bin")
        .send()
        .await
        .unwrap();

    client
        .delete_bucket()
        .bucket("roundtrip")
        .send()
        .await
        .unwrap();
    let missing = client
        .put_object()
        .bucket("roundtrip")
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_of(&missing), ("NoSuchBucket".into(), 404));
    server.stop().await;
}

/// The default client sends a CRC32 in an aws-chunked trailer; the server verifies it,
/// stores it and returns it when asked.
#[tokio::test]
async fn default_sdk_checksums_are_verified_and_returned() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let client = server.client();
    bucket(&client, "sums").await;

    let put = client
        .put_object()
        .bucket("sums")
        .key("k")
        .body(ByteStream::from_static(b"checksummed"))
        .send()
        .await
        .unwrap();
    let crc = put
        .checksum_crc32()
        .expect("default client sends a CRC32")
        .to_owned();

    let got = client
        .get_object()
        .bucket("sums")
        .key("k")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(got.checksum_crc32(), Some(crc.as_str()));
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        b"checksummed"
    );
    server.stop().await;
}

/// A streaming body makes the SDK use signed aws-chunked encoding with a CRC32 trailer,
/// which s3s decodes and the server checks against the bytes.
#[tokio::test]
async fn streaming_upload_with_trailer_checksum() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let client = server.client();
    bucket(&client, "stream").await;
    let source = tempfile::tempdir().unwrap();
    let file = source.path().join("upload.bin");
    let body: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(&file, &body).unwrap();

    let put = client
        .put_object()
        .bucket("stream")
        .key("k")
        .body(ByteStream::from_path(&file).await.unwrap())
        .send()
        .await
        .unwrap();
    assert!(put.checksum_crc32().is_some());
    assert_eq!(put.e_tag(), Some(quoted_md5(&body).as_str()));
    assert_eq!(get(&client, "stream", "k").await.0, body);
    server.stop().await;
}

#[tokio::test]
async fn multi_delete_removes_keys() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let client = server.client();
    bucket(&client, "multi").await;
    for key in ["a", "b"] {
        put(&client, "multi", key, key.as_bytes()).await;
    }
    let ids = ["a", "b", "never-existed"]
        .iter()
        .map(|k| ObjectIdentifier::builder().key(*k).build().unwrap())
        .collect::<Vec<_>>();
    let out = client
        .delete_objects()
        .bucket("multi")
        .delete(Delete::builder().set_objects(Some(ids)).build().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(out.deleted().len(), 3);
    assert!(out.errors().is_empty());
    let left = client
        .list_objects_v2()
        .bucket("multi")
        .send()
        .await
        .unwrap();
    assert_eq!(left.key_count(), Some(0));
    server.stop().await;
}
