//! Secret files of the relay (K1, K3 epochs, embedded S3 credentials, the internal token):
//! written 0600 atomically, refused on load when group or others can read them.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

#[derive(Debug)]
pub enum SecretFileError {
    Io(PathBuf, String),
    Insecure(PathBuf, u32),
}

impl std::fmt::Display for SecretFileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretFileError::Io(p, e) => write!(f, "{}: {e}", p.display()),
            SecretFileError::Insecure(p, mode) => write!(
                f,
                "{} has mode {:o}; secret files must be readable by their owner only (chmod 600)",
                p.display(),
                mode & 0o777
            ),
        }
    }
}

fn io_err(path: &Path, e: std::io::Error) -> SecretFileError {
    SecretFileError::Io(path.to_path_buf(), e.to_string())
}

/// Creates `dir` (and parents) with mode 0700.
pub fn private_dir(dir: &Path) -> Result<(), SecretFileError> {
    fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(|e| io_err(dir, e))
}

/// Writes a secret atomically: temp file 0600, fsync, rename, fsync of the directory.
pub fn write_secret_file(path: &Path, contents: &[u8]) -> Result<(), SecretFileError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    private_dir(dir)?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("secret"),
        std::process::id()
    ));
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| io_err(&tmp, e))?;
    file.write_all(contents).map_err(|e| io_err(&tmp, e))?;
    file.sync_all().map_err(|e| io_err(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| io_err(path, e))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err(dir, e))
}

/// Reads a secret file, refusing it if group or others have any access.
pub fn read_secret_file(path: &Path) -> Result<Option<Zeroizing<Vec<u8>>>, SecretFileError> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(path, e)),
    };
    let mode = file
        .metadata()
        .map_err(|e| io_err(path, e))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(SecretFileError::Insecure(path.to_path_buf(), mode));
    }
    let mut buf = Zeroizing::new(Vec::new());
    file.read_to_end(&mut buf).map_err(|e| io_err(path, e))?;
    Ok(Some(buf))
}

/// Loads the secret at `path`, or creates it with `make` on first boot.
pub fn load_or_create(
    path: &Path,
    make: impl FnOnce() -> Zeroizing<Vec<u8>>,
) -> Result<Zeroizing<Vec<u8>>, SecretFileError> {
    if let Some(existing) = read_secret_file(path)? {
        return Ok(existing);
    }
    let fresh = make();
    write_secret_file(path, &fresh)?;
    Ok(fresh)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k/secret.key");
        write_secret_file(&p, b"abc").unwrap();
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(&read_secret_file(&p).unwrap().unwrap()[..], b"abc");
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            read_secret_file(&p),
            Err(SecretFileError::Insecure(_, _))
        ));
        assert!(read_secret_file(&dir.path().join("missing"))
            .unwrap()
            .is_none());
    }
}
