//! Device key storage in the OS keychain.
//!
//! The device key (K10) is the device's secp256k1 private key; its EVM address is the
//! device identity. It lives in the OS keychain: the macOS Keychain, the Linux Secret
//! Service (only when a D-Bus session answers), or Linux kernel keyutils. Only when none of
//! them works does it fall back to an encrypted file (see `file_store.rs` for why that is
//! weaker), and then [`DeviceKeyStore::is_file_fallback`] is true so the daemon can announce
//! it on every start.
//!
//! Every backend stores the key as `agentkeys:k10:v1:<hex>`; anything else under the same
//! name is refused with [`KeychainError::WrongPurpose`].
//!
//! All calls block (Secret Service calls run on a helper thread bounded by a timeout);
//! async callers should use `spawn_blocking`.

mod encoding;
mod error;
mod file_store;
mod os_store;
mod select;

#[cfg(test)]
mod tests;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use zeroize::Zeroizing;

pub use error::KeychainError;
pub use file_store::{KEY_FILE, WRAP_FILE};

use select::Backend;

/// Default keychain service name.
pub const DEFAULT_SERVICE: &str = "agentkeys";
/// Default keychain account for the device key.
pub const DEFAULT_ACCOUNT: &str = "device-k10";

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeychainMode {
    /// The first OS keychain that works, else the encrypted file.
    #[default]
    Auto,
    /// An OS keychain or an error; never the file.
    Os,
    /// The encrypted file only.
    File,
}

impl KeychainMode {
    pub fn as_str(self) -> &'static str {
        match self {
            KeychainMode::Auto => "auto",
            KeychainMode::Os => "os",
            KeychainMode::File => "file",
        }
    }
}

impl fmt::Display for KeychainMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `"auto"`, `"os"` or `"file"` was expected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown keychain mode {0:?}; expected \"auto\", \"os\" or \"file\"")]
pub struct UnknownKeychainMode(pub String);

impl FromStr for KeychainMode {
    type Err = UnknownKeychainMode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(KeychainMode::Auto),
            "os" => Ok(KeychainMode::Os),
            "file" => Ok(KeychainMode::File),
            other => Err(UnknownKeychainMode(other.to_string())),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeychainConfig {
    pub mode: KeychainMode,
    /// Keychain service name, e.g. [`DEFAULT_SERVICE`]. Must not contain `@`.
    pub service: String,
    /// Keychain account, e.g. [`DEFAULT_ACCOUNT`] or a per-profile name.
    pub account: String,
    /// Where the fallback files live. Their names are fixed ([`KEY_FILE`], [`WRAP_FILE`]),
    /// so profiles that each need their own fallback key need their own directory.
    pub file_dir: PathBuf,
}

impl KeychainConfig {
    /// The default service and account with the given mode and fallback directory.
    pub fn new(mode: KeychainMode, file_dir: impl Into<PathBuf>) -> Self {
        KeychainConfig {
            mode,
            service: DEFAULT_SERVICE.to_string(),
            account: DEFAULT_ACCOUNT.to_string(),
            file_dir: file_dir.into(),
        }
    }
}

/// Where the device key lives. Holds no key material itself: every `load` reads the
/// backend afresh and hands the caller a zeroizing buffer.
pub struct DeviceKeyStore {
    backend: Backend,
    service: String,
    account: String,
}

impl fmt::Debug for DeviceKeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceKeyStore")
            .field("backend", &self.backend())
            .field("service", &self.service)
            .field("account", &self.account)
            .field("file", &self.file_path())
            .finish()
    }
}

impl DeviceKeyStore {
    /// Auto: an OS backend that passes a probe (write, read back, delete a throwaway
    /// entry), in the order macOS Keychain / Secret Service / keyutils, else the file
    /// fallback; but a backend that already holds an entry for this account is kept, so a
    /// change in what is available never silently replaces the device identity.
    /// Os: the first OS backend that passes the probe, or `NoBackend`. File: file only.
    pub fn open(config: &KeychainConfig) -> Result<DeviceKeyStore, KeychainError> {
        let dbus = std::env::var_os("DBUS_SESSION_BUS_ADDRESS");
        let candidates = select::os_candidates(dbus.as_deref());
        Self::open_with_candidates(config, &candidates)
    }

    fn open_with_candidates(
        config: &KeychainConfig,
        candidates: &[os_store::OsKind],
    ) -> Result<DeviceKeyStore, KeychainError> {
        let backend = select::select(config, candidates)?;
        let store = DeviceKeyStore {
            backend,
            service: config.service.clone(),
            account: config.account.clone(),
        };
        store.announce();
        Ok(store)
    }

    fn announce(&self) {
        match &self.backend {
            Backend::File(file) => tracing::warn!(
                path = %file.key_path().display(),
                "NO OS KEYCHAIN IN USE: the device key is kept in an encrypted file whose \
                 wrapping key sits beside it, so it is protected only by file permissions"
            ),
            Backend::Os(os) if !os.survives_reboot() => {
                if os.persistent_keyring() {
                    tracing::warn!(
                        backend = self.backend(),
                        "device key is in kernel keyutils: it survives logout but not a reboot"
                    );
                } else {
                    tracing::warn!(
                        backend = self.backend(),
                        "device key is in kernel keyutils without a persistent keyring: it \
                         lasts only as long as this login session"
                    );
                }
            }
            Backend::Os(_) => {
                tracing::info!(backend = self.backend(), "device key storage selected")
            }
        }
    }

    /// `"macos-keychain"`, `"secret-service"`, `"keyutils"` or `"encrypted-file"`.
    pub fn backend(&self) -> &'static str {
        match &self.backend {
            Backend::Os(os) => os.kind().name(),
            Backend::File(_) => "encrypted-file",
        }
    }

    pub fn is_file_fallback(&self) -> bool {
        matches!(self.backend, Backend::File(_))
    }

    /// False for keyutils, which lives in kernel memory and is emptied by a reboot.
    pub fn survives_reboot(&self) -> bool {
        match &self.backend {
            Backend::Os(os) => os.survives_reboot(),
            Backend::File(_) => true,
        }
    }

    /// The key file, for the fallback announcement; `None` for OS backends.
    pub fn file_path(&self) -> Option<PathBuf> {
        match &self.backend {
            Backend::File(file) => Some(file.key_path()),
            Backend::Os(_) => None,
        }
    }

    /// `None` when no key is stored yet.
    pub fn load(&self) -> Result<Option<Zeroizing<[u8; 32]>>, KeychainError> {
        match &self.backend {
            Backend::Os(os) => os.load(),
            Backend::File(file) => file.load(),
        }
    }

    /// Refuses to overwrite an existing key (KeychainError::AlreadyExists).
    pub fn create(&self, secret: &Zeroizing<[u8; 32]>) -> Result<(), KeychainError> {
        match &self.backend {
            Backend::Os(os) => os.create(secret),
            Backend::File(file) => file.create(secret),
        }
    }

    /// Removes the key; succeeds when there is none.
    pub fn delete(&self) -> Result<(), KeychainError> {
        match &self.backend {
            Backend::Os(os) => os.delete(),
            Backend::File(file) => file.delete(),
        }
    }
}
