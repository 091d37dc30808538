use super::harness::*;

#[tokio::test]
async fn list_with_prefix_and_delimiter() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let client = server.client();
    bucket(&client, "lists").await;
    for key in ["docs/a", "docs/b", "docs/sub/c", "img/x", "top", "Upper"] {
        put(&client, "lists", key, key.as_bytes()).await;
    }

    let out = client
        .list_objects_v2()
        .bucket("lists")
        .prefix("docs/")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let keys: Vec<_> = out
        .contents()
        .iter()
        .filter_map(|o| o.key.clone())
        .collect();
    let prefixes: Vec<_> = out
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix.clone())
        .collect();
    assert_eq!(keys, ["docs/a", "docs/b"]);
    assert_eq!(prefixes, ["docs/sub/"]);
    assert_eq!(out.contents()[0].size(), Some(6));
    assert_eq!(
        out.contents()[0].e_tag(),
        Some(quoted_md5(b"docs/a").as_str())
    );

    let root = client
        .list_objects_v2()
        .bucket("lists")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let keys: Vec<_> = root
        .contents()
        .iter()
        .filter_map(|o| o.key.clone())
        .collect();
    let prefixes: Vec<_> = root
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix.clone())
        .collect();
    // Byte order: upper case sorts before lower case.
    assert_eq!(keys, ["Upper", "top"]);
    assert_eq!(prefixes, ["docs/", "img/"]);
    assert_eq!(root.key_count(), Some(4));

    let after = client
        .list_objects_v2()
        .bucket("lists")
        .start_after("docs/sub/c")
        .send()
        .await
        .unwrap();
    let keys: Vec<_> = after
        .contents()
        .iter()
        .filter_map(|o| o.key.clone())
        .collect();
    assert_eq!(keys, ["img/x", "top"]);
    server.stop().await;
}

#[tokio::test]
async fn list_paginates_two_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let client = server.client();
    bucket(&client, "pages").await;
    let mut expected: Vec<String> = ["e", "b", "d", "a/1", "c"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for key in &expected {
        put(&client, "pages", key, b"x").await;
    }
    expected.sort();

    let mut seen = Vec::new();
    let mut page_sizes = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = client
            .list_objects_v2()
            .bucket("pages")
            .max_keys(2)
            .set_continuation_token(token.clone())
            .send()
            .await
            .unwrap();
        page_sizes.push(out.contents().len());
        seen.extend(out.contents().iter().filter_map(|o| o.key.clone()));
        assert_eq!(
            out.is_truncated(),
            Some(out.next_continuation_token().is_some())
        );
        token = out.next_continuation_token.clone();
        if token.is_none() {
            break;
        }
    }
    assert_eq!(page_sizes, [2, 2, 1]);
    assert_eq!(seen, expected);

    let bad = client
        .list_objects_v2()
        .bucket("pages")
        .continuation_token("not a token")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_of(&bad), ("InvalidArgument".into(), 400));
    server.stop().await;
}
