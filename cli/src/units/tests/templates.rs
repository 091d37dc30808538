//! Checks on the committed unit files themselves.

use std::path::Path;
use std::process::Command;

use super::super::template::{self, Platform, LAUNCHD_DAEMON, SYSTEMD_DAEMON};

const SYSTEMD_RELAY: &str = include_str!("../../../../systemd/agentkeys-relay.service");
const LAUNCHD_RELAY: &str = include_str!("../../../../launchd/dev.agentkeys.relay.plist");

/// Minimal INI reading: (section, key, value) for every assignment, failing
/// on anything that is neither a comment, a section header nor `key=value`.
fn ini(text: &str) -> Vec<(String, String, String)> {
    let mut section = String::new();
    let mut entries = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_owned();
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("line {}: not key=value: {raw}", n + 1));
        assert!(!section.is_empty(), "line {}: key outside a section", n + 1);
        entries.push((
            section.clone(),
            key.trim().to_owned(),
            value.trim().to_owned(),
        ));
    }
    entries
}

fn has(entries: &[(String, String, String)], section: &str, key: &str, value: &str) -> bool {
    entries
        .iter()
        .any(|(s, k, v)| s == section && k == key && v == value)
}

fn keys<'a>(entries: &'a [(String, String, String)], key: &str) -> Vec<&'a str> {
    entries
        .iter()
        .filter(|(_, k, _)| k == key)
        .map(|(_, _, v)| v.as_str())
        .collect()
}

#[test]
fn daemon_systemd_unit_has_required_keys() {
    let e = ini(SYSTEMD_DAEMON);
    for (section, key, value) in [
        ("Service", "ExecStart", "@DAEMON_BIN@ serve"),
        ("Service", "Restart", "on-failure"),
        ("Service", "UMask", "0077"),
        ("Service", "NoNewPrivileges", "yes"),
        ("Service", "LimitCORE", "0"),
        ("Install", "WantedBy", "default.target"),
    ] {
        assert!(
            has(&e, section, key, value),
            "missing [{section}] {key}={value}"
        );
    }
    assert_eq!(keys(&e, "Description").len(), 1);
    // Namespace options fail or are ignored in user units; see the file.
    for key in ["PrivateTmp", "ProtectSystem", "ProtectHome", "User"] {
        assert!(
            keys(&e, key).is_empty(),
            "{key} does not belong in a user unit"
        );
    }
}

#[test]
fn relay_systemd_unit_has_required_keys() {
    let e = ini(SYSTEMD_RELAY);
    for (section, key, value) in [
        (
            "Service",
            "ExecStart",
            "/usr/local/bin/agentkeys-relay serve --config /etc/agentkeys/relay.toml",
        ),
        ("Service", "User", "agentkeys"),
        ("Service", "StateDirectory", "agentkeys-relay"),
        ("Service", "Restart", "on-failure"),
        ("Service", "ProtectSystem", "strict"),
        ("Service", "ProtectHome", "yes"),
        ("Service", "PrivateTmp", "yes"),
        ("Service", "NoNewPrivileges", "yes"),
        ("Service", "KillSignal", "SIGTERM"),
        ("Service", "TimeoutStopSec", "30"),
        ("Install", "WantedBy", "multi-user.target"),
    ] {
        assert!(
            has(&e, section, key, value),
            "missing [{section}] {key}={value}"
        );
    }
}

/// The text right after `<key>name</key>`, up to the end of the file.
fn after_key<'a>(plist: &'a str, name: &str) -> &'a str {
    let tag = format!("<key>{name}</key>");
    let at = plist
        .find(&tag)
        .unwrap_or_else(|| panic!("no <key>{name}</key>"));
    plist[at + tag.len()..].trim_start()
}

#[test]
fn daemon_plist_has_required_keys() {
    let p = LAUNCHD_DAEMON;
    assert!(after_key(p, "Label").starts_with("<string>dev.agentkeys.daemon</string>"));
    let args = after_key(p, "ProgramArguments");
    let args = &args[..args.find("</array>").expect("array end")];
    let strings: Vec<&str> = args
        .split("<string>")
        .skip(1)
        .filter_map(|s| s.split("</string>").next())
        .collect();
    assert_eq!(strings, ["@DAEMON_BIN@", "serve"]);
    assert!(after_key(p, "RunAtLoad").starts_with("<true/>"));
    let keep_alive = after_key(p, "KeepAlive");
    assert!(after_key(keep_alive, "SuccessfulExit").starts_with("<false/>"));
    assert!(after_key(p, "StandardOutPath").starts_with("<string>@LOG_DIR@/"));
    assert!(after_key(p, "StandardErrorPath").starts_with("<string>@LOG_DIR@/"));
    assert!(after_key(p, "Umask").starts_with("<integer>63</integer>"));
}

#[test]
fn relay_plist_has_required_keys() {
    let p = LAUNCHD_RELAY;
    assert!(after_key(p, "Label").starts_with("<string>dev.agentkeys.relay</string>"));
    assert!(after_key(p, "ProgramArguments")
        .starts_with("<array>\n\t\t<string>/usr/local/bin/agentkeys-relay</string>"));
    assert!(after_key(p, "RunAtLoad").starts_with("<true/>"));
    assert!(after_key(p, "UserName").starts_with("<string>_agentkeys</string>"));
    assert!(after_key(p, "KeepAlive").starts_with("<dict>"));
}

#[test]
fn rendered_daemon_units_have_no_placeholders() {
    let bin = Path::new("/usr/bin/agentkeys-daemon");
    for platform in [Platform::Systemd, Platform::Launchd] {
        let text = template::render_daemon(platform, bin, Path::new("/var/log/x")).expect("render");
        assert!(!text.contains('@'), "{platform:?}:\n{text}");
    }
}

fn tool_exists(name: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|dir| dir.join(name).is_file()))
        .unwrap_or(false)
}

/// Complaints about a unit file come as `path:line: message`; any of them
/// means the unit would be (partly) ignored.
#[cfg(target_os = "linux")]
fn verify(unit: &Path, user: bool, runtime_dir: &Path) -> Result<(), String> {
    let mut cmd = Command::new("systemd-analyze");
    if user {
        cmd.arg("--user").env("XDG_RUNTIME_DIR", runtime_dir);
    }
    let out = cmd
        .arg("verify")
        .arg(unit)
        .output()
        .map_err(|e| e.to_string())?;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let name = unit.to_string_lossy();
    if out.status.success() && !stderr.lines().any(|l| l.contains(&*name)) {
        Ok(())
    } else {
        Err(stderr)
    }
}

// The README's test command installs systemd-analyze on Linux; a missing tool fails here.
#[cfg(target_os = "linux")]
#[test]
fn systemd_analyze_accepts_the_units() {
    assert!(
        tool_exists("systemd-analyze"),
        "systemd-analyze is not installed (Debian package systemd; scripts/test.sh installs it)"
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    // verify insists that ExecStart= names an existing executable.
    let real = std::env::current_exe().expect("current exe");
    let daemon = tmp.path().join("agentkeys-daemon.service");
    let text = template::render_daemon(Platform::Systemd, &real, tmp.path()).expect("render");
    std::fs::write(&daemon, text).expect("write");
    let relay = tmp.path().join("agentkeys-relay.service");
    let text = SYSTEMD_RELAY.replace("/usr/local/bin/agentkeys-relay", &real.to_string_lossy());
    std::fs::write(&relay, text).expect("write");
    let runtime = tempfile::tempdir().expect("runtime dir");

    match verify(&daemon, true, runtime.path()) {
        Ok(()) => {}
        // Without a usable user manager environment, system mode still
        // checks every key of the file.
        Err(e) if e.contains("Failed to initialize manager") => {
            println!(
                "user mode unavailable ({}), verifying in system mode",
                e.trim()
            );
            verify(&daemon, false, runtime.path()).expect("daemon unit");
        }
        Err(e) => panic!("daemon unit:\n{e}"),
    }
    if let Err(e) = verify(&relay, false, runtime.path()) {
        panic!("relay unit:\n{e}");
    }
}

// plutil ships with macOS; on Linux the plists are covered by the required-keys tests.
#[cfg(target_os = "macos")]
#[test]
fn plutil_accepts_the_plists() {
    assert!(tool_exists("plutil"), "plutil is missing");
    let tmp = tempfile::tempdir().expect("tempdir");
    let daemon = tmp.path().join("dev.agentkeys.daemon.plist");
    let text = template::render_daemon(
        Platform::Launchd,
        Path::new("/usr/local/bin/agentkeys-daemon"),
        tmp.path(),
    )
    .expect("render");
    std::fs::write(&daemon, text).expect("write");
    let relay = tmp.path().join("dev.agentkeys.relay.plist");
    std::fs::write(&relay, LAUNCHD_RELAY).expect("write");
    for plist in [&daemon, &relay] {
        let out = Command::new("plutil")
            .arg("-lint")
            .arg(plist)
            .output()
            .expect("run plutil");
        assert!(
            out.status.success(),
            "{}: {}",
            plist.display(),
            String::from_utf8_lossy(&out.stdout)
        );
    }
}
