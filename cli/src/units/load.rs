//! Asking systemd or launchd to pick up a freshly written unit.

use std::io;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::template::Platform;
use super::UnitError;

const SYSTEMD_UNIT: &str = "agentkeys-daemon.service";
const LAUNCHD_LABEL: &str = "dev.agentkeys.daemon";

/// `bootout` returns before the old job is fully gone, and `bootstrap` fails
/// with an I/O error until it is; retry for up to about two seconds.
const BOOTSTRAP_ATTEMPTS: u32 = 10;
const BOOTSTRAP_RETRY_DELAY: Duration = Duration::from_millis(200);

pub(super) struct Outcome {
    pub success: bool,
    /// Why it failed, in the tool's own words.
    pub detail: String,
}

/// Runs service manager commands; tests substitute a fake.
pub(super) trait Runner {
    fn run(&mut self, argv: &[String]) -> io::Result<Outcome>;
}

pub(super) struct SystemRunner;

impl Runner for SystemRunner {
    fn run(&mut self, argv: &[String]) -> io::Result<Outcome> {
        let Some((program, args)) = argv.split_first() else {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty command"));
        };
        let output = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .output()?;
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        let stdout = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        let detail = [stderr, stdout]
            .into_iter()
            .find(|s| !s.is_empty())
            .unwrap_or_else(|| output.status.to_string());
        Ok(Outcome {
            success: output.status.success(),
            detail,
        })
    }
}

/// Loads the unit at `unit_path`; returns the commands that ran.
pub(super) fn load(
    platform: Platform,
    unit_path: &Path,
    runner: &mut dyn Runner,
) -> Result<Vec<String>, UnitError> {
    let mut session = Session {
        unit_path,
        runner,
        ran: Vec::new(),
    };
    match platform {
        Platform::Systemd => {
            session.must(&["systemctl", "--user", "daemon-reload"])?;
            // `enable --now` starts the daemon if it is not running but leaves
            // a running one alone: restarting it would drop its unlocked
            // state under the user's feet.
            session.must(&["systemctl", "--user", "enable", "--now", SYSTEMD_UNIT])?;
        }
        Platform::Launchd => {
            let domain = format!("gui/{}", nix::unistd::getuid().as_raw());
            let target = format!("{domain}/{LAUNCHD_LABEL}");
            let path = unit_path.to_string_lossy().into_owned();
            // Bootstrapping an already loaded job fails, so unload it first.
            let loaded = session.try_run(&["launchctl", "print", &target])?;
            if loaded {
                session.must(&["launchctl", "bootout", &target])?;
            }
            let bootstrap = ["launchctl", "bootstrap", domain.as_str(), path.as_str()];
            let attempts = if loaded { BOOTSTRAP_ATTEMPTS } else { 1 };
            for attempt in 1..=attempts {
                match session.run(&bootstrap)? {
                    Outcome { success: true, .. } => break,
                    Outcome { detail, .. } if attempt == attempts => {
                        return Err(session.failed(&bootstrap, detail));
                    }
                    _ => std::thread::sleep(BOOTSTRAP_RETRY_DELAY),
                }
            }
        }
    }
    Ok(session.ran)
}

struct Session<'a> {
    unit_path: &'a Path,
    runner: &'a mut dyn Runner,
    ran: Vec<String>,
}

impl Session<'_> {
    /// Runs a command; a missing tool is already a load failure.
    fn run(&mut self, argv: &[&str]) -> Result<Outcome, UnitError> {
        let owned: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        let outcome = self.runner.run(&owned).map_err(|e| {
            let detail = if e.kind() == io::ErrorKind::NotFound {
                format!("{} is not installed or not on PATH", argv[0])
            } else {
                e.to_string()
            };
            self.failed(argv, detail)
        })?;
        self.ran.push(display(argv));
        Ok(outcome)
    }

    fn try_run(&mut self, argv: &[&str]) -> Result<bool, UnitError> {
        Ok(self.run(argv)?.success)
    }

    fn must(&mut self, argv: &[&str]) -> Result<(), UnitError> {
        let outcome = self.run(argv)?;
        if outcome.success {
            Ok(())
        } else {
            Err(self.failed(argv, outcome.detail))
        }
    }

    fn failed(&self, argv: &[&str], detail: String) -> UnitError {
        UnitError::LoadFailed {
            unit_path: self.unit_path.to_owned(),
            command: display(argv),
            stderr: detail,
        }
    }
}

/// Shell-like rendering, quoting only what needs it, so users can paste it.
fn display(argv: &[&str]) -> String {
    argv.iter()
        .map(|arg| {
            if arg.is_empty()
                || arg
                    .chars()
                    .any(|c| c.is_whitespace() || "'\"\\$".contains(c))
            {
                format!("'{}'", arg.replace('\'', r"'\''"))
            } else {
                (*arg).to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
