//! Service units for the daemon: `agentkeys daemon install`.
//!
//! The unit templates live in the repository's `systemd/` and `launchd/`
//! folders (so packagers can use them as they are) and are embedded here at
//! build time. Installing fills in the daemon's absolute path, writes the
//! user-level unit atomically and asks the service manager to load it.

mod error;
mod load;
mod locate;
mod template;
mod write;

use std::path::PathBuf;

pub use error::UnitError;
pub use template::Platform;

use load::{Runner, SystemRunner};

#[derive(Debug, Clone)]
pub struct InstallOptions {
    /// Absolute path of `agentkeys-daemon`, usually from [`locate_daemon_bin`].
    pub daemon_bin: PathBuf,
    /// Ask the service manager to (re)load and start the unit.
    pub load: bool,
    /// Render and report only; write and run nothing.
    pub print_only: bool,
}

#[derive(Debug)]
pub struct InstallReport {
    /// Where the unit was (or, with `print_only`, would be) written.
    pub unit_path: PathBuf,
    pub loaded: bool,
    /// Service manager commands that ran, for the user to see or repeat.
    pub commands_run: Vec<String>,
    /// The rendered unit, for `--print`.
    pub unit_text: String,
}

/// Where the current user's units and daemon logs go.
pub(crate) struct UnitDirs {
    pub unit_dir: PathBuf,
    /// Only launchd needs one; systemd sends output to the journal.
    pub log_dir: PathBuf,
}

impl UnitDirs {
    fn for_current_user(platform: Platform) -> Result<Self, UnitError> {
        let base = directories::BaseDirs::new().ok_or(UnitError::NoHomeDir)?;
        Ok(match platform {
            Platform::Systemd => UnitDirs {
                unit_dir: base.config_dir().join("systemd").join("user"),
                log_dir: base.home_dir().join(".local/state/agentkeys"),
            },
            Platform::Launchd => UnitDirs {
                unit_dir: base.home_dir().join("Library/LaunchAgents"),
                log_dir: base.home_dir().join("Library/Logs/agentkeys"),
            },
        })
    }
}

/// The daemon next to the running `agentkeys` (so an install from one
/// release archive or build directory stays consistent), else the first one
/// on PATH.
pub fn locate_daemon_bin() -> Result<PathBuf, UnitError> {
    let exe = std::env::current_exe().ok();
    let path_var = std::env::var_os("PATH");
    locate::locate_in(exe.as_deref(), path_var.as_deref())
}

/// Writes the daemon's user service unit for this OS and, unless told not
/// to, loads and starts it.
pub fn install_daemon_unit(opts: &InstallOptions) -> Result<InstallReport, UnitError> {
    let platform = Platform::current().ok_or(UnitError::UnsupportedPlatform)?;
    // Validate before looking at directories so a bad path never gets as far
    // as touching the filesystem.
    template::check_daemon_path(platform, &opts.daemon_bin)?;
    let dirs = UnitDirs::for_current_user(platform)?;
    install_with(platform, &dirs, opts, &mut SystemRunner)
}

fn install_with(
    platform: Platform,
    dirs: &UnitDirs,
    opts: &InstallOptions,
    runner: &mut dyn Runner,
) -> Result<InstallReport, UnitError> {
    let unit_text = template::render_daemon(platform, &opts.daemon_bin, &dirs.log_dir)?;
    let unit_path = dirs.unit_dir.join(platform.daemon_unit_file());
    let mut report = InstallReport {
        unit_path,
        loaded: false,
        commands_run: Vec::new(),
        unit_text,
    };
    if opts.print_only {
        return Ok(report);
    }
    if platform == Platform::Launchd {
        // launchd creates the log files but not their directory.
        write::create_private_dir(&dirs.log_dir).map_err(|source| UnitError::WriteFailed {
            path: dirs.log_dir.clone(),
            source,
        })?;
    }
    write::write_atomic(&report.unit_path, report.unit_text.as_bytes(), 0o644).map_err(
        |source| UnitError::WriteFailed {
            path: report.unit_path.clone(),
            source,
        },
    )?;
    if opts.load {
        report.commands_run = load::load(platform, &report.unit_path, runner)?;
        report.loaded = true;
    }
    Ok(report)
}

#[cfg(test)]
mod tests;
