//! Choosing a backend for the configured mode.

use std::ffi::OsStr;

use super::file_store::FileStore;
use super::os_store::{OsKind, OsStore};
use super::{KeychainConfig, KeychainError, KeychainMode};

#[derive(Debug)]
pub(crate) enum Backend {
    Os(OsStore),
    File(FileStore),
}

/// OS backends worth trying, best first. Secret Service is tried only with a session bus
/// address: without one, connecting fails anyway, and zbus may first try to autolaunch a
/// bus, which is slow and has side effects on headless machines.
pub(crate) fn os_candidates(dbus_session_address: Option<&OsStr>) -> Vec<OsKind> {
    let mut kinds = Vec::new();
    if cfg!(target_os = "macos") {
        kinds.push(OsKind::MacosKeychain);
    }
    if cfg!(target_os = "linux") {
        if dbus_session_address.is_some_and(|a| !a.is_empty()) {
            kinds.push(OsKind::SecretService);
        }
        kinds.push(OsKind::Keyutils);
    }
    kinds
}

/// Names must be non-empty and printable; the service may not contain `@` because keyutils
/// names keys `keyring:<account>@<service>`, and an `@` in the service would let two
/// different service/account pairs map to the same key.
pub(crate) fn validate(config: &KeychainConfig) -> Result<(), KeychainError> {
    for (what, value) in [("service", &config.service), ("account", &config.account)] {
        if value.is_empty() || value.len() > 200 || value.chars().any(char::is_control) {
            return Err(KeychainError::InvalidConfig(format!(
                "{what} must be 1-200 printable characters"
            )));
        }
    }
    if config.service.contains('@') {
        return Err(KeychainError::InvalidConfig(
            "service must not contain '@'".to_string(),
        ));
    }
    Ok(())
}

pub(crate) fn select(
    config: &KeychainConfig,
    candidates: &[OsKind],
) -> Result<Backend, KeychainError> {
    validate(config)?;
    let file = FileStore::new(&config.file_dir);
    match config.mode {
        KeychainMode::File => Ok(Backend::File(file)),
        KeychainMode::Os => {
            let mut failures = Vec::new();
            for &kind in candidates {
                match OsStore::probe(kind, &config.service, &config.account) {
                    Ok(store) => return Ok(Backend::Os(store)),
                    Err(e) => failures.push(note_failure(kind, &e)),
                }
            }
            Err(KeychainError::NoBackend(no_backend_reason(&failures)))
        }
        KeychainMode::Auto => {
            let mut working = Vec::new();
            for &kind in candidates {
                match OsStore::probe(kind, &config.service, &config.account) {
                    Ok(store) => working.push(store),
                    Err(e) => {
                        note_failure(kind, &e);
                    }
                }
            }
            // A key that already exists anywhere wins over backend preference: picking an
            // empty backend would silently give the device a new identity, e.g. when a
            // D-Bus session appears on a box whose key was made in keyutils, or when a
            // keychain starts working on a box that had to use the file.
            for store in &working {
                match store.has_entry() {
                    Ok(true) => return Ok(Backend::Os(store.clone())),
                    Ok(false) => {}
                    Err(e) => {
                        note_failure(store.kind(), &e);
                    }
                }
            }
            if file.has_entry() {
                return Ok(Backend::File(file));
            }
            Ok(working
                .into_iter()
                .next()
                .map_or(Backend::File(file), Backend::Os))
        }
    }
}

fn note_failure(kind: OsKind, err: &KeychainError) -> String {
    tracing::info!(backend = kind.name(), error = %err, "keychain backend not usable");
    format!("{}: {err}", kind.name())
}

fn no_backend_reason(failures: &[String]) -> String {
    if failures.is_empty() {
        "this platform has no supported OS keychain".to_string()
    } else {
        failures.join("; ")
    }
}
