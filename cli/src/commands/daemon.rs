//! `agentkeys daemon install [--no-load] [--print]`.

use agentkeys_core::error::exit;

use crate::error::CliError;
use crate::output;
use crate::units::{self, InstallOptions, UnitError};

pub fn install(no_load: bool, print: bool) -> Result<i32, CliError> {
    let daemon_bin = units::locate_daemon_bin().map_err(unit_error)?;
    let report = units::install_daemon_unit(&InstallOptions {
        daemon_bin,
        load: !no_load,
        print_only: print,
    })
    .map_err(unit_error)?;
    if print {
        output::note(&format!("# would write {}", report.unit_path.display()));
        output::bytes(report.unit_text.as_bytes())?;
        return Ok(0);
    }
    output::line(&format!("wrote {}", report.unit_path.display()))?;
    for command in &report.commands_run {
        output::line(&format!("ran: {command}"))?;
    }
    if report.loaded {
        output::line("the daemon service is loaded and started")?;
    } else {
        output::line("not loaded (--no-load)")?;
    }
    Ok(0)
}

fn unit_error(e: UnitError) -> CliError {
    let code = match &e {
        UnitError::InvalidDaemonPath { .. } => exit::INVALID_INPUT,
        UnitError::UnsupportedPlatform => exit::UNAVAILABLE,
        _ => exit::FAILURE,
    };
    CliError::other(e.code(), e.to_string(), code)
}
