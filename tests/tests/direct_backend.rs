//! The direct credential backend: a daemon that seals objects itself (with a data key the vault
//! wraps through the signer) and moves them with its own actor-scoped storage credentials
//! writes the same envelope as the vault, so each backend reads what the other wrote. Real CLI,
//! two daemons of one device (one per backend) and the embedded relay, which serves the
//! data-key routes only when configured to.
//!
//! With an attacker's eye: a data key comes back only for the operator, actor, class and
//! object name it was wrapped for, and a version 1 key (bound to actor and class only) never
//! comes back at all, while version 1 objects stay readable.

use agentkeys_core::envelope::{self, Dek, EnvelopeHeader, ObjectContext, VERSION, VERSION_V1};
use agentkeys_core::identity::Omni;
use agentkeys_core::kek;
use agentkeys_core::names::{DataClass, Op};
use agentkeys_core::routes;
use agentkeys_tests::passkey_flow::{extra_daemon, ok, refused, relay_url, text};
use agentkeys_tests::relay::RelayProc;
use agentkeys_tests::relay_client::{code, Pop, RelayClient};
use agentkeys_tests::stack::Stack;
use rand::RngCore;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Output, Stdio};

const DIRECT_BACKEND: (&str, &str) = ("AGENTKEYS_DIRECT_BACKEND", "true");

fn direct_stack() -> Stack {
    Stack::new().with_env(DIRECT_BACKEND.0, DIRECT_BACKEND.1)
}

/// A direct-backend daemon of the stack's device and a way to run the CLI against it.
// The closure's type cannot be named, so no alias shortens it.
#[allow(clippy::type_complexity)]
fn direct_daemon(
    s: &Stack,
) -> (
    agentkeys_tests::process::Managed,
    impl Fn(&[&str], Option<&[u8]>) -> Output + '_,
) {
    let socket = s.home().join("run/direct.sock");
    let daemon = extra_daemon(
        s.home(),
        &relay_url(s),
        &socket,
        &["--credential-backend", "direct"],
    );
    let run = move |args: &[&str], stdin: Option<&[u8]>| {
        let mut cmd = s.command(args);
        cmd.env("AGENTKEYS_SOCKET", &socket)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        if let (Some(data), Some(mut w)) = (stdin, child.stdin.take()) {
            use std::io::Write;
            w.write_all(data).unwrap();
        }
        child.wait_with_output().unwrap()
    };
    (daemon, run)
}

#[test]
fn objects_written_by_one_backend_are_read_by_the_other() {
    let s = direct_stack();
    s.ok(&["up"], None);
    s.ok(&["init", "--no-passkey"], None);
    let (_direct, direct) = direct_daemon(&s);

    // Written through the vault, read directly.
    s.ok(&["store", "openrouter"], Some(b"sk-via-relay"));
    let out = direct(&["read", "openrouter"], None);
    assert_eq!(ok(&out).trim(), "sk-via-relay", "{}", text(&out));

    // Written directly, read through the vault.
    ok(&direct(&["store", "anthropic"], Some(b"sk-via-direct")));
    assert_eq!(s.ok(&["read", "anthropic"], None).trim(), "sk-via-direct");
    assert_eq!(s.ok(&["list"], None).trim(), "anthropic\nopenrouter");

    // Memory too, both ways.
    ok(&direct(&["memory", "put", "notes"], Some(b"short answers")));
    assert_eq!(
        s.ok(&["memory", "get", "notes"], None).trim(),
        "short answers"
    );
    s.ok(&["memory", "put", "style"], Some(b"terse"));
    assert_eq!(
        ok(&direct(&["memory", "get", "style"], None)).trim(),
        "terse"
    );

    // A missing object, with its code.
    refused(&direct(&["read", "github"], None), 5, "secret_not_found");

    // The vault wrapped and unwrapped the data keys, and audited both.
    let log: serde_json::Value =
        serde_json::from_str(&s.ok(&["audit", "log", "--json", "--limit", "1000"], None)).unwrap();
    let ops: Vec<&str> = log["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["op"].as_str())
        .collect();
    assert!(
        ops.contains(&"dek-wrap") && ops.contains(&"dek-unwrap"),
        "{ops:?}"
    );
}

/// One data-key call with a fresh capability for (`op`, `svc`) of the client's own operator.
async fn dek_call(c: &RelayClient, op: Op, svc: &str, body: Value) -> (u16, Value) {
    let cap = c.cap(DataClass::Credentials, op, svc).await;
    let (wrap, unwrap) = routes::dek_routes(DataClass::Credentials);
    let path = if op == Op::Store { wrap } else { unwrap };
    c.vault_on(path, Some(&cap), body.to_string().into_bytes(), Pop::Valid)
        .await
}

fn unwrap_body(name: &str, wrapped: &Value) -> Value {
    json!({
        "name": name,
        "version": VERSION,
        "epoch": wrapped["epoch"],
        "wrapped_dek": wrapped["wrapped_dek"],
    })
}

/// Every stored object's file, byte for byte.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let path = e.path();
            if path.is_dir() {
                todo.push(path);
            } else {
                out.insert(path.display().to_string(), std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_data_key_opens_only_for_its_own_object() {
    let dir = tempfile::tempdir().unwrap();
    let relay = RelayProc::start(&dir.path().join("relay"), &[DIRECT_BACKEND]);
    let mut victim = RelayClient::new(&relay.url);
    victim.sign_in().await;
    for (name, value) in [
        ("openrouter", "sk-victim-or"),
        ("anthropic", "sk-victim-an"),
    ] {
        let (status, v) = victim
            .store(DataClass::Credentials, name, value.as_bytes())
            .await;
        assert_eq!(status, 200, "{v}");
    }
    // The victim's key for `openrouter`, as the direct backend stores it in the envelope.
    let (status, wrapped) = dek_call(
        &victim,
        Op::Store,
        "openrouter",
        json!({"name": "openrouter", "version": VERSION}),
    )
    .await;
    assert_eq!(status, 200, "{wrapped}");
    let objects = relay.data_dir.join("s3/objects");
    let before = snapshot(&objects);
    assert!(!before.is_empty());

    // Its own capability gets it back.
    let (status, v) = dek_call(
        &victim,
        Op::Fetch,
        "openrouter",
        unwrap_body("openrouter", &wrapped),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["dek"], wrapped["dek"]);

    // A fetch capability for another service of the same actor: not by naming the key's
    // object, not by presenting the key as its own service's.
    let (status, v) = dek_call(
        &victim,
        Op::Fetch,
        "anthropic",
        unwrap_body("openrouter", &wrapped),
    )
    .await;
    assert_eq!((status, code(&v).as_str()), (403, "cap_service_mismatch"));
    let (status, v) = dek_call(
        &victim,
        Op::Fetch,
        "anthropic",
        unwrap_body("anthropic", &wrapped),
    )
    .await;
    assert_eq!((status, code(&v).as_str()), (403, "dek_context_mismatch"));

    // A store capability for one service cannot have a key wrapped for another name, nor
    // for the version 1 format.
    let (status, v) = dek_call(
        &victim,
        Op::Store,
        "anthropic",
        json!({"name": "openrouter", "version": VERSION}),
    )
    .await;
    assert_eq!((status, code(&v).as_str()), (403, "cap_service_mismatch"));
    let (status, v) = dek_call(
        &victim,
        Op::Store,
        "openrouter",
        json!({"name": "openrouter", "version": VERSION_V1}),
    )
    .await;
    assert_eq!((status, code(&v).as_str()), (400, "bad_request"));

    // Another operator (and so another actor), with a capability for the same service name.
    let mut attacker = RelayClient::new(&relay.url);
    attacker.sign_in().await;
    let (status, v) = dek_call(
        &attacker,
        Op::Fetch,
        "openrouter",
        unwrap_body("openrouter", &wrapped),
    )
    .await;
    assert_eq!((status, code(&v).as_str()), (403, "dek_context_mismatch"));
    // Relabelled as a version 1 key it is not released either.
    let mut legacy = unwrap_body("openrouter", &wrapped);
    legacy["version"] = json!(VERSION_V1);
    let (status, v) = dek_call(&attacker, Op::Fetch, "openrouter", legacy).await;
    assert_eq!((status, code(&v).as_str()), (409, "envelope_legacy_format"));

    // None of it touched the victim's objects.
    assert_eq!(snapshot(&objects), before);
    for (name, value) in [
        ("openrouter", "sk-victim-or"),
        ("anthropic", "sk-victim-an"),
    ] {
        assert_eq!(
            victim.fetch_value(DataClass::Credentials, name).await,
            value.as_bytes()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn data_key_routes_exist_only_where_enabled() {
    let dir = tempfile::tempdir().unwrap();
    let relay = RelayProc::start(&dir.path().join("relay"), &[]);
    let mut c = RelayClient::new(&relay.url);
    c.sign_in().await;
    let (status, v) = dek_call(
        &c,
        Op::Store,
        "openrouter",
        json!({"name": "openrouter", "version": VERSION}),
    )
    .await;
    assert_eq!((status, code(&v).as_str()), (404, "route_not_found"));
    let (status, v) = dek_call(
        &c,
        Op::Fetch,
        "openrouter",
        json!({"name": "openrouter", "version": VERSION, "epoch": 1, "wrapped_dek": ""}),
    )
    .await;
    assert_eq!((status, code(&v).as_str()), (404, "route_not_found"));
    // The vault's own routes are there.
    let (status, v) = c
        .store(DataClass::Credentials, "openrouter", b"sk-test")
        .await;
    assert_eq!(status, 200, "{v}");
}

/// Reads (and with `PUT_HEX`, first writes) `NAME` in the actor's own credentials prefix with
/// the credentials `agentkeys aws exec` hands out; prints the prefix and the object in hex.
const RAW_OBJECT: &str = r#"
import os, boto3
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL_S3"])
b, p = os.environ["AGENTKEYS_S3_BUCKET"], os.environ["AGENTKEYS_S3_PREFIX"]
key = p + os.environ["NAME"] + ".enc"
if os.environ.get("PUT_HEX"):
    s3.put_object(Bucket=b, Key=key, Body=bytes.fromhex(os.environ["PUT_HEX"]))
print(p)
print(s3.get_object(Bucket=b, Key=key)["Body"].read().hex())
"#;

/// (prefix, object bytes) of `name`, after writing `put` there when given.
fn raw_object(s: &Stack, name: &str, put: Option<&[u8]>) -> (String, Vec<u8>) {
    let mut cmd = s.command(&["aws", "exec", "--", "python3", "-c", RAW_OBJECT]);
    cmd.env("NAME", name);
    if let Some(bytes) = put {
        cmd.env("PUT_HEX", hex::encode(bytes));
    }
    let out = ok(&cmd.output().unwrap());
    let mut lines = out.lines();
    let prefix = lines.next().unwrap_or_default().to_string();
    let bytes = hex::decode(lines.next().unwrap_or_default()).unwrap();
    (prefix, bytes)
}

/// An object as the code before envelope version 2 wrote it: a version 1 header around a key
/// wrapped under KEK(actor, class) with the relay's own K3 of epoch 1.
fn version_1_object(s: &Stack, actor: &Omni, name: &str, value: &[u8]) -> Vec<u8> {
    let text = std::fs::read_to_string(s.relay_data_dir().join("signer/k3/epoch-1.key")).unwrap();
    let mut k3 = [0u8; 32];
    hex::decode_to_slice(text.split_whitespace().nth(2).unwrap(), &mut k3).unwrap();
    let dek = Dek::generate();
    let mut nonce = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let wrapped = kek::wrap_dek_v1_with_nonce(&k3, 1, DataClass::Credentials, actor, &dek, &nonce);
    let header = EnvelopeHeader {
        version: VERSION_V1,
        epoch: 1,
        wrapped_dek: wrapped,
    };
    let ctx = ObjectContext {
        data_class: DataClass::Credentials,
        operator: actor,
        actor,
        name,
    };
    envelope::seal(&dek, &header, &ctx, value)
}

#[test]
fn a_version_1_object_still_reads_through_either_backend() {
    let s = direct_stack();
    s.ok(&["up"], None);
    s.ok(&["init", "--no-passkey"], None);
    let (_direct, direct) = direct_daemon(&s);

    // The operator's own prefix names its actor (a master acts as its operator).
    s.ok(&["store", "openrouter"], Some(b"sk-current"));
    let (prefix, current) = raw_object(&s, "openrouter", None);
    assert_eq!(current[3], VERSION, "new objects are written in version 2");
    let actor_hex = prefix
        .strip_prefix("bots/")
        .and_then(|p| p.strip_suffix("/credentials/"))
        .unwrap();
    let mut actor = Omni([0; 32]);
    hex::decode_to_slice(actor_hex, &mut actor.0).unwrap();

    let old = version_1_object(&s, &actor, "legacy", b"sk-from-v1");
    let (_, stored) = raw_object(&s, "legacy", Some(&old));
    assert_eq!(stored, old);

    // Through the vault, and through the direct backend: the vault refuses it the version 1
    // key, and it then reads the object through the vault.
    assert_eq!(s.ok(&["read", "legacy"], None).trim(), "sk-from-v1");
    let out = direct(&["read", "legacy"], None);
    assert_eq!(ok(&out).trim(), "sk-from-v1", "{}", text(&out));
    let log: Value =
        serde_json::from_str(&s.ok(&["audit", "log", "--json", "--limit", "1000"], None)).unwrap();
    let refused_unwraps = log["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["op"] == "dek-unwrap"
                && r["service"] == "legacy"
                && r["outcome"] == "envelope_legacy_format"
        })
        .count();
    assert_eq!(refused_unwraps, 1, "{log}");

    // Reading does not rewrite it; the next store does, in version 2.
    assert_eq!(raw_object(&s, "legacy", None).1, old);
    ok(&direct(&["store", "legacy"], Some(b"sk-rewritten")));
    let (_, rewritten) = raw_object(&s, "legacy", None);
    assert_eq!(rewritten[3], VERSION);
    assert_eq!(s.ok(&["read", "legacy"], None).trim(), "sk-rewritten");
    assert_eq!(
        ok(&direct(&["read", "legacy"], None)).trim(),
        "sk-rewritten"
    );
}
