//! The AWS provisioning script of the operator kit, in its default dry run: it renders the
//! trust, role and bucket policies (valid JSON, every placeholder filled, the PrincipalTag
//! variables kept for AWS) and prints the aws CLI commands without running any; bad settings
//! are refused with exit 2.

use std::path::PathBuf;
use std::process::{Command, Output};

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/aws-provision.sh")
}

fn run(env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new("bash");
    cmd.arg(script())
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run the script")
}

const GOOD: &[(&str, &str)] = &[
    ("AGENTKEYS_ISSUER_URL", "https://relay.example.com/"),
    ("AWS_ACCOUNT_ID", "123456789012"),
    ("AGENTKEYS_CREDENTIALS_BUCKET", "acme-cred"),
    ("AGENTKEYS_MEMORY_BUCKET", "acme-mem"),
];

#[test]
fn dry_run_renders_the_policies_and_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(GOOD, &["--out", dir.path().to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("dry run"), "{stdout}");
    assert!(stdout.contains("+ aws iam create-open-id-connect-provider --url https://relay.example.com --client-id-list sts.amazonaws.com"), "{stdout}");
    assert!(
        stdout.contains("aws_role_memory = \"arn:aws:iam::123456789012:role/agentkeys-memory\""),
        "{stdout}"
    );
    for (class, bucket) in [("credentials", "acme-cred"), ("memory", "acme-mem")] {
        let read = |name: String| {
            let text = std::fs::read_to_string(dir.path().join(&name)).unwrap();
            assert!(
                !text.contains('@'),
                "{name} has an unfilled placeholder:\n{text}"
            );
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            (text, v)
        };
        let (trust, v) = read(format!("agentkeys-{class}-trust.json"));
        assert_eq!(
            v["Statement"][0]["Principal"]["Federated"],
            "arn:aws:iam::123456789012:oidc-provider/relay.example.com"
        );
        assert!(
            trust.contains("\"relay.example.com:aud\": \"sts.amazonaws.com\""),
            "{trust}"
        );
        assert!(trust.contains("sts:TagSession"), "{trust}");
        let (policy, _) = read(format!("agentkeys-{class}-policy.json"));
        assert!(
            policy.contains(&format!(
                "arn:aws:s3:::{bucket}/bots/${{aws:PrincipalTag/agentkeys_actor_omni}}/{class}/*"
            )),
            "{policy}"
        );
        assert!(policy.contains("\"s3:prefix\""), "{policy}");
        let (bucket_policy, _) = read(format!("{bucket}-bucket-policy.json"));
        assert!(
            bucket_policy.contains("\"Effect\": \"Deny\""),
            "{bucket_policy}"
        );
        assert!(
            bucket_policy.contains(&format!("role/agentkeys-{class}")),
            "{bucket_policy}"
        );
    }
}

#[test]
fn bad_settings_are_refused() {
    let without = |name: &str| -> Vec<(&str, &str)> {
        GOOD.iter().copied().filter(|(k, _)| *k != name).collect()
    };
    let with = |name: &'static str, value: &'static str| -> Vec<(&'static str, &'static str)> {
        let mut v = without(name);
        v.push((name, value));
        v
    };
    for (env, why) in [
        (without("AWS_ACCOUNT_ID"), "set AWS_ACCOUNT_ID"),
        (
            with("AGENTKEYS_ISSUER_URL", "http://relay.example.com"),
            "must be https://",
        ),
        (with("AWS_ACCOUNT_ID", "12345"), "12 digits"),
    ] {
        let out = run(&env, &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(why), "{err}");
    }
    assert_eq!(run(GOOD, &["--bogus"]).status.code(), Some(2));
}
