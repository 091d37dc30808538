//! Where the CLI, the daemon and the embedded relay keep their files.
//!
//! `AGENTKEYS_HOME`, when set, puts everything under one directory (tests and portable
//! installs); otherwise the platform's conventions from `directories` apply (XDG on Linux,
//! Application Support on macOS). The daemon socket lives in the per-user runtime directory
//! `$XDG_RUNTIME_DIR/agentkeys`, else `$TMPDIR/agentkeys-<uid>` (the system temp folder when
//! TMPDIR is unset): a temp folder may be shared by all users, so the name is per uid, and the
//! daemon and the CLI refuse the folder unless it is ours, 0700 and not a link (`local_user`).

use std::path::PathBuf;

use crate::local_user;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths {
    /// daemon.toml and other settings
    pub config_dir: PathBuf,
    /// the embedded relay's data (objects, keys, audit) and the daemon's fallback key file
    pub data_dir: PathBuf,
    /// logs and pid files
    pub state_dir: PathBuf,
    /// the daemon socket's folder (ours, 0700, not a link)
    pub runtime_dir: PathBuf,
}

/// Without a runtime directory of the session: a folder in the temp directory, named per uid
/// since that directory may be shared by every user of the machine.
pub fn fallback_runtime_dir(uid: u32) -> PathBuf {
    std::env::temp_dir().join(format!("agentkeys-{uid}"))
}

impl Paths {
    pub fn resolve() -> Option<Paths> {
        if let Some(home) = std::env::var_os("AGENTKEYS_HOME").filter(|h| !h.is_empty()) {
            let home = PathBuf::from(home);
            return Some(Paths {
                config_dir: home.join("config"),
                data_dir: home.join("data"),
                state_dir: home.join("state"),
                runtime_dir: home.join("run"),
            });
        }
        let dirs = directories::ProjectDirs::from("dev", "agentkeys", "agentkeys")?;
        let runtime_dir = std::env::var_os("XDG_RUNTIME_DIR")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .or_else(|| dirs.runtime_dir().map(PathBuf::from))
            .map(|base| base.join("agentkeys"))
            .unwrap_or_else(|| fallback_runtime_dir(local_user::euid()));
        Some(Paths {
            config_dir: dirs.config_dir().to_path_buf(),
            data_dir: dirs.data_dir().to_path_buf(),
            state_dir: dirs
                .state_dir()
                .unwrap_or(dirs.data_local_dir())
                .to_path_buf(),
            runtime_dir,
        })
    }

    /// `AGENTKEYS_SOCKET` overrides the socket path.
    pub fn socket(&self) -> PathBuf {
        match std::env::var_os("AGENTKEYS_SOCKET").filter(|s| !s.is_empty()) {
            Some(p) => PathBuf::from(p),
            None => self.runtime_dir.join("daemon.sock"),
        }
    }

    pub fn relay_data_dir(&self) -> PathBuf {
        self.data_dir.join("relay")
    }

    pub fn daemon_config(&self) -> PathBuf {
        self.config_dir.join("daemon.toml")
    }

    pub fn daemon_pid(&self) -> PathBuf {
        self.state_dir.join("daemon.pid")
    }

    pub fn relay_pid(&self) -> PathBuf {
        self.state_dir.join("relay.pid")
    }

    pub fn daemon_log(&self) -> PathBuf {
        self.state_dir.join("daemon.log")
    }

    pub fn relay_log(&self) -> PathBuf {
        self.state_dir.join("relay.log")
    }

    /// The embedded relay writes its bound address here once it listens.
    pub fn relay_addr_file(&self) -> PathBuf {
        self.relay_data_dir().join("relay.addr")
    }
}
