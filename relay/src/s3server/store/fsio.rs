//! Durable file system primitives: write-then-rename with fsyncs, private permissions.
//!
//! All functions here block; callers run them under `spawn_blocking`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use rand::RngCore;

/// A fully written and fsync'd file in the temp directory, not yet visible under its final
/// name. Dropping it without [`TempFile::commit`] deletes it.
pub struct TempFile {
    path: PathBuf,
    committed: bool,
}

impl TempFile {
    /// Writes `parts` to a new file in `tmp_dir` and fsyncs it, so that after the rename the
    /// data is on disk before the name is.
    pub fn write(tmp_dir: &Path, parts: &[&[u8]]) -> io::Result<Self> {
        let mut name = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut name);
        let path = tmp_dir.join(format!("{}.tmp", hex::encode(name)));
        let mut file = private_options().write(true).create_new(true).open(&path)?;
        let temp = Self {
            path,
            committed: false,
        };
        for part in parts {
            file.write_all(part)?;
        }
        file.sync_all()?;
        Ok(temp)
    }

    /// Atomically replaces `dest` with this file, then fsyncs `dest`'s directory so the new
    /// name survives a crash. Readers see either the old file or this one, never a mix.
    pub fn commit(mut self, dest: &Path) -> io::Result<()> {
        fs::rename(&self.path, dest)?;
        self.committed = true;
        sync_parent(dest)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        let path = std::mem::take(&mut self.path);
        // Dropped on an async worker when a request is cancelled: keep the unlink off it.
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn_blocking(move || remove_quietly(&path));
            }
            Err(_) => remove_quietly(&path),
        }
    }
}

fn remove_quietly(path: &Path) {
    if let Err(err) = fs::remove_file(path) {
        if err.kind() != io::ErrorKind::NotFound {
            tracing::warn!(path = %path.display(), error = %err, "cannot remove temp file");
        }
    }
}

/// Fsyncs the directory containing `path`, making a rename or unlink in it durable.
pub fn sync_parent(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(dir) => sync_dir(dir),
        None => Ok(()),
    }
}

#[cfg(unix)]
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
pub fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// Creates one directory readable only by the owner (objects may hold credentials).
pub fn create_private_dir(path: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)
}

/// Like [`create_private_dir`] but succeeds if the directory already exists.
pub fn ensure_private_dir(path: &Path) -> io::Result<()> {
    match create_private_dir(path) {
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => Ok(()),
        other => other,
    }
}

fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

/// Removes every leftover temp file. Only safe before the store serves requests: a temp
/// file is then the remains of a write that was never acknowledged.
pub fn clear_dir(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}
