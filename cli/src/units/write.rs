//! Writing unit files so that a crash or a full disk never leaves a
//! half-written unit for the service manager to choke on.

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Writes `contents` to a temporary file beside `path`, then renames it over
/// `path`, creating parent directories as needed.
pub(super) fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "unit path has no parent directory or file name",
        ));
    };
    fs::create_dir_all(dir)?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = dir.join(tmp_name);
    // Left over from an interrupted run with the same pid; harmless to drop.
    let _ = fs::remove_file(&tmp);
    let result = write_new(&tmp, contents, mode).and_then(|()| fs::rename(&tmp, path));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
        return result;
    }
    // Make the rename itself durable; not all filesystems allow syncing a
    // directory, and the unit is already in place, so this is best effort.
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

fn write_new(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)?;
    file.write_all(contents)?;
    // The umask may have narrowed `mode`; units must be world-readable for
    // some service managers to accept them.
    file.set_permissions(Permissions::from_mode(mode))?;
    file.sync_all()
}

/// Creates `dir` (and parents) readable only by the user: daemon logs can
/// mention which credentials were used.
pub(super) fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}
