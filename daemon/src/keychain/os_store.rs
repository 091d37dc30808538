//! OS keychain backends, all reached through the keyring-core `CredentialStore` API.
//!
//! Each store is built directly (never installed as keyring-core's process-wide default
//! store), so several backends can be probed side by side and other code in the process
//! that uses keyring-core is unaffected.

use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use keyring_core::{CredentialStore, Entry};
use rand::RngCore;
use zeroize::Zeroizing;

use super::encoding::{self, PROBE_TAG};
use super::KeychainError;

/// How long a Secret Service probe may take. A D-Bus address can point at a bus that
/// accepts the connection and never answers, or a collection can sit behind an unlock
/// prompt nobody will see; either must not stall daemon start-up.
const SECRET_SERVICE_PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// Bound for Secret Service operations after a successful probe. Longer than the probe
/// because a locked collection may legitimately show the user an unlock prompt.
const SECRET_SERVICE_OP_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OsKind {
    #[cfg_attr(not(target_os = "macos"), allow(dead_code))]
    MacosKeychain,
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    SecretService,
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    Keyutils,
}

impl OsKind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            OsKind::MacosKeychain => "macos-keychain",
            OsKind::SecretService => "secret-service",
            OsKind::Keyutils => "keyutils",
        }
    }

    fn timeouts(self) -> Option<(Duration, Duration)> {
        match self {
            // The secret-service crate drives zbus with its own executor via block_on; on a
            // separate plain thread that also cannot collide with the daemon's tokio runtime.
            OsKind::SecretService => {
                Some((SECRET_SERVICE_PROBE_TIMEOUT, SECRET_SERVICE_OP_TIMEOUT))
            }
            // Keychain Services and keyutils are local calls that return promptly.
            OsKind::MacosKeychain | OsKind::Keyutils => None,
        }
    }

    fn connect(self) -> Result<Arc<CredentialStore>, KeychainError> {
        let built: Result<Arc<CredentialStore>, keyring_core::Error> = match self {
            #[cfg(target_os = "macos")]
            OsKind::MacosKeychain => apple_native_keyring_store::keychain::Store::new()
                .map(|s| s as Arc<CredentialStore>),
            #[cfg(target_os = "linux")]
            OsKind::SecretService => {
                zbus_secret_service_keyring_store::Store::new().map(|s| s as Arc<CredentialStore>)
            }
            // The default configuration links every key into the user's persistent keyring
            // as well as the session keyring, so it outlives the login session that made it.
            #[cfg(target_os = "linux")]
            OsKind::Keyutils => {
                linux_keyutils_keyring_store::Store::new().map(|s| s as Arc<CredentialStore>)
            }
            #[allow(unreachable_patterns)]
            _ => {
                return Err(KeychainError::Backend(format!(
                    "{} is not available on this platform",
                    self.name()
                )))
            }
        };
        built.map_err(|e| map_err(self, "connecting", e))
    }
}

/// Turns a keyring-core error into ours without ever formatting the byte payloads that
/// some variants carry (they can hold the stored secret).
fn map_err(kind: OsKind, doing: &str, err: keyring_core::Error) -> KeychainError {
    use keyring_core::Error as E;
    let name = kind.name();
    match err {
        E::BadEncoding(_) | E::BadDataFormat(_, _) => {
            KeychainError::Corrupt(format!("{name} returned data it could not decode"))
        }
        E::Ambiguous(entries) => KeychainError::Backend(format!(
            "{name}: {} entries match this service and account while {doing}",
            entries.len()
        )),
        E::NoEntry => KeychainError::Backend(format!("{name}: entry vanished while {doing}")),
        E::PlatformFailure(e) => KeychainError::Backend(format!("{name}: {doing}: {e}")),
        E::NoStorageAccess(e) => {
            KeychainError::Backend(format!("{name}: storage not accessible while {doing}: {e}"))
        }
        // The remaining variants carry only attribute names, limits and reasons.
        other => KeychainError::Backend(format!("{name}: {doing}: {other}")),
    }
}

/// Runs `f` inline, or on its own thread bounded by `timeout`. On timeout the thread is
/// left behind blocked on the backend: it owns nothing the daemon needs, and there is no
/// safe way to cancel a blocked D-Bus call from outside.
pub(crate) fn bounded<T, F>(
    kind: OsKind,
    doing: &'static str,
    timeout: Option<Duration>,
    f: F,
) -> Result<T, KeychainError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, KeychainError> + Send + 'static,
{
    let Some(timeout) = timeout else {
        return f();
    };
    let (tx, rx) = mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name(format!("keychain-{}", kind.name()))
        .spawn(move || {
            // The receiver is gone only if we already timed out; nothing to report to.
            let _ = tx.send(f());
        })
        .map_err(|e| {
            KeychainError::Backend(format!("{}: cannot start worker: {e}", kind.name()))
        })?;
    match rx.recv_timeout(timeout) {
        Ok(result) => result,
        Err(mpsc::RecvTimeoutError::Timeout) => Err(KeychainError::Backend(format!(
            "{} did not answer within {} s while {doing}",
            kind.name(),
            timeout.as_secs_f32()
        ))),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(KeychainError::Backend(format!(
            "{}: worker stopped unexpectedly while {doing}",
            kind.name()
        ))),
    }
}

/// One service/account entry in one OS backend.
#[derive(Clone)]
pub(crate) struct OsStore {
    kind: OsKind,
    store: Arc<CredentialStore>,
    service: String,
    account: String,
    /// keyutils only: whether the store could link keys into the persistent keyring.
    persistent_keyring: bool,
}

impl std::fmt::Debug for OsStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OsStore")
            .field("backend", &self.kind.name())
            .field("service", &self.service)
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

impl OsStore {
    /// Connects to `kind` and proves it works by writing, reading back and deleting a
    /// throwaway entry next to the real one. All of it is bounded for Secret Service.
    pub(crate) fn probe(kind: OsKind, service: &str, account: &str) -> Result<Self, KeychainError> {
        let probe_timeout = kind.timeouts().map(|(probe, _)| probe);
        let service = service.to_string();
        let account = account.to_string();
        bounded(kind, "probing", probe_timeout, move || {
            let store = kind.connect()?;
            let persistent_keyring = probe_entry(kind, &store, &service, &account)?;
            Ok(OsStore {
                kind,
                store,
                service,
                account,
                persistent_keyring,
            })
        })
    }

    pub(crate) fn kind(&self) -> OsKind {
        self.kind
    }

    /// False where the backend forgets keys on reboot (keyutils lives in kernel memory).
    pub(crate) fn survives_reboot(&self) -> bool {
        self.kind != OsKind::Keyutils
    }

    pub(crate) fn persistent_keyring(&self) -> bool {
        self.persistent_keyring
    }

    fn run<T, F>(&self, doing: &'static str, f: F) -> Result<T, KeychainError>
    where
        T: Send + 'static,
        F: FnOnce(&OsStore) -> Result<T, KeychainError> + Send + 'static,
    {
        let op_timeout = self.kind.timeouts().map(|(_, op)| op);
        let this = self.clone();
        bounded(self.kind, doing, op_timeout, move || f(&this))
    }

    fn entry(&self) -> Result<Entry, KeychainError> {
        if self.kind == OsKind::Keyutils {
            ensure_session_keyring();
        }
        self.store
            .build(&self.service, &self.account, None)
            .map_err(|e| map_err(self.kind, "opening the entry", e))
    }

    /// The raw stored bytes, `None` when there is no entry.
    fn get_raw(&self) -> Result<Option<Zeroizing<Vec<u8>>>, KeychainError> {
        match self.entry()?.get_secret() {
            Ok(raw) => Ok(Some(Zeroizing::new(raw))),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(map_err(self.kind, "reading", e)),
        }
    }

    /// True when any entry (device key or not) exists under this account.
    pub(crate) fn has_entry(&self) -> Result<bool, KeychainError> {
        self.run("checking for an entry", |s| Ok(s.get_raw()?.is_some()))
    }

    pub(crate) fn load(&self) -> Result<Option<Zeroizing<[u8; 32]>>, KeychainError> {
        self.run("reading", |s| match s.get_raw()? {
            Some(raw) => encoding::decode_device_key(&raw).map(Some),
            None => Ok(None),
        })
    }

    /// Check-then-set: OS keychains offer no create-if-absent, so two processes creating
    /// at the same instant could both pass the check; callers must serialise creation.
    pub(crate) fn create(&self, secret: &Zeroizing<[u8; 32]>) -> Result<(), KeychainError> {
        let encoded = encoding::encode_device_key(secret);
        self.run("creating", move |s| {
            if s.get_raw()?.is_some() {
                return Err(KeychainError::AlreadyExists);
            }
            let entry = s.entry()?;
            if let Err(e) = entry.set_secret(&encoded) {
                // A partial write (keyutils: added to the session keyring, not linked into
                // the persistent one) would otherwise block every later create.
                let _ = entry.delete_credential();
                return Err(map_err(s.kind, "writing", e));
            }
            // Some backends accept a write they later cannot return (size limits,
            // re-encoding); find out now rather than after the identity is registered.
            match s.get_raw()? {
                Some(back) if back.as_slice() == encoded.as_slice() => Ok(()),
                _ => Err(KeychainError::Backend(format!(
                    "{}: the key read back differs from the key written",
                    s.kind.name()
                ))),
            }
        })
    }

    /// Idempotent: deleting a missing entry succeeds.
    pub(crate) fn delete(&self) -> Result<(), KeychainError> {
        self.run("deleting", |s| match s.entry()?.delete_credential() {
            Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
            Err(e) => Err(map_err(s.kind, "deleting", e)),
        })
    }
}

/// Writes, reads back and deletes a random probe entry. Returns whether keyutils linked the
/// key into the persistent keyring (always true for other backends).
fn probe_entry(
    kind: OsKind,
    store: &Arc<CredentialStore>,
    service: &str,
    account: &str,
) -> Result<bool, KeychainError> {
    let mut nonce = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let probe_account = format!(
        "{account}.probe.{}.{}",
        std::process::id(),
        hex::encode(nonce)
    );
    if kind == OsKind::Keyutils {
        ensure_session_keyring();
    }
    let entry = store
        .build(service, &probe_account, None)
        .map_err(|e| map_err(kind, "probing", e))?;
    let persistent = persistent_keyring_linked(kind, &entry);

    let mut secret = Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.fill_bytes(&mut secret[..]);
    let encoded = encoding::encode_tagged(PROBE_TAG, &secret);
    if let Err(e) = entry.set_secret(&encoded) {
        // keyutils can add the key to the session keyring and then fail to link it into
        // the persistent one; don't leave the half-written probe behind.
        let _ = entry.delete_credential();
        return Err(map_err(kind, "probe write", e));
    }
    let read_back = entry.get_secret().map(Zeroizing::new);
    let deleted = entry.delete_credential();
    let read_back = read_back.map_err(|e| map_err(kind, "probe read", e))?;
    deleted.map_err(|e| map_err(kind, "probe delete", e))?;
    if read_back.as_slice() != encoded.as_slice() {
        return Err(KeychainError::Backend(format!(
            "{}: probe read back different bytes",
            kind.name()
        )));
    }
    Ok(persistent)
}

#[cfg(target_os = "linux")]
fn persistent_keyring_linked(kind: OsKind, entry: &Entry) -> bool {
    if kind != OsKind::Keyutils {
        return true;
    }
    entry
        .as_any()
        .downcast_ref::<linux_keyutils_keyring_store::Cred>()
        .is_some_and(|cred| cred.persistent.is_some())
}

#[cfg(not(target_os = "linux"))]
fn persistent_keyring_linked(_kind: OsKind, _entry: &Entry) -> bool {
    true
}

/// Gives the calling thread a session keyring if it has none, before the keyutils store
/// resolves one.
///
/// The store looks up the session keyring without creating it, then asks for the
/// persistent keyring, and that second call creates a fresh session keyring when the
/// thread had none (no pam_keyinit, systemd keyring or `keyctl session`). The store then
/// writes into the old, unpossessed user-session keyring, where its link, search and
/// delete are all denied: every write fails half-way and leaks a key into the user's
/// quota. Creating the session keyring first makes both lookups agree. Keys still reach
/// other threads and later logins through the persistent keyring they are linked into.
#[cfg(target_os = "linux")]
fn ensure_session_keyring() {
    // Kernel ABI constants from <linux/keyctl.h>.
    const KEYCTL_GET_KEYRING_ID: libc::c_long = 0;
    const KEY_SPEC_SESSION_KEYRING: libc::c_long = -3;
    const CREATE: libc::c_long = 1;
    // SAFETY: KEYCTL_GET_KEYRING_ID takes only integer arguments and touches no memory of
    // ours. A failure is left for the store's own calls to report.
    unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_GET_KEYRING_ID,
            KEY_SPEC_SESSION_KEYRING,
            CREATE,
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn ensure_session_keyring() {}
