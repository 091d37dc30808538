use super::harness::*;

#[tokio::test]
async fn wrong_credentials_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    bucket(&server.client(), "authz").await;

    let wrong_secret = server.client_as(ACCESS_KEY, "not-the-secret", None);
    let err = wrong_secret
        .list_objects_v2()
        .bucket("authz")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_of(&err), ("SignatureDoesNotMatch".into(), 403));

    let wrong_key = server.client_as("AKIASOMEONEELSE", SECRET_KEY, None);
    let err = wrong_key
        .list_objects_v2()
        .bucket("authz")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_of(&err), ("InvalidAccessKeyId".into(), 403));

    // Unsigned requests never reach a handler.
    let url = format!("http://{}/authz?list-type=2", server.addr);
    let status = raw_get_status(&url).await;
    assert_eq!(status, 403);
    server.stop().await;
}

/// Minimal HTTP/1.1 GET without credentials, so no SDK signs it.
async fn raw_get_status(url: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8_lossy(&response);
    text.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn config_debug_redacts_secret() {
    let config = crate::s3server::EmbeddedS3Config::new("/tmp/x", "AKID", "super-secret-value");
    let shown = format!("{config:?}");
    assert!(!shown.contains("super-secret-value"), "{shown}");
    assert!(shown.contains("AKID"));
}
