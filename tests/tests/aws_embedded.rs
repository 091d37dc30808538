//! Storage isolation on the embedded stack, through the tools users already have: the real
//! CLI's `agentkeys aws exec` gives a Python boto3 program (the SDK most agents use) temporary
//! credentials the relay minted for the actor, and the embedded S3 server enforces what AWS
//! PrincipalTag bucket policies would: the actor's own prefix of its class's bucket only.
//! Also `aws credential-process` and `aws env`.

use agentkeys_core::names::DataClass;
use agentkeys_tests::browser::{AuthenticatorOptions, Browser};
use agentkeys_tests::passkey_flow::{ok, refused, text, with_passkey, Recorder};
use agentkeys_tests::relay_client::{code, RelayClient};
use agentkeys_tests::stack::Stack;

/// Prints `<name> <ok|S3 error code>` for each operation; `OTHER` and `FOREIGN_BUCKET` come
/// from the test.
const PROBE: &str = r#"
import os, boto3, botocore
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL_S3"])
b, p = os.environ["AGENTKEYS_S3_BUCKET"], os.environ["AGENTKEYS_S3_PREFIX"]
other = os.environ["OTHER"]
def code(f):
    try:
        f()
        return "ok"
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"]
checks = [
    ("put_own", lambda: s3.put_object(Bucket=b, Key=p + "probe.txt", Body=b"mine")),
    ("get_own", lambda: s3.get_object(Bucket=b, Key=p + "probe.txt")),
    ("list_own", lambda: s3.list_objects_v2(Bucket=b, Prefix=p)),
    ("put_other", lambda: s3.put_object(Bucket=b, Key=other + "probe.txt", Body=b"x")),
    ("get_other", lambda: s3.get_object(Bucket=b, Key=other + "probe.txt")),
    ("delete_other", lambda: s3.delete_object(Bucket=b, Key=other + "probe.txt")),
    ("list_other", lambda: s3.list_objects_v2(Bucket=b, Prefix=other)),
    ("list_bucket", lambda: s3.list_objects_v2(Bucket=b)),
    ("list_buckets", lambda: s3.list_buckets()),
]
if os.environ.get("FOREIGN_BUCKET"):
    checks.append(("foreign_bucket", lambda: s3.list_objects_v2(Bucket=os.environ["FOREIGN_BUCKET"], Prefix=p)))
for name, f in checks:
    print(name, code(f))
print("prefix", p)
print("bucket", b)
"#;

fn results(out: &str) -> std::collections::HashMap<String, String> {
    out.lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn aws_exec_reaches_only_the_actors_own_prefix() {
    // Creating an agent needs SCOPE_MGMT, so the master enrolls a passkey in Chromium.
    let tmp = tempfile::tempdir().unwrap();
    let mut urls = Recorder::new(tmp.path(), "primary");
    let s = Stack::new().with_env("BROWSER", &urls.script);
    s.ok(&["up"], None);
    let browser = Browser::start().await;
    let page = browser.new_page().await;
    page.enable_virtual_authenticator(AuthenticatorOptions::default())
        .await;
    ok(&with_passkey(&s, &page, &mut urls, &["init"], 2).await);
    s.ok(&["agent", "create", "coder"], None);

    // The operator's credentials (a master acts as its operator).
    let other = format!("bots/{}/credentials/", "ab".repeat(32));
    let out = s
        .command(&["aws", "exec", "--", "python3", "-c", PROBE])
        .env("OTHER", &other)
        .output()
        .unwrap();
    let r = results(&ok(&out));
    for (k, want) in [
        ("put_own", "ok"),
        ("get_own", "ok"),
        ("list_own", "ok"),
        ("put_other", "AccessDenied"),
        ("get_other", "AccessDenied"),
        ("delete_other", "AccessDenied"),
        ("list_other", "AccessDenied"),
        ("list_bucket", "AccessDenied"),
        ("list_buckets", "AccessDenied"),
    ] {
        assert_eq!(
            r.get(k).map(String::as_str),
            Some(want),
            "{k}: {}",
            text(&out)
        );
    }
    let operator_prefix = r["prefix"].clone();
    let cred_bucket = r["bucket"].clone();
    assert!(
        operator_prefix.ends_with("/credentials/"),
        "{operator_prefix}"
    );

    // The agent's credentials reach its own prefix, not the operator's.
    let out = s
        .command(&[
            "aws", "exec", "--agent", "coder", "--", "python3", "-c", PROBE,
        ])
        .env("OTHER", &operator_prefix)
        .output()
        .unwrap();
    let r = results(&ok(&out));
    // Its own prefix, but an object of no service in its (empty) scope: the chain refuses it
    // even though the temporary keys' prefix matches.
    assert_eq!(r["put_own"], "AccessDenied", "{}", text(&out));
    assert_eq!(r["list_own"], "ok", "{}", text(&out));
    assert_ne!(r["prefix"], operator_prefix);
    for k in ["put_other", "get_other", "delete_other", "list_other"] {
        assert_eq!(r[k], "AccessDenied", "{k}: {}", text(&out));
    }

    // Memory credentials are refused on the credentials bucket, and the reverse.
    let out = s
        .command(&[
            "aws", "exec", "--class", "memory", "--", "python3", "-c", PROBE,
        ])
        .env("OTHER", &other)
        .env("FOREIGN_BUCKET", &cred_bucket)
        .output()
        .unwrap();
    let r = results(&ok(&out));
    assert_eq!(r["put_own"], "ok", "{}", text(&out));
    assert!(r["prefix"].ends_with("/memory/"), "{}", text(&out));
    assert_eq!(r["foreign_bucket"], "AccessDenied", "{}", text(&out));
    let mem_bucket = r["bucket"].clone();
    let out = s
        .command(&["aws", "exec", "--", "python3", "-c", PROBE])
        .env("OTHER", &other)
        .env("FOREIGN_BUCKET", &mem_bucket)
        .output()
        .unwrap();
    assert_eq!(results(&ok(&out))["foreign_bucket"], "AccessDenied");

    // The aws CLI itself, with the endpoint of the embedded S3 from the environment.
    let file = s.home().join("notes.txt");
    std::fs::write(&file, b"from the aws cli").unwrap();
    let cp = |dest: &str| {
        s.command(&[
            "aws",
            "exec",
            "--",
            "sh",
            "-c",
            &format!("aws s3 cp {} {dest}", file.display()),
        ])
        .output()
        .unwrap()
    };
    let out = cp(&format!("s3://{cred_bucket}/{operator_prefix}notes.txt"));
    assert!(ok(&out).contains("upload:"), "{}", text(&out));
    let out = cp(&format!("s3://{cred_bucket}/{other}notes.txt"));
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("AccessDenied"),
        "{}",
        text(&out)
    );

    // The secrets are masked in the child's output.
    let out = s
        .command(&[
            "aws",
            "exec",
            "--",
            "sh",
            "-c",
            "echo $AWS_SECRET_ACCESS_KEY",
        ])
        .output()
        .unwrap();
    assert_eq!(ok(&out).trim(), "********");

    // A long-running program: a loopback endpoint the SDK fetches (and refreshes) keys from,
    // answering only the child's token; no keys in the environment.
    let probe = r#"
import os, boto3, urllib.request, urllib.error
assert "AWS_SECRET_ACCESS_KEY" not in os.environ and "AWS_ACCESS_KEY_ID" not in os.environ
session = boto3.Session()
print("method", session.get_credentials().method)
s3 = session.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL_S3"])
s3.put_object(Bucket=os.environ["AGENTKEYS_S3_BUCKET"], Key=os.environ["AGENTKEYS_S3_PREFIX"] + "ep.txt", Body=b"x")
print("put ok")
bad = urllib.request.Request(os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"], headers={"Authorization": "wrong"})
try:
    urllib.request.urlopen(bad)
    print("bad_token 200")
except urllib.error.HTTPError as e:
    print("bad_token", e.code)
"#;
    let out = s
        .command(&["aws", "exec", "--endpoint", "--", "python3", "-c", probe])
        .output()
        .unwrap();
    let r = results(&ok(&out));
    assert_eq!(
        r.get("method").map(String::as_str),
        Some("container-role"),
        "{}",
        text(&out)
    );
    assert_eq!(
        r.get("put").map(String::as_str),
        Some("ok"),
        "{}",
        text(&out)
    );
    assert_eq!(
        r.get("bad_token").map(String::as_str),
        Some("401"),
        "{}",
        text(&out)
    );

    // credential_process JSON and shell exports.
    let cp: serde_json::Value =
        serde_json::from_str(&s.ok(&["aws", "credential-process"], None)).unwrap();
    assert_eq!(cp["Version"], 1);
    assert!(
        cp["AccessKeyId"].as_str().unwrap().starts_with("ASIA"),
        "{cp}"
    );
    assert!(cp["Expiration"].as_str().unwrap().ends_with('Z'), "{cp}");
    let env = s.ok(&["aws", "env"], None);
    assert!(env.contains("export AWS_SESSION_TOKEN='akst2."), "{env}");
    assert!(
        env.contains("export AWS_ENDPOINT_URL_S3='http://127.0.0.1:"),
        "{env}"
    );

    // Refusals with their codes.
    refused(
        &s.run(&["aws", "env", "--class", "logs"], None),
        7,
        "bad_request",
    );
    refused(
        &s.run(&["aws", "env", "--agent", "nobody"], None),
        5,
        "agent_not_found",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_strict_vault_is_served_with_the_daemons_own_storage_credentials() {
    // The relay refuses vault requests without the caller's storage credentials; the daemon
    // mints them on the first refusal and sends them from then on, for the device and agents.
    let s = Stack::new().with_env("AGENTKEYS_REQUIRE_CALLER_CREDENTIALS", "true");
    s.ok(&["up"], None);
    s.ok(&["init", "--no-passkey"], None);
    s.ok(&["store", "openrouter"], Some(b"sk-strict-1"));
    assert_eq!(s.ok(&["read", "openrouter"], None).trim(), "sk-strict-1");
    assert_eq!(s.ok(&["list"], None).trim(), "openrouter");
    s.ok(&["memory", "put", "notes"], Some(b"short answers"));
    assert_eq!(
        s.ok(&["memory", "get", "notes"], None).trim(),
        "short answers"
    );
    // The relay is strict indeed: a client without storage credentials is refused.
    let addr = std::fs::read_to_string(s.relay_data_dir().join("relay.addr")).unwrap();
    let mut other = RelayClient::new(&format!("http://{}", addr.trim()));
    other.sign_in().await;
    let (status, v) = other.store(DataClass::Credentials, "x", b"v").await;
    assert_eq!(
        (status, code(&v).as_str()),
        (401, "caller_credentials_required"),
        "{v}"
    );
}
