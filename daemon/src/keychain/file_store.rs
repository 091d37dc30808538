//! Encrypted-file fallback for machines with no working OS keychain.
//!
//! **This is only as strong as the file permissions.** The AES-256-GCM wrapping key sits in
//! `device-k10.wrap` right next to the ciphertext in `device-k10.enc`, so anyone who can read
//! both files (the same user, root, a backup, a stolen unencrypted disk) has the device key.
//! Encryption only keeps the key out of casual reads of a single file and makes edits
//! detectable. That is why this backend is used only when no OS keychain works, why it
//! refuses files that other users could read, and why the daemon announces it on every start.
//!
//! `device-k10.enc` layout: `MAGIC | format version (1 byte) | tag length (1 byte) | purpose
//! tag | 12-byte nonce | AES-GCM ciphertext+tag`. Everything before the nonce is the AAD, so
//! the purpose tag and version are authenticated: relabelling a file for another purpose
//! breaks decryption. The plaintext is the same tagged encoding the OS backends store.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use nix::fcntl::{Flock, FlockArg};
use rand::RngCore;
use zeroize::Zeroizing;

use super::encoding::{self, DEVICE_KEY_TAG};
use super::KeychainError;

/// The fallback ciphertext file name inside `file_dir`.
pub const KEY_FILE: &str = "device-k10.enc";
/// The fallback wrapping-key file name inside `file_dir`.
pub const WRAP_FILE: &str = "device-k10.wrap";

const MAGIC: &[u8; 8] = b"AGENTKEY";
const FORMAT_VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const WRAP_KEY_LEN: usize = 32;
/// Far above any valid file; stops a huge or endless file (a FIFO, /dev/zero) being read.
const MAX_FILE_LEN: u64 = 4096;

#[derive(Clone, Debug)]
pub(crate) struct FileStore {
    dir: PathBuf,
}

impl FileStore {
    pub(crate) fn new(dir: &Path) -> Self {
        FileStore {
            dir: dir.to_path_buf(),
        }
    }

    pub(crate) fn key_path(&self) -> PathBuf {
        self.dir.join(KEY_FILE)
    }

    fn wrap_path(&self) -> PathBuf {
        self.dir.join(WRAP_FILE)
    }

    /// True when a key file exists (valid or not), so callers can keep an identity that
    /// already lives here instead of silently minting a new one elsewhere.
    pub(crate) fn has_entry(&self) -> bool {
        fs::symlink_metadata(self.key_path()).is_ok()
    }

    pub(crate) fn load(&self) -> Result<Option<Zeroizing<[u8; 32]>>, KeychainError> {
        let key_path = self.key_path();
        let Some(blob) = read_private_file(&key_path)? else {
            return Ok(None);
        };
        check_dir(&self.dir)?;
        let header_len = parse_header(&blob)?;
        let wrap_path = self.wrap_path();
        let wrap = read_private_file(&wrap_path)?
            .ok_or_else(|| KeychainError::Corrupt(format!("{} is missing", wrap_path.display())))?;
        if wrap.len() != WRAP_KEY_LEN {
            return Err(KeychainError::Corrupt(format!(
                "{} has the wrong length",
                wrap_path.display()
            )));
        }
        let (aad, rest) = blob.split_at(header_len);
        if rest.len() < NONCE_LEN {
            return Err(KeychainError::Corrupt(format!(
                "{} is truncated",
                key_path.display()
            )));
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let cipher = Aes256Gcm::new_from_slice(&wrap)
            .map_err(|_| KeychainError::Corrupt("unusable wrapping key".to_string()))?;
        let plaintext = cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| {
                KeychainError::Corrupt(format!(
                    "{} failed authentication (edited, or paired with the wrong {WRAP_FILE})",
                    key_path.display()
                ))
            })?;
        encoding::decode_device_key(&plaintext).map(Some)
    }

    pub(crate) fn create(&self, secret: &Zeroizing<[u8; 32]>) -> Result<(), KeychainError> {
        ensure_private_dir(&self.dir)?;
        let _lock = lock_dir(&self.dir)?;
        let key_path = self.key_path();
        if fs::symlink_metadata(&key_path).is_ok() {
            return Err(KeychainError::AlreadyExists);
        }

        let mut wrap = Zeroizing::new([0u8; WRAP_KEY_LEN]);
        rand::rngs::OsRng.fill_bytes(&mut wrap[..]);
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);

        let mut blob = header(DEVICE_KEY_TAG)?;
        let plaintext = encoding::encode_device_key(secret);
        let cipher = Aes256Gcm::new_from_slice(&wrap[..])
            .map_err(|_| KeychainError::Backend("cannot initialise AES-256-GCM".to_string()))?;
        let ciphertext = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &plaintext,
                    aad: &blob,
                },
            )
            .map_err(|_| KeychainError::Backend("AES-256-GCM encryption failed".to_string()))?;
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&ciphertext);

        // The wrapping key must be durable before the ciphertext that needs it becomes
        // visible: a crash in between then leaves only an unused .wrap, never an .enc
        // that can't be opened. A stale .wrap from such a crash is simply replaced.
        write_atomic(&self.dir, &self.wrap_path(), &wrap[..])?;
        sync_dir(&self.dir)?;
        write_atomic(&self.dir, &key_path, &blob)?;
        sync_dir(&self.dir)
    }

    /// Idempotent: removes whichever of the two files exist.
    pub(crate) fn delete(&self) -> Result<(), KeychainError> {
        if fs::symlink_metadata(&self.dir).is_err() {
            return Ok(());
        }
        let _lock = lock_dir(&self.dir)?;
        // Ciphertext first: if we stop half-way, what remains is a harmless .wrap.
        for path in [self.key_path(), self.wrap_path()] {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(io_err("removing", &path, &e)),
            }
        }
        sync_dir(&self.dir)
    }
}

/// The authenticated header for `tag`; tests use it to fabricate files for other purposes.
pub(crate) fn header(tag: &str) -> Result<Vec<u8>, KeychainError> {
    let tag_len = u8::try_from(tag.len())
        .map_err(|_| KeychainError::Backend("purpose tag too long".to_string()))?;
    let mut out = Vec::with_capacity(MAGIC.len() + 2 + tag.len());
    out.extend_from_slice(MAGIC);
    out.push(FORMAT_VERSION);
    out.push(tag_len);
    out.extend_from_slice(tag.as_bytes());
    Ok(out)
}

/// Checks magic, version and purpose tag; returns the header length (the AAD).
fn parse_header(blob: &[u8]) -> Result<usize, KeychainError> {
    let corrupt = || KeychainError::Corrupt(format!("{KEY_FILE} has no valid header"));
    let rest = blob.strip_prefix(&MAGIC[..]).ok_or_else(corrupt)?;
    let (&version, rest) = rest.split_first().ok_or_else(corrupt)?;
    if version != FORMAT_VERSION {
        return Err(KeychainError::Corrupt(format!(
            "{KEY_FILE} has unsupported format version {version}"
        )));
    }
    let (&tag_len, rest) = rest.split_first().ok_or_else(corrupt)?;
    let tag = rest.get(..usize::from(tag_len)).ok_or_else(corrupt)?;
    if tag != DEVICE_KEY_TAG.as_bytes() {
        return Err(KeychainError::WrongPurpose);
    }
    Ok(MAGIC.len() + 2 + usize::from(tag_len))
}

fn io_err(doing: &str, path: &Path, err: &std::io::Error) -> KeychainError {
    KeychainError::Io(format!("{doing} {}: {err}", path.display()))
}

/// Permission bits that let anyone but the owner read or change a key file.
const NON_OWNER_BITS: u32 = 0o077;
/// For the directory only write access matters: it would let others swap the files.
const NON_OWNER_WRITE_BITS: u32 = 0o022;

/// Reads a key file that must be a regular file owned by us with no group/other access.
/// The checks use `fstat` on the opened descriptor, and `O_NOFOLLOW` refuses symlinks, so
/// the file checked is the file read.
fn read_private_file(path: &Path) -> Result<Option<Zeroizing<Vec<u8>>>, KeychainError> {
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(KeychainError::InsecurePermissions(path.to_path_buf()))
        }
        Err(e) => return Err(io_err("opening", path, &e)),
    };
    let meta = file
        .metadata()
        .map_err(|e| io_err("inspecting", path, &e))?;
    if !meta.file_type().is_file()
        || meta.uid() != nix::unistd::geteuid().as_raw()
        || meta.mode() & NON_OWNER_BITS != 0
    {
        return Err(KeychainError::InsecurePermissions(path.to_path_buf()));
    }
    if meta.len() > MAX_FILE_LEN {
        return Err(KeychainError::Corrupt(format!(
            "{} is too large",
            path.display()
        )));
    }
    let mut buf = Zeroizing::new(Vec::with_capacity(MAX_FILE_LEN as usize));
    file.take(MAX_FILE_LEN)
        .read_to_end(&mut buf)
        .map_err(|e| io_err("reading", path, &e))?;
    Ok(Some(buf))
}

/// The directory must be ours and not writable by others, or another user could replace
/// the files between our checks and our reads.
fn check_dir(dir: &Path) -> Result<(), KeychainError> {
    let meta = fs::metadata(dir).map_err(|e| io_err("inspecting", dir, &e))?;
    let uid = nix::unistd::geteuid().as_raw();
    if !meta.is_dir() || meta.uid() != uid || meta.mode() & NON_OWNER_WRITE_BITS != 0 {
        return Err(KeychainError::InsecurePermissions(dir.to_path_buf()));
    }
    Ok(())
}

/// Creates the directory 0700, or tightens an existing one of ours to 0700.
fn ensure_private_dir(dir: &Path) -> Result<(), KeychainError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| io_err("creating", dir, &e))?;
    let meta = fs::symlink_metadata(dir).map_err(|e| io_err("inspecting", dir, &e))?;
    if !meta.is_dir() || meta.uid() != nix::unistd::geteuid().as_raw() {
        return Err(KeychainError::InsecurePermissions(dir.to_path_buf()));
    }
    if meta.mode() & 0o777 != 0o700 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| io_err("restricting", dir, &e))?;
    }
    Ok(())
}

/// Serialises create/delete between processes sharing `dir`, so the .wrap/.enc pair is
/// always written by one creator. Locks the directory itself to avoid a lock file.
fn lock_dir(dir: &Path) -> Result<Flock<File>, KeychainError> {
    let handle = File::open(dir).map_err(|e| io_err("opening", dir, &e))?;
    Flock::lock(handle, FlockArg::LockExclusive)
        .map_err(|(_, errno)| KeychainError::Io(format!("locking {}: {errno}", dir.display())))
}

/// Temp file (0600, created exclusively), fsync, rename over `path`. The caller syncs the
/// directory so the rename itself is durable.
fn write_atomic(dir: &Path, path: &Path, data: &[u8]) -> Result<(), KeychainError> {
    let mut suffix = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut suffix);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(
        ".{name}.tmp.{}.{}",
        std::process::id(),
        hex::encode(suffix)
    ));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)
            .map_err(|e| io_err("creating", &tmp, &e))?;
        file.write_all(data)
            .map_err(|e| io_err("writing", &tmp, &e))?;
        file.sync_all().map_err(|e| io_err("syncing", &tmp, &e))?;
        fs::rename(&tmp, path).map_err(|e| io_err("renaming into", path, &e))
    })();
    if result.is_err() {
        // Best effort: the temp file holds at most an unused wrapping key or ciphertext.
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn sync_dir(dir: &Path) -> Result<(), KeychainError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err("syncing", dir, &e))
}
