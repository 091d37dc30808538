//! Finding the `agentkeys-daemon` binary the unit should start.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::UnitError;

pub(super) const DAEMON_BIN_NAME: &str = "agentkeys-daemon";

pub(super) fn locate_in(
    exe: Option<&Path>,
    path_var: Option<&OsStr>,
) -> Result<PathBuf, UnitError> {
    let beside = exe
        .and_then(Path::parent)
        .map(|dir| dir.join(DAEMON_BIN_NAME));
    let on_path = path_var
        .into_iter()
        .flat_map(std::env::split_paths)
        // A relative entry ("." or "bin") means something else to the
        // service manager, and is the classic way to plant a binary.
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(DAEMON_BIN_NAME));
    beside
        .into_iter()
        .chain(on_path)
        .find(|candidate| is_executable_file(candidate))
        .ok_or(UnitError::DaemonBinaryNotFound)
}

fn is_executable_file(path: &Path) -> bool {
    std::fs::metadata(path)
        .map(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}
