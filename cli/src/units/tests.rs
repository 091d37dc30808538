use std::cell::RefCell;
use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use super::load::{Outcome, Runner};
use super::*;

mod templates;

/// `directories` reads the environment on every call, so tests that change
/// it must not overlap.
static ENV_LOCK: Mutex<()> = Mutex::new(());

/// Sets an environment variable for the life of the guard.
struct EnvVar {
    key: &'static str,
    old: Option<OsString>,
    _lock: MutexGuard<'static, ()>,
}

fn set_env(key: &'static str, value: &Path) -> EnvVar {
    let lock = ENV_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let old = std::env::var_os(key);
    std::env::set_var(key, value);
    EnvVar {
        key,
        old,
        _lock: lock,
    }
}

impl Drop for EnvVar {
    fn drop(&mut self) {
        match self.old.take() {
            Some(old) => std::env::set_var(self.key, old),
            None => std::env::remove_var(self.key),
        }
    }
}

const BIN: &str = "/opt/agentkeys/bin/agentkeys-daemon";

fn opts(bin: &str, load: bool, print_only: bool) -> InstallOptions {
    InstallOptions {
        daemon_bin: PathBuf::from(bin),
        load,
        print_only,
    }
}

fn dirs(root: &Path) -> UnitDirs {
    UnitDirs {
        unit_dir: root.join("units"),
        log_dir: root.join("logs"),
    }
}

/// Records commands and answers them from a script.
struct Fake<F: FnMut(&[String]) -> io::Result<Outcome>> {
    calls: RefCell<Vec<String>>,
    answer: F,
}

impl<F: FnMut(&[String]) -> io::Result<Outcome>> Runner for Fake<F> {
    fn run(&mut self, argv: &[String]) -> io::Result<Outcome> {
        self.calls.borrow_mut().push(argv.join(" "));
        (self.answer)(argv)
    }
}

fn fake<F: FnMut(&[String]) -> io::Result<Outcome>>(answer: F) -> Fake<F> {
    Fake {
        calls: RefCell::new(Vec::new()),
        answer,
    }
}

fn ok() -> io::Result<Outcome> {
    Ok(Outcome {
        success: true,
        detail: String::new(),
    })
}

fn fail(detail: &str) -> io::Result<Outcome> {
    Ok(Outcome {
        success: false,
        detail: detail.to_owned(),
    })
}

#[cfg(target_os = "linux")]
#[test]
fn install_writes_unit_with_absolute_exec_start() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let _env = set_env("XDG_CONFIG_HOME", tmp.path());
    let report = install_daemon_unit(&opts(BIN, false, false)).expect("install");
    let expected = tmp.path().join("systemd/user/agentkeys-daemon.service");
    assert_eq!(report.unit_path, expected);
    assert!(!report.loaded);
    assert!(report.commands_run.is_empty());
    let text = fs::read_to_string(&expected).expect("unit written");
    assert!(text.lines().any(|l| l == format!("ExecStart={BIN} serve")));
    assert!(!text.contains('@'), "placeholder left in:\n{text}");
    assert_eq!(text, report.unit_text);
    let mode = fs::metadata(&expected).expect("stat").permissions().mode();
    assert_eq!(mode & 0o777, 0o644);
}

#[cfg(target_os = "linux")]
#[test]
fn print_only_writes_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let _env = set_env("XDG_CONFIG_HOME", tmp.path());
    let report = install_daemon_unit(&opts(BIN, true, true)).expect("render");
    assert_eq!(
        report.unit_path,
        tmp.path().join("systemd/user/agentkeys-daemon.service")
    );
    assert!(report.unit_text.contains(&format!("ExecStart={BIN} serve")));
    assert!(!report.loaded);
    assert!(report.commands_run.is_empty());
    assert_eq!(fs::read_dir(tmp.path()).expect("list").count(), 0);
}

#[test]
fn path_with_newline_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let _env = set_env("XDG_CONFIG_HOME", tmp.path());
    let bad = "/opt/agentkeys\n/bin/agentkeys-daemon";
    let err = install_daemon_unit(&opts(bad, false, false)).expect_err("must refuse");
    assert_eq!(err.code(), "invalid_daemon_path");
    assert_eq!(fs::read_dir(tmp.path()).expect("list").count(), 0);
    for platform in [Platform::Systemd, Platform::Launchd] {
        let err = install_with(
            platform,
            &dirs(tmp.path()),
            &opts(bad, false, false),
            &mut fake(|_| ok()),
        )
        .expect_err("must refuse");
        assert_eq!(err.code(), "invalid_daemon_path", "{platform:?}");
    }
    assert_eq!(fs::read_dir(tmp.path()).expect("list").count(), 0);
}

#[test]
fn relative_path_is_refused() {
    let err = template::check_daemon_path(Platform::Systemd, Path::new("bin/agentkeys-daemon"))
        .expect_err("must refuse");
    assert_eq!(err.code(), "invalid_daemon_path");
}

#[test]
fn whitespace_is_refused_for_systemd_but_fine_in_a_plist() {
    let spaced = Path::new("/Users/Jo Doe/bin/agentkeys-daemon");
    for bad in ["/a b/d", "/a\tb/d", "/a\"b/d", "/a\\b/d"] {
        let err = template::render_daemon(Platform::Systemd, Path::new(bad), Path::new("/l"))
            .expect_err("must refuse");
        assert_eq!(err.code(), "invalid_daemon_path", "{bad:?}");
    }
    let plist = template::render_daemon(Platform::Launchd, spaced, Path::new("/Users/Jo Doe/L"))
        .expect("render");
    assert!(plist.contains("<string>/Users/Jo Doe/bin/agentkeys-daemon</string>"));
    assert!(plist.contains("<string>/Users/Jo Doe/L/daemon.err.log</string>"));
}

#[test]
fn special_characters_are_escaped() {
    let unit = template::render_daemon(
        Platform::Systemd,
        Path::new("/x/%h/$HOME/d"),
        Path::new("/l"),
    )
    .expect("render");
    assert!(unit.contains("ExecStart=/x/%%h/$$HOME/d serve"));
    let plist =
        template::render_daemon(Platform::Launchd, Path::new("/x/a&b<c>/d"), Path::new("/l"))
            .expect("render");
    assert!(plist.contains("<string>/x/a&amp;b&lt;c&gt;/d</string>"));
}

#[test]
fn reinstall_replaces_the_unit_atomically() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dirs = dirs(tmp.path());
    for bin in ["/old/agentkeys-daemon", BIN] {
        install_with(
            Platform::Systemd,
            &dirs,
            &opts(bin, false, false),
            &mut fake(|_| ok()),
        )
        .expect("install");
    }
    let path = dirs.unit_dir.join("agentkeys-daemon.service");
    let text = fs::read_to_string(&path).expect("read");
    assert!(text.contains(&format!("ExecStart={BIN} serve")));
    // No temporary files left behind next to the unit.
    let names: Vec<_> = fs::read_dir(&dirs.unit_dir)
        .expect("list")
        .map(|e| e.map(|e| e.file_name()).expect("entry"))
        .collect();
    assert_eq!(names, ["agentkeys-daemon.service"]);
    let mode = fs::metadata(&path).expect("stat").permissions().mode();
    assert_eq!(mode & 0o777, 0o644);
}

#[test]
fn systemd_load_reloads_then_enables() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut runner = fake(|_| ok());
    let report = install_with(
        Platform::Systemd,
        &dirs(tmp.path()),
        &opts(BIN, true, false),
        &mut runner,
    )
    .expect("install");
    let expected = [
        "systemctl --user daemon-reload",
        "systemctl --user enable --now agentkeys-daemon.service",
    ];
    assert!(report.loaded);
    assert_eq!(report.commands_run, expected);
    assert_eq!(*runner.calls.borrow(), expected);
}

#[test]
fn failed_load_still_leaves_the_unit_written() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dirs = dirs(tmp.path());
    let mut runner = fake(|argv| {
        if argv.iter().any(|a| a == "enable") {
            fail("Failed to connect to bus: No medium found")
        } else {
            ok()
        }
    });
    let err = install_with(
        Platform::Systemd,
        &dirs,
        &opts(BIN, true, false),
        &mut runner,
    )
    .expect_err("must fail");
    assert_eq!(err.code(), "unit_load_failed");
    let message = err.to_string();
    assert!(message.contains("wrote"), "{message}");
    assert!(message.contains("No medium found"), "{message}");
    match &err {
        UnitError::LoadFailed { command, .. } => {
            assert_eq!(
                command,
                "systemctl --user enable --now agentkeys-daemon.service"
            )
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(dirs.unit_dir.join("agentkeys-daemon.service").is_file());
}

#[test]
fn missing_service_manager_is_a_load_failure() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut runner = fake(|_| Err(io::Error::from(io::ErrorKind::NotFound)));
    let err = install_with(
        Platform::Systemd,
        &dirs(tmp.path()),
        &opts(BIN, true, false),
        &mut runner,
    )
    .expect_err("must fail");
    assert_eq!(err.code(), "unit_load_failed");
    assert!(
        err.to_string().contains("systemctl is not installed"),
        "{err}"
    );
}

#[test]
fn launchd_install_writes_plist_and_bootstraps() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dirs = dirs(tmp.path());
    // `launchctl print` fails: nothing loaded yet, so no bootout.
    let mut runner = fake(|argv| {
        if argv[1] == "print" {
            fail("not found")
        } else {
            ok()
        }
    });
    let report = install_with(
        Platform::Launchd,
        &dirs,
        &opts(BIN, true, false),
        &mut runner,
    )
    .expect("install");
    let plist = dirs.unit_dir.join("dev.agentkeys.daemon.plist");
    assert_eq!(report.unit_path, plist);
    let text = fs::read_to_string(&plist).expect("read");
    assert!(text.contains(&format!("<string>{BIN}</string>")));
    assert!(text.contains(&format!("{}/daemon.out.log", dirs.log_dir.display())));
    assert!(!text.contains('@'));
    let log_mode = fs::metadata(&dirs.log_dir)
        .expect("log dir")
        .permissions()
        .mode();
    assert_eq!(log_mode & 0o777, 0o700);
    let uid = nix::unistd::getuid().as_raw();
    let calls = runner.calls.borrow();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(
        calls[0],
        format!("launchctl print gui/{uid}/dev.agentkeys.daemon")
    );
    assert_eq!(
        calls[1],
        format!("launchctl bootstrap gui/{uid} {}", plist.display())
    );
}

#[test]
fn launchd_reinstall_boots_out_and_retries_bootstrap() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut bootstraps = 0;
    // Loaded already, and the first bootstrap races the bootout.
    let mut runner = fake(|argv| {
        if argv[1] == "bootstrap" {
            bootstraps += 1;
            if bootstraps == 1 {
                return fail("Bootstrap failed: 5: Input/output error");
            }
        }
        ok()
    });
    let report = install_with(
        Platform::Launchd,
        &dirs(tmp.path()),
        &opts(BIN, true, false),
        &mut runner,
    )
    .expect("install");
    let verbs: Vec<String> = runner
        .calls
        .borrow()
        .iter()
        .map(|c| c.split(' ').nth(1).unwrap_or_default().to_owned())
        .collect();
    assert_eq!(verbs, ["print", "bootout", "bootstrap", "bootstrap"]);
    assert_eq!(report.commands_run.len(), 4);
    assert!(report.loaded);
}

#[test]
fn error_codes_are_stable() {
    let io = || io::Error::from(io::ErrorKind::Other);
    let cases = [
        (UnitError::DaemonBinaryNotFound, "daemon_binary_not_found"),
        (UnitError::NoHomeDir, "unit_write_failed"),
        (
            UnitError::WriteFailed {
                path: PathBuf::from("/x"),
                source: io(),
            },
            "unit_write_failed",
        ),
        (
            UnitError::LoadFailed {
                unit_path: PathBuf::from("/x"),
                command: "c".into(),
                stderr: "e".into(),
            },
            "unit_load_failed",
        ),
        (UnitError::UnsupportedPlatform, "unsupported_platform"),
    ];
    for (err, code) in cases {
        assert_eq!(err.code(), code);
    }
}

fn executable(path: &Path) {
    fs::write(path, "#!/bin/sh\n").expect("write");
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).expect("chmod");
}

#[test]
fn locate_prefers_the_daemon_next_to_the_executable() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (here, on_path) = (tmp.path().join("here"), tmp.path().join("path"));
    for dir in [&here, &on_path] {
        fs::create_dir(dir).expect("mkdir");
        executable(&dir.join("agentkeys-daemon"));
    }
    let exe = here.join("agentkeys");
    let found = locate::locate_in(Some(&exe), Some(on_path.as_os_str())).expect("found");
    assert_eq!(found, here.join("agentkeys-daemon"));
}

#[test]
fn locate_falls_back_to_absolute_path_entries() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (empty, plain, good) = (
        tmp.path().join("empty"),
        tmp.path().join("plain"),
        tmp.path().join("good"),
    );
    for dir in [&empty, &plain, &good] {
        fs::create_dir(dir).expect("mkdir");
    }
    // Not executable: must be skipped.
    fs::write(plain.join("agentkeys-daemon"), "").expect("write");
    executable(&good.join("agentkeys-daemon"));
    let path_var = std::env::join_paths([
        "relative",
        &*plain.to_string_lossy(),
        &*good.to_string_lossy(),
    ])
    .expect("join");
    let exe = empty.join("agentkeys");
    let found = locate::locate_in(Some(&exe), Some(&path_var)).expect("found");
    assert_eq!(found, good.join("agentkeys-daemon"));
    let err = locate::locate_in(Some(&exe), Some(empty.as_os_str())).expect_err("not found");
    assert_eq!(err.code(), "daemon_binary_not_found");
    assert!(locate::locate_in(None, None).is_err());
}
