//! `agentkeys aws exec` hands the child the scoped credentials and nothing else, even when the
//! user's shell already holds other AWS credentials (variables, a profile, `~/.aws` files),
//! and whatever the child prints of those credentials comes out masked, raw or encoded. Real
//! CLI, daemon and embedded relay with its S3 server; boto3 and the aws CLI in the child.

use std::path::Path;
use std::process::Output;

use agentkeys_tests::passkey_flow::{ok, text};
use agentkeys_tests::stack::Stack;

const PARENT_KEY_ID: &str = "AKIAPARENTENV0000001";
const PARENT_FILE_KEY_ID: &str = "AKIAPARENTFILE000001";

/// Reports which credentials boto3 picked and what the child sees, then prints the secrets
/// the ways programs commonly do by accident.
const PROBE: &str = r#"
import json, os, stat, urllib.parse, boto3
for name in ("AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"):
    path = os.environ[name]
    st = os.stat(path)
    print(name, st.st_size, oct(stat.S_IMODE(st.st_mode)),
          oct(stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode)))
print("dir", os.path.dirname(os.environ["AWS_CONFIG_FILE"]))
print("vars", ",".join(sorted(k for k in os.environ if k.startswith("AWS_"))))
session = boto3.Session()
creds = session.get_credentials()
frozen = creds.get_frozen_credentials()
print("method", creds.method)
print("key", frozen.access_key)
s3 = session.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL_S3"])
s3.put_object(Bucket=os.environ["AGENTKEYS_S3_BUCKET"],
              Key=os.environ["AGENTKEYS_S3_PREFIX"] + "isolation.txt", Body=b"x")
print("put ok")
secret, token = frozen.secret_key, frozen.token
print("secret", secret)
print("token", token)
print("json", json.dumps({"s": secret, "t": token}))
print("repr", repr(secret), repr(token))
print("quoted", urllib.parse.quote(secret), urllib.parse.quote_plus(token, safe=""))
"#;

/// The user's own configuration: long-lived keys in the environment, a profile that this
/// machine does not even define, and a default profile in `~/.aws`.
fn parent_home(home: &Path) {
    let aws = home.join(".aws");
    std::fs::create_dir_all(&aws).unwrap();
    std::fs::write(
        aws.join("credentials"),
        format!(
            "[default]\naws_access_key_id = {PARENT_FILE_KEY_ID}\n\
             aws_secret_access_key = parent-file-secret\n"
        ),
    )
    .unwrap();
    std::fs::write(aws.join("config"), "[default]\nregion = eu-west-3\n").unwrap();
}

fn exec(s: &Stack, home: &Path, args: &[&str]) -> Output {
    let mut all = vec!["aws", "exec"];
    all.extend_from_slice(args);
    s.command(&all)
        .env("HOME", home)
        .env("AWS_ACCESS_KEY_ID", PARENT_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", "parent-env-secret")
        .env("AWS_PROFILE", "parent-profile")
        .env("AWS_MAX_ATTEMPTS", "7")
        .output()
        .unwrap()
}

fn field<'a>(out: &'a str, name: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no {name} line in:\n{out}"))
}

/// What both modes must show: only the scoped key, the parent's gone, secrets masked.
fn assert_isolated_and_masked(out: &Output, method: &str, vars: &str) {
    let stdout = ok(out);
    let all = text(out);
    for name in ["AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"] {
        assert_eq!(field(&stdout, name), "0 0o600 0o700", "{all}");
    }
    assert!(
        !Path::new(field(&stdout, "dir")).exists(),
        "the private directory outlived the child: {all}"
    );
    assert_eq!(field(&stdout, "vars"), vars, "{all}");
    assert_eq!(field(&stdout, "method"), method, "{all}");
    let key = field(&stdout, "key");
    assert!(key.starts_with("ASIA"), "{all}");
    assert_eq!(field(&stdout, "put"), "ok", "{all}");
    assert_eq!(field(&stdout, "secret"), "********", "{all}");
    assert_eq!(field(&stdout, "token"), "********", "{all}");
    assert_eq!(
        field(&stdout, "json"),
        r#"{"s": "********", "t": "********"}"#,
        "{all}"
    );
    assert_eq!(field(&stdout, "repr"), "'********' '********'", "{all}");
    assert_eq!(field(&stdout, "quoted"), "******** ********", "{all}");
    for parent in [
        "parent-env-secret",
        "parent-file-secret",
        PARENT_KEY_ID,
        PARENT_FILE_KEY_ID,
    ] {
        assert!(!all.contains(parent), "{parent} reached the child: {all}");
    }
}

#[test]
fn aws_exec_children_use_only_the_scoped_keys_masked() {
    let s = Stack::new();
    s.ok(&["up"], None);
    s.ok(&["init", "--no-passkey"], None);
    let home = tempfile::tempdir().unwrap();
    parent_home(home.path());

    // Keys in the environment: boto3 reads the scoped ones, and the S3 server accepts them.
    let out = exec(&s, home.path(), &["--", "python3", "-c", PROBE]);
    assert_isolated_and_masked(
        &out,
        "env",
        "AWS_ACCESS_KEY_ID,AWS_CONFIG_FILE,AWS_DEFAULT_REGION,AWS_EC2_METADATA_DISABLED,\
         AWS_ENDPOINT_URL_S3,AWS_REGION,AWS_SECRET_ACCESS_KEY,AWS_SESSION_TOKEN,\
         AWS_SHARED_CREDENTIALS_FILE",
    );

    // The endpoint mode: no keys in the environment, so the parent's would otherwise win.
    let out = exec(
        &s,
        home.path(),
        &["--endpoint", "--", "python3", "-c", PROBE],
    );
    assert_isolated_and_masked(
        &out,
        "container-role",
        "AWS_CONFIG_FILE,AWS_CONTAINER_AUTHORIZATION_TOKEN,AWS_CONTAINER_CREDENTIALS_FULL_URI,\
         AWS_DEFAULT_REGION,AWS_EC2_METADATA_DISABLED,AWS_ENDPOINT_URL_S3,AWS_REGION,\
         AWS_SHARED_CREDENTIALS_FILE",
    );

    // The aws CLI, in both modes: the parent's missing profile would make it fail outright,
    // and the object lands under the actor's own prefix with the scoped keys.
    let file = home.path().join("notes.txt");
    std::fs::write(&file, b"from the aws cli").unwrap();
    let script = format!(
        "aws configure list && aws s3 cp {} \"s3://$AGENTKEYS_S3_BUCKET/${{AGENTKEYS_S3_PREFIX}}cli.txt\" \
         && echo \"token=$AWS_CONTAINER_AUTHORIZATION_TOKEN$AWS_SESSION_TOKEN\"",
        file.display()
    );
    for (mode, source) in [(None, "env"), (Some("--endpoint"), "container-role")] {
        let mut args: Vec<&str> = mode.into_iter().collect();
        args.extend(["--", "sh", "-c", &script]);
        let out = exec(&s, home.path(), &args);
        let stdout = ok(&out);
        assert!(stdout.contains("upload:"), "{}", text(&out));
        let access_key = stdout
            .lines()
            .find(|l| l.trim_start().starts_with("access_key"))
            .unwrap_or_default();
        assert!(access_key.contains(source), "{}", text(&out));
        assert!(
            !stdout.contains("parent-profile") && !stdout.contains("eu-west-3"),
            "{}",
            text(&out)
        );
        assert!(stdout.contains("token=********\n"), "{}", text(&out));
    }
}
