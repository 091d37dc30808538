//! What the daemon and the CLI check before trusting the other end of the daemon socket.
//!
//! Whoever controls the socket's folder controls what the CLI connects to (a fake socket) and,
//! through a symbolic link, what the daemon creates or changes. So both sides look at the
//! folder with `lstat` and use it only when it is a real directory, owned by this user, with no
//! group or other permission bits; nothing here ever follows, creates under or changes a folder
//! that fails that. And since a folder can be right while the listener is not (a path given by
//! hand), each connection's peer must run as this user too.

use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::error::ErrorCode;

/// The effective uid: the user the socket, its folder and its peers must belong to.
pub fn euid() -> u32 {
    // SAFETY: geteuid takes no arguments, touches no memory of ours and cannot fail.
    unsafe { libc::geteuid() }
}

/// One check for both ends of the socket: the daemon on each accepted connection, the CLI on
/// each connection it opens. A peer whose credentials cannot be read is not ours.
pub fn peer_is_us(peer_uid: Option<u32>) -> bool {
    peer_uid == Some(euid())
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    Symlink,
    NotADirectory,
    ForeignOwner { owner: u32, ours: u32 },
    OpenToOthers { mode: u32 },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Symlink => {
                f.write_str("is a symbolic link, which its owner can point anywhere")
            }
            Problem::NotADirectory => f.write_str("is not a directory"),
            Problem::ForeignOwner { owner, ours } => {
                write!(f, "belongs to uid {owner}, not to this user (uid {ours})")
            }
            Problem::OpenToOthers { mode } => {
                write!(
                    f,
                    "is open to group or others (mode {mode:04o}, must be 0700)"
                )
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PrivateDirError {
    #[error(
        "the runtime folder {} {problem}; refusing to use it. If it is yours, remove it or \
         `chmod 700` it; otherwise set XDG_RUNTIME_DIR (or TMPDIR) to a folder of your own",
        path.display()
    )]
    Insecure { path: PathBuf, problem: Problem },
    #[error("the runtime folder {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
}

impl PrivateDirError {
    pub fn code(&self) -> ErrorCode {
        match self {
            PrivateDirError::Insecure { .. } => ErrorCode::RuntimeDirInsecure,
            PrivateDirError::Io { .. } => ErrorCode::Internal,
        }
    }

    /// The folder does not exist (yet): for the CLI, no daemon ever listened there.
    pub fn is_not_found(&self) -> bool {
        matches!(self, PrivateDirError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> PrivateDirError + '_ {
    move |source| PrivateDirError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The folder as it is, without following a link at its last component. `uid` is the owner
/// it must have (the caller's [`euid`]; a parameter so tests can play another user).
pub fn check_private_dir(dir: &Path, uid: u32) -> Result<(), PrivateDirError> {
    let meta = std::fs::symlink_metadata(dir).map_err(io_err(dir))?;
    let problem = if meta.file_type().is_symlink() {
        Some(Problem::Symlink)
    } else if !meta.is_dir() {
        Some(Problem::NotADirectory)
    } else if meta.uid() != uid {
        Some(Problem::ForeignOwner {
            owner: meta.uid(),
            ours: uid,
        })
    } else if meta.mode() & 0o077 != 0 {
        Some(Problem::OpenToOthers {
            mode: meta.mode() & 0o7777,
        })
    } else {
        None
    };
    match problem {
        Some(problem) => Err(PrivateDirError::Insecure {
            path: dir.to_path_buf(),
            problem,
        }),
        None => Ok(()),
    }
}

/// Creates the folder 0700 when it is absent, then checks it. `mkdir` is atomic and never
/// follows a link at the last component (an existing link is `EEXIST`), so a folder planted
/// by someone else, or a link to one, is found by the check and refused, never adopted.
pub fn ensure_private_dir(dir: &Path, uid: u32) -> Result<(), PrivateDirError> {
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        // The parent ($XDG_RUNTIME_DIR, the temp folder, AGENTKEYS_HOME) is the user's own
        // choice; only a missing one is made, private like everything made here.
        if !parent.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .map_err(io_err(parent))?;
        }
    }
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io_err(dir)(e)),
    }
    check_private_dir(dir, uid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn problem(r: Result<(), PrivateDirError>) -> Problem {
        match r {
            Err(PrivateDirError::Insecure { problem, .. }) => problem,
            other => panic!("expected an insecure folder, got {other:?}"),
        }
    }

    #[test]
    fn a_missing_folder_is_made_private() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b/agentkeys");
        ensure_private_dir(&dir, euid()).unwrap();
        let mode = std::fs::symlink_metadata(&dir).unwrap().mode();
        assert_eq!(mode & 0o777, 0o700);
        // Again: an existing private folder is fine.
        ensure_private_dir(&dir, euid()).unwrap();
        check_private_dir(&dir, euid()).unwrap();
    }

    #[test]
    fn an_absent_folder_is_not_found_for_the_check() {
        let tmp = tempfile::tempdir().unwrap();
        let err = check_private_dir(&tmp.path().join("none"), euid()).unwrap_err();
        assert!(err.is_not_found(), "{err}");
    }

    #[test]
    fn links_loose_modes_files_and_other_owners_are_refused_untouched() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("target");
        std::fs::create_dir(&target).unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o777)).unwrap();
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = ensure_private_dir(&link, euid()).unwrap_err();
        assert_eq!(err.code(), ErrorCode::RuntimeDirInsecure);
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(problem(Err(err)), Problem::Symlink);
        // The link's target keeps its mode: nothing followed it.
        let mode = std::fs::metadata(&target).unwrap().mode();
        assert_eq!(mode & 0o777, 0o777);
        assert_eq!(
            problem(ensure_private_dir(&target, euid())),
            Problem::OpenToOthers { mode: 0o777 }
        );
        assert_eq!(std::fs::metadata(&target).unwrap().mode() & 0o777, 0o777);

        // A dangling link is refused the same way, and nothing is created at its target.
        let dangling = tmp.path().join("dangling");
        std::os::unix::fs::symlink(tmp.path().join("nowhere"), &dangling).unwrap();
        assert_eq!(
            problem(ensure_private_dir(&dangling, euid())),
            Problem::Symlink
        );
        assert!(!tmp.path().join("nowhere").exists());

        let file = tmp.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        assert_eq!(
            problem(ensure_private_dir(&file, euid())),
            Problem::NotADirectory
        );

        let mine = tmp.path().join("mine");
        ensure_private_dir(&mine, euid()).unwrap();
        let other = euid().wrapping_add(1);
        let err = check_private_dir(&mine, other).unwrap_err();
        assert!(
            err.to_string().contains(&mine.display().to_string()),
            "{err}"
        );
        assert_eq!(
            problem(Err(err)),
            Problem::ForeignOwner {
                owner: euid(),
                ours: other
            }
        );
    }

    #[test]
    fn only_our_own_uid_is_a_trusted_peer() {
        assert!(peer_is_us(Some(euid())));
        assert!(!peer_is_us(Some(euid().wrapping_add(1))));
        assert!(!peer_is_us(None));
    }
}
