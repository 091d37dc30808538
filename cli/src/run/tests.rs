use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::sync::RwLock;
use zeroize::Zeroizing;

use super::child::{execute, Output};
use super::*;

/// Forwarding tests signal the whole test process, which every running child
/// would receive; they take this exclusively, all other child tests share it.
static SIGNAL_LOCK: RwLock<()> = RwLock::const_new(());

const SECRET: &str = "sk-test-0123456789abcdef";

fn sh(script: &str, env: &[(&str, &str)], masking: bool) -> ChildSpec {
    ChildSpec {
        program: "sh".into(),
        args: vec!["-c".into(), script.into()],
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), Zeroizing::new(v.to_string())))
            .collect(),
        plain_env: Vec::new(),
        remove_env: Vec::new(),
        late_secrets: None,
        masking,
    }
}

/// Runs with the child's stdout/stderr captured; returns (code, out, err).
async fn capture(spec: ChildSpec) -> (i32, String, String) {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let code = execute(
        spec,
        Output::Pipe {
            out: &mut out,
            err: &mut err,
        },
    )
    .await
    .expect("child runs");
    (
        code,
        String::from_utf8_lossy(&out).into_owned(),
        String::from_utf8_lossy(&err).into_owned(),
    )
}

#[tokio::test]
async fn child_sees_the_variable() {
    let _shared = SIGNAL_LOCK.read().await;
    let script = format!(r#"[ "$S" = "{SECRET}" ]"#);
    assert_eq!(
        run_child(sh(&script, &[("S", SECRET)], true))
            .await
            .expect("runs"),
        0
    );
    let script = r#"[ "$S" = "something-else" ]"#;
    assert_eq!(
        run_child(sh(script, &[("S", SECRET)], true))
            .await
            .expect("runs"),
        1
    );
}

#[tokio::test]
async fn masked_stdout_and_stderr_hide_the_secret() {
    let _shared = SIGNAL_LOCK.read().await;
    let script = r#"printf 'out=%s\n' "$S"; printf 'err=%s\n' "$S" >&2"#;
    let (code, out, err) = capture(sh(script, &[("S", SECRET)], true)).await;
    assert_eq!(code, 0);
    assert_eq!(out, "out=********\n");
    assert_eq!(err, "err=********\n");
}

#[tokio::test]
async fn secret_split_across_writes_is_masked() {
    let _shared = SIGNAL_LOCK.read().await;
    let script = r#"printf "%s" "${S%????}"; sleep 0.1; printf "%s\n" "${S#${S%????}}"
printf "%s" "${S%????}" >&2; sleep 0.1; printf "%s\n" "${S#${S%????}}" >&2"#;
    let (code, out, err) = capture(sh(script, &[("S", SECRET)], true)).await;
    assert_eq!(code, 0);
    assert_eq!(out, "********\n");
    assert_eq!(err, "********\n");
}

#[tokio::test]
async fn output_is_released_while_the_child_still_runs() {
    let _shared = SIGNAL_LOCK.read().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let go = dir.path().join("go");
    // The child prints a line plus half the secret, then waits for us: the
    // line must reach us while the half secret is still held back.
    let script = r#"printf 'ready\n%s' "${S%????}"
while [ ! -e "$0" ]; do sleep 0.02; done
printf '%s\n' "${S#${S%????}}""#;
    let spec = ChildSpec {
        args: vec!["-c".into(), script.into(), go.clone().into_os_string()],
        ..sh("", &[("S", SECRET)], true)
    };
    let (writer, mut reader) = tokio::io::duplex(4096);
    let run = execute(
        spec,
        Output::Pipe {
            out: writer,
            err: tokio::io::sink(),
        },
    );
    let observe = async {
        let mut first = [0u8; 6];
        reader.read_exact(&mut first).await.expect("first line");
        assert_eq!(&first, b"ready\n");
        std::fs::write(&go, b"").expect("signal child");
        let mut rest = String::new();
        reader.read_to_string(&mut rest).await.expect("rest");
        rest
    };
    let both = async { tokio::join!(run, observe) };
    let (code, rest) = tokio::time::timeout(Duration::from_secs(10), both)
        .await
        .expect("output was held back until exit");
    assert_eq!(code.expect("runs"), 0);
    assert_eq!(rest, "********\n");
}

#[tokio::test]
async fn lingering_grandchild_does_not_hang_us() {
    let _shared = SIGNAL_LOCK.read().await;
    // `sleep` inherits the stdout pipe and keeps it open after `sh` exits.
    let run = capture(sh("sleep 3 & echo done", &[], true));
    let (code, out, _) = tokio::time::timeout(Duration::from_millis(2500), run)
        .await
        .expect("gave up draining after the grace period");
    assert_eq!(code, 0);
    assert_eq!(out, "done\n");
}

#[tokio::test]
async fn unmasked_output_contains_the_secret() {
    let _shared = SIGNAL_LOCK.read().await;
    let script = r#"printf '%s\n' "$S"; printf '%s\n' "$S" >&2"#;
    let (code, out, err) = capture(sh(script, &[("S", SECRET)], false)).await;
    assert_eq!(code, 0);
    assert_eq!(out, format!("{SECRET}\n"));
    assert_eq!(err, format!("{SECRET}\n"));
}

#[tokio::test]
async fn short_values_are_injected_but_not_masked() {
    let _shared = SIGNAL_LOCK.read().await;
    let (code, out, _) = capture(sh(r#"printf '%s\n' "$S""#, &[("S", "abc")], true)).await;
    assert_eq!(code, 0);
    assert_eq!(out, "abc\n");
}

#[tokio::test]
async fn exit_code_propagates() {
    let _shared = SIGNAL_LOCK.read().await;
    assert_eq!(run_child(sh("exit 7", &[], true)).await.expect("runs"), 7);
    assert_eq!(run_child(sh("exit 7", &[], false)).await.expect("runs"), 7);
}

#[tokio::test]
async fn killed_by_sigterm_gives_143() {
    let _shared = SIGNAL_LOCK.read().await;
    let code = run_child(sh("kill -TERM $$; sleep 5", &[], true)).await;
    assert_eq!(code.expect("runs"), 143);
}

#[tokio::test]
async fn forwards_signals_to_the_child() {
    let _exclusive = SIGNAL_LOCK.write().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let ready = dir.path().join("ready");
    let script = r#"trap 'echo got-hup; exit 42' HUP; touch "$0"; while :; do sleep 0.05; done"#;
    let spec = ChildSpec {
        args: vec!["-c".into(), script.into(), ready.clone().into_os_string()],
        ..sh("", &[], true)
    };
    let mut out = Vec::new();
    let mut err = Vec::new();
    let run = execute(
        spec,
        Output::Pipe {
            out: &mut out,
            err: &mut err,
        },
    );
    let poke = async {
        // The child creates `ready` after we installed our handlers, so
        // raising SIGHUP now reaches the forwarder, not the default action.
        while !ready.exists() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        nix::sys::signal::raise(nix::sys::signal::Signal::SIGHUP).expect("raise");
    };
    let (code, ()) = tokio::join!(run, poke);
    assert_eq!(code.expect("runs"), 42);
    assert_eq!(String::from_utf8_lossy(&out), "got-hup\n");
}

#[tokio::test]
async fn missing_program_is_not_found() {
    let _shared = SIGNAL_LOCK.read().await;
    let spec = ChildSpec {
        program: "agentkeys-test-no-such-program".into(),
        args: Vec::new(),
        env: Vec::new(),
        plain_env: Vec::new(),
        remove_env: Vec::new(),
        late_secrets: None,
        masking: true,
    };
    let err = run_child(spec).await.expect_err("must fail");
    assert!(matches!(&err, RunError::NotFound(p) if p == "agentkeys-test-no-such-program"));
    assert_eq!(err.code(), "command_not_found");
    assert!(err.to_string().contains("agentkeys-test-no-such-program"));
}

#[tokio::test]
async fn non_executable_file_is_permission_denied() {
    let _shared = SIGNAL_LOCK.read().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("script.sh");
    std::fs::write(&path, "#!/bin/sh\nexit 0\n").expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let spec = ChildSpec {
        program: OsString::from(&path),
        args: Vec::new(),
        env: Vec::new(),
        plain_env: Vec::new(),
        remove_env: Vec::new(),
        late_secrets: None,
        masking: false,
    };
    let err = run_child(spec).await.expect_err("must fail");
    assert!(matches!(err, RunError::PermissionDenied(_)), "{err:?}");
    assert_eq!(err.code(), "command_not_executable");
}

#[tokio::test]
async fn invalid_env_names_are_rejected_before_spawning() {
    for bad in ["", "1ABC", "A-B", "A=B", "A B", "É"] {
        let err = run_child(sh("exit 0", &[(bad, "value")], true))
            .await
            .expect_err("must fail");
        assert!(matches!(err, RunError::InvalidEnvName(_)), "{bad:?}");
        assert_eq!(err.code(), "invalid_env_name");
    }
}

#[test]
fn env_name_rules() {
    for good in ["A", "_", "_A1", "OPENAI_API_KEY", "a_b_c9"] {
        assert!(is_valid_env_name(good), "{good}");
    }
    for bad in ["", "9A", "A-B", "A.B", "A=B", "A\0B"] {
        assert!(!is_valid_env_name(bad), "{bad:?}");
    }
}

#[tokio::test]
async fn nul_in_value_is_rejected() {
    let err = run_child(sh("exit 0", &[("S", "a\0b")], true))
        .await
        .expect_err("must fail");
    assert_eq!(err.code(), "invalid_env_value");
    assert!(!err.to_string().contains("a\0b"));
}

#[tokio::test]
async fn encoded_forms_printed_by_the_child_are_masked() {
    let _shared = SIGNAL_LOCK.read().await;
    let value = "wJal/rXU+tn\"FE\\MI K7";
    // The JSON form is split across two writes with a pause between them.
    let script = r#"printf '%s' 'json=wJal/rXU+tn\"FE'; sleep 0.1; printf '%s\n' '\\MI K7'
printf '%s\n' 'url=wJal%2FrXU%2Btn%22FE%5CMI+K7 lower=wJal%2frXU%2btn%22FE%5cMI%20K7'
printf '%s\n' "raw=$S""#;
    let (code, out, _) = capture(sh(script, &[("S", value)], true)).await;
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "json=********\nurl=******** lower=********\nraw=********\n"
    );
}

#[tokio::test]
async fn late_secrets_are_masked_once_added() {
    let _shared = SIGNAL_LOCK.read().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let go = dir.path().join("go");
    let late = LateSecrets::default();
    // The child prints the value only after we added it, as an endpoint would hand it out.
    let script = r#"while [ ! -e "$0" ]; do sleep 0.02; done; echo "late=served-later-0123""#;
    let spec = ChildSpec {
        args: vec!["-c".into(), script.into(), go.clone().into_os_string()],
        late_secrets: Some(late.clone()),
        ..sh("", &[], true)
    };
    let mut out = Vec::new();
    let run = execute(
        spec,
        Output::Pipe {
            out: &mut out,
            err: tokio::io::sink(),
        },
    );
    let hand_out = async {
        late.add(b"served-later-0123");
        std::fs::write(&go, b"").expect("signal child");
    };
    let (code, ()) = tokio::join!(run, hand_out);
    assert_eq!(code.expect("child runs"), 0);
    assert_eq!(String::from_utf8_lossy(&out), "late=********\n");
}

#[tokio::test]
async fn removed_variables_are_gone_and_set_ones_win() {
    let _shared = SIGNAL_LOCK.read().await;
    // HOME stands in for an inherited variable; AWS_CONFIG_FILE is removed and set again.
    let script = r#"echo "home=${HOME-unset} config=$AWS_CONFIG_FILE""#;
    let spec = ChildSpec {
        remove_env: vec!["HOME".into(), "AWS_CONFIG_FILE".into()],
        plain_env: vec![("AWS_CONFIG_FILE".into(), "/nowhere".into())],
        ..sh(script, &[], true)
    };
    let (code, out, _) = capture(spec).await;
    assert_eq!(code, 0);
    assert_eq!(out, "home=unset config=/nowhere\n");
}
