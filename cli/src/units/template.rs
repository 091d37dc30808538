//! The embedded unit templates and the substitution of their placeholders.

use std::path::Path;

use super::UnitError;

pub(super) const SYSTEMD_DAEMON: &str = include_str!("../../../systemd/agentkeys-daemon.service");
pub(super) const LAUNCHD_DAEMON: &str = include_str!("../../../launchd/dev.agentkeys.daemon.plist");

const DAEMON_BIN: &str = "@DAEMON_BIN@";
const LOG_DIR: &str = "@LOG_DIR@";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Platform {
    /// Linux: a systemd user unit.
    Systemd,
    /// macOS: a launchd LaunchAgent.
    Launchd,
}

impl Platform {
    pub fn current() -> Option<Self> {
        if cfg!(target_os = "macos") {
            Some(Platform::Launchd)
        } else if cfg!(target_os = "linux") {
            Some(Platform::Systemd)
        } else {
            None
        }
    }

    pub fn daemon_unit_file(self) -> &'static str {
        match self {
            Platform::Systemd => "agentkeys-daemon.service",
            Platform::Launchd => "dev.agentkeys.daemon.plist",
        }
    }
}

/// Refuses paths that cannot be written into the unit faithfully.
///
/// systemd splits `ExecStart=` on whitespace and interprets quotes and
/// backslashes, so those are refused rather than escaped: a mistake there
/// would silently run a different program. A plist holds each argument in its
/// own `<string>`, so spaces are fine there (and common on macOS); only
/// control characters, which XML cannot carry reliably, are refused.
pub(super) fn check_daemon_path(platform: Platform, path: &Path) -> Result<(), UnitError> {
    let refuse = |reason| {
        Err(UnitError::InvalidDaemonPath {
            path: path.to_owned(),
            reason,
        })
    };
    if !path.is_absolute() {
        return refuse("the service manager needs an absolute path");
    }
    let Some(text) = path.to_str() else {
        return refuse("it is not valid UTF-8");
    };
    if text.chars().any(char::is_control) {
        return refuse("it contains a newline or other control character");
    }
    if platform == Platform::Systemd
        && text
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '\\'))
    {
        return refuse("it contains whitespace, quotes or backslashes, which ExecStart= would split or unescape");
    }
    Ok(())
}

pub(super) fn render_daemon(
    platform: Platform,
    daemon_bin: &Path,
    log_dir: &Path,
) -> Result<String, UnitError> {
    check_daemon_path(platform, daemon_bin)?;
    // Checked above: absolute, UTF-8, no control characters.
    let bin = daemon_bin.to_string_lossy();
    Ok(match platform {
        // `%` starts a specifier and `$` a variable in ExecStart=.
        Platform::Systemd => {
            SYSTEMD_DAEMON.replace(DAEMON_BIN, &bin.replace('%', "%%").replace('$', "$$"))
        }
        Platform::Launchd => {
            check_daemon_path(platform, log_dir).map_err(|_| UnitError::InvalidDaemonPath {
                path: log_dir.to_owned(),
                reason:
                    "the log directory is not an absolute UTF-8 path without control characters",
            })?;
            LAUNCHD_DAEMON
                .replace(DAEMON_BIN, &xml_escape(&bin))
                .replace(LOG_DIR, &xml_escape(&log_dir.to_string_lossy()))
        }
    })
}

fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            _ => out.push(c),
        }
    }
    out
}
