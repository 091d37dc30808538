//! Keychain tests. The OS-backend tests use kernel keyutils and expect to run inside their
//! own session keyring: `keyctl session - cargo test -p agentkeys-daemon keychain`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;
use zeroize::Zeroizing;

use super::encoding::{self, DEVICE_KEY_TAG};
use super::file_store;
use super::os_store::{bounded, OsKind};
use super::*;

fn random_secret() -> Zeroizing<[u8; 32]> {
    let mut s = Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.fill_bytes(&mut s[..]);
    s
}

/// A service name no other test (or test run) shares, so parallel tests never collide.
fn unique_service(test: &str) -> String {
    let mut n = [0u8; 6];
    rand::rngs::OsRng.fill_bytes(&mut n);
    format!(
        "agentkeys-test-{test}-{}-{}",
        std::process::id(),
        hex::encode(n)
    )
}

fn config(mode: KeychainMode, test: &str, dir: &Path) -> KeychainConfig {
    KeychainConfig {
        mode,
        service: unique_service(test),
        account: format!("device-k10-{test}"),
        file_dir: dir.join("keys"),
    }
}

fn file_store_in(dir: &Path) -> (KeychainConfig, DeviceKeyStore) {
    let cfg = config(KeychainMode::File, "file", dir);
    let store = DeviceKeyStore::open(&cfg).expect("open file store");
    (cfg, store)
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

// ---- encoding ----

#[test]
fn encoding_roundtrip_and_tag_checks() {
    let secret = random_secret();
    let encoded = encoding::encode_device_key(&secret);
    let text = std::str::from_utf8(&encoded).expect("ascii");
    assert!(text.starts_with("agentkeys:k10:v1:"));
    assert_eq!(text.len(), "agentkeys:k10:v1:".len() + 64);
    let decoded = encoding::decode_device_key(&encoded).expect("decode");
    assert_eq!(*decoded, *secret);

    let other = encoding::encode_tagged("agentkeys:session:v1", &secret);
    assert!(matches!(
        encoding::decode_device_key(&other),
        Err(KeychainError::WrongPurpose)
    ));
    let future = encoding::encode_tagged("agentkeys:k10:v2", &secret);
    assert!(matches!(
        encoding::decode_device_key(&future),
        Err(KeychainError::WrongPurpose)
    ));
    assert!(matches!(
        encoding::decode_device_key(&secret[..]),
        Err(KeychainError::WrongPurpose)
    ));
    let short = format!("{DEVICE_KEY_TAG}:abcd");
    assert!(matches!(
        encoding::decode_device_key(short.as_bytes()),
        Err(KeychainError::Corrupt(_))
    ));
    let not_hex = format!("{DEVICE_KEY_TAG}:{}", "zz".repeat(32));
    match encoding::decode_device_key(not_hex.as_bytes()) {
        Err(KeychainError::Corrupt(msg)) => assert!(!msg.contains('z')),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

// ---- mode, config, errors ----

#[test]
fn mode_parses_and_serializes() {
    assert_eq!("auto".parse::<KeychainMode>(), Ok(KeychainMode::Auto));
    assert_eq!("os".parse::<KeychainMode>(), Ok(KeychainMode::Os));
    assert_eq!("file".parse::<KeychainMode>(), Ok(KeychainMode::File));
    assert!("keychain".parse::<KeychainMode>().is_err());
    assert_eq!(KeychainMode::default(), KeychainMode::Auto);
    for mode in [KeychainMode::Auto, KeychainMode::Os, KeychainMode::File] {
        assert_eq!(mode.to_string().parse::<KeychainMode>(), Ok(mode));
        let json = serde_json::to_string(&mode).expect("serialize");
        assert_eq!(json, format!("\"{mode}\""));
        assert_eq!(
            serde_json::from_str::<KeychainMode>(&json).expect("deserialize"),
            mode
        );
    }
}

#[test]
fn error_codes_are_stable() {
    let cases = [
        (KeychainError::AlreadyExists, "keychain_key_exists"),
        (KeychainError::WrongPurpose, "keychain_wrong_purpose"),
        (
            KeychainError::InsecurePermissions("/x".into()),
            "keychain_insecure_permissions",
        ),
        (KeychainError::Corrupt(String::new()), "keychain_corrupt"),
        (
            KeychainError::Backend(String::new()),
            "keychain_backend_error",
        ),
        (KeychainError::Io(String::new()), "keychain_io_error"),
        (
            KeychainError::NoBackend(String::new()),
            "keychain_unavailable",
        ),
        (
            KeychainError::InvalidConfig(String::new()),
            "keychain_invalid_config",
        ),
    ];
    for (err, code) in cases {
        assert_eq!(err.code(), code);
    }
}

#[test]
fn config_rejects_ambiguous_names() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config(KeychainMode::File, "cfg", dir.path());
    cfg.service = "agent@keys".to_string();
    assert!(matches!(
        DeviceKeyStore::open(&cfg),
        Err(KeychainError::InvalidConfig(_))
    ));
    cfg.service = "agentkeys".to_string();
    cfg.account = String::new();
    assert!(matches!(
        DeviceKeyStore::open(&cfg),
        Err(KeychainError::InvalidConfig(_))
    ));
}

// ---- file backend ----

#[test]
fn file_create_load_delete_roundtrip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cfg, store) = file_store_in(dir.path());
    assert_eq!(store.backend(), "encrypted-file");
    assert!(store.is_file_fallback());
    assert!(store.survives_reboot());
    assert!(store.load().expect("load empty").is_none());

    let secret = random_secret();
    store.create(&secret).expect("create");
    let loaded = store.load().expect("load").expect("present");
    assert_eq!(*loaded, *secret);

    // A fresh store (the next daemon start) sees the same key.
    let reopened = DeviceKeyStore::open(&cfg).expect("reopen");
    assert_eq!(*reopened.load().expect("load").expect("present"), *secret);

    let keys = cfg.file_dir;
    let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode(&keys), 0o700);
    assert_eq!(mode(&keys.join(KEY_FILE)), 0o600);
    assert_eq!(mode(&keys.join(WRAP_FILE)), 0o600);
    let leftovers: Vec<_> = std::fs::read_dir(&keys)
        .expect("read_dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .filter(|n| n != KEY_FILE && n != WRAP_FILE)
        .collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");

    store.delete().expect("delete");
    assert!(store.load().expect("load after delete").is_none());
    assert!(!keys.join(KEY_FILE).exists());
    assert!(!keys.join(WRAP_FILE).exists());
    store.delete().expect("delete is idempotent");
}

#[test]
fn file_refuses_overwrite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_cfg, store) = file_store_in(dir.path());
    let first = random_secret();
    store.create(&first).expect("create");
    assert!(matches!(
        store.create(&random_secret()),
        Err(KeychainError::AlreadyExists)
    ));
    assert_eq!(*store.load().expect("load").expect("present"), *first);
}

/// Writes a well-formed, correctly encrypted file whose header and plaintext carry the
/// given tags, as another program or purpose might have.
fn write_file_entry(keys: &Path, header_tag: &str, plaintext_tag: &str) {
    std::fs::create_dir_all(keys).expect("mkdir");
    chmod(keys, 0o700);
    let mut wrap = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut wrap);
    let nonce = [7u8; 12];
    let mut blob = file_store::header(header_tag).expect("header");
    let plaintext = encoding::encode_tagged(plaintext_tag, &random_secret());
    let cipher = Aes256Gcm::new_from_slice(&wrap).expect("cipher");
    let ct = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: &plaintext,
                aad: &blob,
            },
        )
        .expect("encrypt");
    blob.extend_from_slice(&nonce);
    blob.extend_from_slice(&ct);
    std::fs::write(keys.join(WRAP_FILE), wrap).expect("write wrap");
    std::fs::write(keys.join(KEY_FILE), blob).expect("write enc");
    chmod(&keys.join(WRAP_FILE), 0o600);
    chmod(&keys.join(KEY_FILE), 0o600);
}

#[test]
fn file_wrong_purpose_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cfg, store) = file_store_in(dir.path());

    write_file_entry(
        &cfg.file_dir,
        "agentkeys:session:v1",
        "agentkeys:session:v1",
    );
    assert!(matches!(store.load(), Err(KeychainError::WrongPurpose)));
    assert!(matches!(
        store.create(&random_secret()),
        Err(KeychainError::AlreadyExists)
    ));

    // A device-key header around a payload tagged for something else is refused too.
    write_file_entry(&cfg.file_dir, DEVICE_KEY_TAG, "agentkeys:session:v1");
    assert!(matches!(store.load(), Err(KeychainError::WrongPurpose)));

    // The sanity check: the same fabrication with the right tags loads.
    write_file_entry(&cfg.file_dir, DEVICE_KEY_TAG, DEVICE_KEY_TAG);
    assert!(store.load().expect("load").is_some());
}

#[test]
fn file_tampering_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cfg, store) = file_store_in(dir.path());
    store.create(&random_secret()).expect("create");
    let enc = cfg.file_dir.join(KEY_FILE);
    let original = std::fs::read(&enc).expect("read");

    // Flip one ciphertext bit.
    let mut tampered = original.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    std::fs::write(&enc, &tampered).expect("write");
    assert!(matches!(store.load(), Err(KeychainError::Corrupt(_))));

    // Relabel the (authenticated) tag as another purpose: refused before decryption.
    let mut relabelled = original.clone();
    let pos = relabelled
        .windows(3)
        .position(|w| w == b"k10")
        .expect("tag in header");
    relabelled[pos..pos + 3].copy_from_slice(b"k11");
    std::fs::write(&enc, &relabelled).expect("write");
    assert!(matches!(store.load(), Err(KeychainError::WrongPurpose)));

    // Truncation and a foreign wrapping key.
    std::fs::write(&enc, &original[..original.len() / 2]).expect("write");
    assert!(matches!(store.load(), Err(KeychainError::Corrupt(_))));
    std::fs::write(&enc, &original).expect("write");
    std::fs::write(cfg.file_dir.join(WRAP_FILE), [9u8; 32]).expect("write wrap");
    assert!(matches!(store.load(), Err(KeychainError::Corrupt(_))));
    std::fs::remove_file(cfg.file_dir.join(WRAP_FILE)).expect("rm wrap");
    assert!(matches!(store.load(), Err(KeychainError::Corrupt(_))));
}

#[test]
fn file_insecure_permissions_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cfg, store) = file_store_in(dir.path());
    store.create(&random_secret()).expect("create");
    let enc = cfg.file_dir.join(KEY_FILE);
    let wrap = cfg.file_dir.join(WRAP_FILE);

    chmod(&enc, 0o644);
    match store.load() {
        Err(KeychainError::InsecurePermissions(p)) => assert_eq!(p, enc),
        other => panic!("expected InsecurePermissions, got {other:?}"),
    }
    chmod(&enc, 0o600);

    chmod(&wrap, 0o640);
    match store.load() {
        Err(KeychainError::InsecurePermissions(p)) => assert_eq!(p, wrap),
        other => panic!("expected InsecurePermissions, got {other:?}"),
    }
    chmod(&wrap, 0o600);

    chmod(&cfg.file_dir, 0o777);
    match store.load() {
        Err(KeychainError::InsecurePermissions(p)) => assert_eq!(p, cfg.file_dir),
        other => panic!("expected InsecurePermissions, got {other:?}"),
    }
    chmod(&cfg.file_dir, 0o700);

    // A symlink in place of the key file is refused, not followed.
    let elsewhere = dir.path().join("elsewhere.enc");
    std::fs::rename(&enc, &elsewhere).expect("move");
    std::os::unix::fs::symlink(&elsewhere, &enc).expect("symlink");
    assert!(matches!(
        store.load(),
        Err(KeychainError::InsecurePermissions(_))
    ));
}

#[test]
fn debug_output_never_contains_the_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cfg, store) = file_store_in(dir.path());
    let secret = random_secret();
    store.create(&secret).expect("create");
    let lower = hex::encode(&secret[..]);
    let upper = hex::encode_upper(&secret[..]);

    let mut outputs = vec![
        format!("{store:?}"),
        format!("{store:#?}"),
        format!("{cfg:?}"),
        format!("{:?}", store.create(&secret)),
    ];
    // Errors raised while the secret is being handled.
    let enc = cfg.file_dir.join(KEY_FILE);
    let mut blob = std::fs::read(&enc).expect("read");
    let last = blob.len() - 1;
    blob[last] ^= 1;
    std::fs::write(&enc, blob).expect("write");
    if let Err(e) = store.load() {
        outputs.push(format!("{e:?} {e}"));
    }
    for out in outputs {
        assert!(!out.contains(&lower) && !out.contains(&upper), "{out}");
    }
}

#[test]
fn auto_falls_back_to_file_without_os_backends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(KeychainMode::Auto, "auto-file", dir.path());
    let store = DeviceKeyStore::open_with_candidates(&cfg, &[]).expect("open");
    assert!(store.is_file_fallback());
    assert_eq!(store.file_path(), Some(cfg.file_dir.join(KEY_FILE)));

    let os_cfg = KeychainConfig {
        mode: KeychainMode::Os,
        ..cfg
    };
    assert!(matches!(
        DeviceKeyStore::open_with_candidates(&os_cfg, &[]),
        Err(KeychainError::NoBackend(_))
    ));
}

#[test]
fn bounded_gives_up_on_a_hung_backend() {
    let start = Instant::now();
    let result: Result<(), _> = bounded(
        OsKind::SecretService,
        "testing",
        Some(Duration::from_millis(100)),
        || {
            std::thread::sleep(Duration::from_secs(5));
            Ok(())
        },
    );
    assert!(matches!(result, Err(KeychainError::Backend(_))));
    assert!(start.elapsed() < Duration::from_secs(2));
}

/// keyutils and Secret Service tests.
#[cfg(target_os = "linux")]
mod linux {
    use super::super::select::os_candidates;
    use super::*;

    // ---- OS backend: keyutils ----

    fn keyutils_store(test: &str, dir: &Path) -> DeviceKeyStore {
        let cfg = config(KeychainMode::Os, test, dir);
        DeviceKeyStore::open_with_candidates(&cfg, &[OsKind::Keyutils])
            .expect("keyutils should work here; run the tests as `keyctl session - cargo test ...`")
    }

    #[test]
    fn keyutils_create_load_delete_roundtrip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = keyutils_store("ku-roundtrip", dir.path());
        assert_eq!(store.backend(), "keyutils");
        assert!(!store.is_file_fallback());
        assert!(!store.survives_reboot());
        assert!(store.load().expect("load empty").is_none());

        let secret = random_secret();
        store.create(&secret).expect("create");
        assert_eq!(*store.load().expect("load").expect("present"), *secret);
        assert!(matches!(
            store.create(&random_secret()),
            Err(KeychainError::AlreadyExists)
        ));
        assert_eq!(*store.load().expect("load").expect("present"), *secret);

        store.delete().expect("delete");
        assert!(store.load().expect("load after delete").is_none());
        store.delete().expect("delete is idempotent");
        // Nothing was written to the fallback directory.
        assert!(!dir.path().join("keys").exists());
    }

    /// The daemon reaches the store from whichever runtime thread is free, and a thread
    /// without an inherited session keyring gets its own; the persistent keyring must
    /// still make the key visible everywhere.
    #[test]
    fn keyutils_key_is_visible_from_other_threads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = config(KeychainMode::Os, "ku-threads", dir.path());
        let secret = random_secret();
        let (c, s) = (cfg.clone(), secret.clone());
        std::thread::spawn(move || {
            let store = DeviceKeyStore::open_with_candidates(&c, &[OsKind::Keyutils])
                .expect("open in thread");
            store.create(&s).expect("create in thread");
        })
        .join()
        .expect("thread");
        let store = DeviceKeyStore::open_with_candidates(&cfg, &[OsKind::Keyutils]).expect("open");
        assert_eq!(*store.load().expect("load").expect("present"), *secret);
        let (c2, s2) = (cfg.clone(), secret.clone());
        std::thread::spawn(move || {
            let store = DeviceKeyStore::open_with_candidates(&c2, &[OsKind::Keyutils])
                .expect("open in thread");
            assert_eq!(*store.load().expect("load").expect("present"), *s2);
            store.delete().expect("delete in thread");
        })
        .join()
        .expect("thread");
        assert!(store.load().expect("load after delete").is_none());
    }

    #[test]
    fn keyutils_wrong_purpose_refused() {
        use keyring_core::api::CredentialStoreApi;

        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = config(KeychainMode::Os, "ku-purpose", dir.path());
        let store = DeviceKeyStore::open_with_candidates(&cfg, &[OsKind::Keyutils]).expect("open");
        let raw = linux_keyutils_keyring_store::Store::new()
            .expect("store")
            .build(&cfg.service, &cfg.account, None)
            .expect("entry");
        raw.set_secret(&encoding::encode_tagged(
            "agentkeys:session:v1",
            &random_secret(),
        ))
        .expect("set");

        assert!(matches!(store.load(), Err(KeychainError::WrongPurpose)));
        assert!(matches!(
            store.create(&random_secret()),
            Err(KeychainError::AlreadyExists)
        ));
        store.delete().expect("delete");
        assert!(store.load().expect("load").is_none());
    }

    #[test]
    fn auto_picks_keyutils_without_dbus() {
        assert_eq!(os_candidates(None), vec![OsKind::Keyutils]);
        assert_eq!(
            os_candidates(Some("".as_ref())),
            vec![OsKind::Keyutils],
            "an empty address is no session"
        );
        assert_eq!(
            os_candidates(Some("unix:path=/run/user/1000/bus".as_ref())),
            vec![OsKind::SecretService, OsKind::Keyutils]
        );

        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = config(KeychainMode::Auto, "auto", dir.path());
        let store = DeviceKeyStore::open_with_candidates(&cfg, &os_candidates(None)).expect("open");
        assert_eq!(store.backend(), "keyutils");
        assert!(!store.is_file_fallback());

        // Through the public entry point too, when this environment has no session bus.
        if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
            let store = DeviceKeyStore::open(&cfg).expect("open");
            assert_eq!(store.backend(), "keyutils");
        }
    }

    #[test]
    fn auto_keeps_an_existing_file_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = config(KeychainMode::Auto, "auto-keep", dir.path());
        let file_cfg = KeychainConfig {
            mode: KeychainMode::File,
            ..cfg.clone()
        };
        let secret = random_secret();
        DeviceKeyStore::open(&file_cfg)
            .expect("open file")
            .create(&secret)
            .expect("create");

        // keyutils works, but switching to it would silently change the device identity.
        let store = DeviceKeyStore::open_with_candidates(&cfg, &[OsKind::Keyutils]).expect("open");
        assert!(store.is_file_fallback());
        assert_eq!(*store.load().expect("load").expect("present"), *secret);
    }

    #[test]
    fn auto_keeps_an_existing_keyutils_key_over_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = config(KeychainMode::Auto, "auto-keep-ku", dir.path());
        let secret = random_secret();
        let ku = DeviceKeyStore::open_with_candidates(&cfg, &[OsKind::Keyutils]).expect("open");
        ku.create(&secret).expect("create");
        let again = DeviceKeyStore::open_with_candidates(&cfg, &[OsKind::Keyutils]).expect("open");
        assert_eq!(again.backend(), "keyutils");
        assert_eq!(*again.load().expect("load").expect("present"), *secret);
        ku.delete().expect("cleanup");
    }

    // ---- hung Secret Service ----

    const HUNG_BUS_CHILD: &str = "AGENTKEYS_TEST_HUNG_BUS_CHILD";

    /// Points DBUS_SESSION_BUS_ADDRESS at a socket that accepts connections and never
    /// answers, then runs `hung_bus_child` in a subprocess (changing the environment of this
    /// multi-threaded test process would race with other tests).
    #[test]
    fn hung_session_bus_does_not_block_open() {
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = dir.path().join("bus");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).expect("bind");
        let exe = std::env::current_exe().expect("current_exe");
        let mut child = std::process::Command::new(exe)
            .args([
                "--exact",
                "keychain::tests::linux::hung_bus_child",
                "--ignored",
                "--test-threads=1",
            ])
            .env(
                "DBUS_SESSION_BUS_ADDRESS",
                format!("unix:path={}", socket.display()),
            )
            .env(HUNG_BUS_CHILD, "1")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("open() hung behind an unresponsive session bus");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let output = child.wait_with_output().expect("output");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            status.success() && stdout.contains("1 passed"),
            "child failed: {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    #[test]
    #[ignore = "run by hung_session_bus_does_not_block_open in a subprocess"]
    fn hung_bus_child() {
        if std::env::var_os(HUNG_BUS_CHILD).is_none() {
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = config(KeychainMode::Auto, "hung-bus", dir.path());
        let start = Instant::now();
        let store = DeviceKeyStore::open(&cfg).expect("open");
        let elapsed = start.elapsed();
        assert_eq!(store.backend(), "keyutils");
        assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
    }

    /// Needs a running, unlocked Secret Service, so it runs in its own step of
    /// `scripts/test.sh`: under `dbus-run-session` with gnome-keyring, `-- --ignored`.
    #[test]
    #[ignore = "run by scripts/test.sh under dbus-run-session with gnome-keyring"]
    fn secret_service_roundtrip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = config(KeychainMode::Os, "ss", dir.path());
        let store =
            DeviceKeyStore::open_with_candidates(&cfg, &[OsKind::SecretService]).expect("open");
        assert_eq!(store.backend(), "secret-service");
        let secret = random_secret();
        store.create(&secret).expect("create");
        assert_eq!(*store.load().expect("load").expect("present"), *secret);
        assert!(matches!(
            store.create(&random_secret()),
            Err(KeychainError::AlreadyExists)
        ));
        store.delete().expect("delete");
        assert!(store.load().expect("load").is_none());

        // With a live session bus, Auto prefers Secret Service over keyutils.
        let auto = KeychainConfig {
            mode: KeychainMode::Auto,
            ..cfg
        };
        assert_eq!(
            DeviceKeyStore::open(&auto).expect("open").backend(),
            "secret-service"
        );
    }
}
