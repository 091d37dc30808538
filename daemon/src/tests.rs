//! The socket server end to end, in process: a real socket in a temp folder, the file
//! keychain in a temp folder, and a relay URL nothing listens on.

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use agentkeys_core::wire::MAX_BODY_BYTES;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::UnixStream;

use crate::identity::Identity;
use crate::keychain::{DeviceKeyStore, KeychainConfig, KeychainMode};
use crate::relay_client::RelayClient;
use crate::shutdown::Shutdown;
use crate::socket::{SocketError, SocketServer};
use crate::state::AppState;

const DEAD_RELAY: &str = "http://127.0.0.1:9";

struct Harness {
    _dir: tempfile::TempDir,
    socket: PathBuf,
    pid_file: PathBuf,
    shutdown: Shutdown,
    task: tokio::task::JoinHandle<()>,
}

async fn start() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("run").join("daemon.sock");
    let pid_file = dir.path().join("state").join("daemon.pid");
    let store = DeviceKeyStore::open(&KeychainConfig {
        mode: KeychainMode::File,
        service: "agentkeys-test".into(),
        account: "socket-test".into(),
        file_dir: dir.path().join("device"),
    })
    .unwrap();
    let shutdown = Shutdown::new();
    let state = Arc::new(AppState::new(
        Identity::new(store),
        RelayClient::new(DEAD_RELAY).unwrap(),
        shutdown.clone(),
        crate::ceremony::Role::Primary,
        dir.path().join("daemon"),
        crate::keychain::KeychainConfig::new(
            crate::keychain::KeychainMode::File,
            dir.path().join("device"),
        ),
    ));
    let server = SocketServer::bind(&socket, &pid_file).await.unwrap();
    let task = tokio::spawn(server.serve(state, shutdown.clone()));
    Harness {
        _dir: dir,
        socket,
        pid_file,
        shutdown,
        task,
    }
}

async fn call(socket: &Path, method: &str, path: &str, body: impl Into<Bytes>) -> (u16, Value) {
    let stream = UnixStream::connect(socket).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "daemon")
        .header("content-type", "application/json")
        .body(Full::new(body.into()))
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, value)
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("<no code>")
}

#[tokio::test]
async fn socket_api() {
    let h = start().await;

    let socket_mode = std::fs::metadata(&h.socket).unwrap().permissions().mode();
    assert_eq!(socket_mode & 0o777, 0o600);
    let dir_mode = std::fs::metadata(h.socket.parent().unwrap())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(dir_mode & 0o777, 0o700);
    let pid = std::fs::read_to_string(&h.pid_file).unwrap();
    assert_eq!(pid.trim(), std::process::id().to_string());

    let (status, body) = call(&h.socket, "GET", "/v1/status", "").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["initialized"], false);
    assert_eq!(body["relay_url"], DEAD_RELAY);
    assert_eq!(body["relay_reachable"], false);
    assert_eq!(body["keychain_backend"], "encrypted-file");
    assert_eq!(body["keychain_fallback"], true);

    let (status, body) = call(&h.socket, "POST", "/v1/secrets/store", "{not json").await;
    assert_eq!((status, code(&body)), (400, "invalid_json"));
    let wrong_shape = json!({"name": "x", "value": 5}).to_string();
    let (status, body) = call(&h.socket, "POST", "/v1/secrets/store", wrong_shape).await;
    assert_eq!((status, code(&body)), (400, "invalid_json"));

    let big = vec![b' '; MAX_BODY_BYTES + 1];
    let (status, body) = call(&h.socket, "POST", "/v1/secrets/store", big).await;
    assert_eq!((status, code(&body)), (413, "body_too_large"));

    let (status, body) = call(&h.socket, "GET", "/v1/nope", "").await;
    assert_eq!((status, code(&body)), (404, "route_not_found"));
    // No socket API signs a challenge its caller chose: a companion approves only relay
    // requests whose challenge it recomputes.
    let raw = r#"{"operation":"anything","challenge":"0x0909090909090909090909090909090909090909090909090909090909090909"}"#;
    let (status, body) = call(&h.socket, "POST", "/v1/companion/approve", raw).await;
    assert_eq!((status, code(&body)), (404, "route_not_found"));
    let (status, body) = call(&h.socket, "GET", "/v1/secrets/read", "").await;
    assert_eq!((status, code(&body)), (405, "method_not_allowed"));

    let read = json!({"name": "openrouter"}).to_string();
    let (status, body) = call(&h.socket, "POST", "/v1/secrets/read", read.clone()).await;
    assert_eq!((status, code(&body)), (409, "not_initialized"));
    let bad_name = json!({"name": "../etc"}).to_string();
    let (status, body) = call(&h.socket, "POST", "/v1/secrets/read", bad_name).await;
    assert_eq!((status, code(&body)), (400, "invalid_service_name"));
    let empty = json!({"name": "a", "value": ""}).to_string();
    let (status, body) = call(&h.socket, "POST", "/v1/secrets/store", empty).await;
    assert_eq!((status, code(&body)), (400, "invalid_value"));

    // init creates the key, then cannot sign in; the key stays.
    let (status, body) = call(&h.socket, "POST", "/v1/init", r#"{"passkey": false}"#).await;
    assert_eq!(status, 200, "{body}");
    let job = body["job"].as_str().unwrap().to_string();
    let body = loop {
        let (_, v) = call(&h.socket, "GET", &format!("/v1/jobs/{job}?after=0"), "").await;
        if v["state"] != "running" {
            break v;
        }
    };
    assert_eq!(body["state"], "failed", "{body}");
    let body = body["error"].clone();
    assert_eq!(body["error"]["code"], "relay_unreachable", "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains(DEAD_RELAY));
    let (_, body) = call(&h.socket, "GET", "/v1/status", "").await;
    assert_eq!(body["initialized"], true);
    assert!(body["device"].as_str().unwrap().starts_with("0x"));
    assert_eq!(body["operator"].as_str().unwrap().len(), 64);

    let (status, body) = call(&h.socket, "POST", "/v1/secrets/read", read).await;
    assert_eq!((status, code(&body)), (502, "relay_unreachable"));
    let (status, body) = call(&h.socket, "POST", "/v1/secrets/list", "{}").await;
    assert_eq!((status, code(&body)), (502, "relay_unreachable"));

    // A second daemon on the same socket refuses to start.
    let other_pid = h.pid_file.with_file_name("other.pid");
    match SocketServer::bind(&h.socket, &other_pid).await {
        Err(SocketError::AlreadyRunning(_)) => {}
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("a second daemon bound the same socket"),
    }

    let (status, body) = call(&h.socket, "POST", "/v1/shutdown", "").await;
    assert_eq!((status, &body["stopping"]), (200, &json!(true)));
    tokio::time::timeout(std::time::Duration::from_secs(10), h.task)
        .await
        .unwrap()
        .unwrap();
    assert!(!h.socket.exists());
    assert!(!h.pid_file.exists());
    drop(h.shutdown);
}

/// A secret sent in the wrong type, under an unknown field or as an enum value is refused with
/// `invalid_json`, and the refusal never repeats it.
#[tokio::test]
async fn invalid_json_never_echoes_a_value() {
    let h = start().await;
    let secret = "sk-live-5e6f7a8b";
    for (path, body) in [
        (
            "/v1/secrets/store",
            json!({"name": "x", "value": 5, secret: 1}),
        ),
        ("/v1/secrets/store", json!({"name": ["x"], "value": "eA=="})),
        ("/v1/secrets/read", json!({"name": 1, "extra": secret})),
        ("/v1/secrets/read", json!({"name": "x", secret: "y"})),
        ("/v1/aws/creds", json!({"data_class": secret})),
        (
            "/v1/aws/creds",
            json!({"data_class": "memory", "duration_secs": secret}),
        ),
        ("/v1/init", json!({"passkey": secret})),
    ] {
        let (status, v) = call(&h.socket, "POST", path, body.to_string()).await;
        assert_eq!(
            (status, code(&v)),
            (400, "invalid_json"),
            "{path} {body}: {v}"
        );
        assert!(!v.to_string().contains("5e6f7a8b"), "{path}: {v}");
    }
    h.shutdown.trigger();
}

#[tokio::test]
async fn stale_socket_is_replaced_and_a_loose_or_linked_folder_refused() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o755)).unwrap();
    let socket = run.join("daemon.sock");
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    assert!(std::fs::symlink_metadata(&socket)
        .unwrap()
        .file_type()
        .is_socket());

    // A folder open to others is refused as it is, not tightened: whoever could write there
    // may already have planted something.
    let pid_file = dir.path().join("daemon.pid");
    for result in [
        crate::socket::refuse_if_running(&socket).await,
        SocketServer::bind(&socket, &pid_file).await.map(drop),
    ] {
        let err = result.unwrap_err();
        assert!(matches!(err, SocketError::Dir(_)), "{err}");
        assert!(err.to_string().contains("(runtime_dir_insecure)"), "{err}");
        assert!(err.to_string().contains("mode 0755"), "{err}");
    }
    let mode = std::fs::metadata(&run).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o755);

    // A link to a private folder is refused too, and nothing is made through it.
    let linked = dir.path().join("linked");
    std::os::unix::fs::symlink(&run, &linked).unwrap();
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700)).unwrap();
    let err = SocketServer::bind(&linked.join("daemon.sock"), &pid_file)
        .await
        .map(drop)
        .unwrap_err();
    assert!(err.to_string().contains("symbolic link"), "{err}");
    assert!(!pid_file.exists());

    let server = SocketServer::bind(&socket, &pid_file).await.unwrap();
    drop(server);

    let file = run.join("not-a-socket");
    std::fs::write(&file, b"x").unwrap();
    assert!(matches!(
        SocketServer::bind(&file, &dir.path().join("daemon.pid")).await,
        Err(SocketError::NotASocket(_))
    ));
}

#[tokio::test]
async fn other_users_are_refused() {
    use tower::ServiceExt;
    let req = http::Request::builder()
        .uri("/v1/status")
        .body(axum::body::Body::empty())
        .unwrap();
    let resp = crate::api::deny_router().oneshot(req).await.unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(code(&body), "peer_not_allowed");
}
