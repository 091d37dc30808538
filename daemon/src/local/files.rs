//! JSON files written whole or not at all: a temporary file in the same folder, fsync, rename.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

use agentkeys_core::error::{ApiError, ErrorCode};
use serde::de::DeserializeOwned;
use serde::Serialize;

fn failure(what: &str, path: &Path, e: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        ErrorCode::Internal,
        format!("{what} {} failed: {e}", path.display()),
    )
}

/// `None` when the file does not exist.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, ApiError> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| failure("reading", path, e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(failure("reading", path, e)),
    }
}

pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), ApiError> {
    let dir = path
        .parent()
        .ok_or_else(|| failure("writing", path, "no parent folder"))?;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| failure("creating the folder of", path, e))?;
    let bytes = serde_json::to_vec_pretty(value).map_err(|e| failure("encoding", path, e))?;
    // tempfile creates the file 0600 and exclusively, so nobody else can open it in between.
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| failure("writing", path, e))?;
    tmp.write_all(&bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| failure("writing", path, e))?;
    tmp.persist(path)
        .map_err(|e| failure("replacing", path, e.error))?;
    let _ = fs::set_permissions(path, fs::Permissions::from_mode(0o600));
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_is_private_and_absent_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/x.json");
        assert_eq!(read_json::<Vec<u32>>(&path).unwrap(), None);
        write_json(&path, &vec![1u32, 2]).unwrap();
        assert_eq!(read_json::<Vec<u32>>(&path).unwrap(), Some(vec![1, 2]));
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        fs::write(&path, b"{").unwrap();
        assert_eq!(
            read_json::<Vec<u32>>(&path).unwrap_err().code,
            ErrorCode::Internal
        );
    }
}
