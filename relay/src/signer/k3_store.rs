//! K3 per epoch, one 0600 file each: `<data>/signer/k3/epoch-<n>.key` holding
//! `agentkeys-k3-v1 <epoch> <hex>`. The highest epoch present is current; epoch 1 is made at
//! first boot. Older epochs stay so objects written under them remain readable.

use crate::keys::{self, SecretFileError};
use rand::RngCore;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

pub const K3_DIR: &str = "signer/k3";
const TAG: &str = "agentkeys-k3-v1";

pub struct K3Store {
    epochs: BTreeMap<u32, Zeroizing<[u8; 32]>>,
}

impl std::fmt::Debug for K3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "K3Store(epochs {:?}, secrets redacted)",
            self.epochs.keys().collect::<Vec<_>>()
        )
    }
}

fn file_for(dir: &Path, epoch: u32) -> PathBuf {
    dir.join(format!("epoch-{epoch}.key"))
}

fn parse(epoch: u32, bytes: &[u8]) -> Option<Zeroizing<[u8; 32]>> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut parts = text.trim_end().split(' ');
    if parts.next()? != TAG || parts.next()?.parse::<u32>().ok()? != epoch {
        return None;
    }
    let mut out = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(parts.next()?, out.as_mut()).ok()?;
    parts.next().is_none().then_some(out)
}

impl K3Store {
    /// Loads every epoch under `data_dir/signer/k3`, creating epoch 1 if there is none.
    pub fn open(data_dir: &Path) -> Result<K3Store, String> {
        let dir = data_dir.join(K3_DIR);
        keys::private_dir(&dir).map_err(|e| e.to_string())?;
        let mut epochs = BTreeMap::new();
        let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(epoch) = name
                .to_str()
                .and_then(|n| n.strip_prefix("epoch-"))
                .and_then(|n| n.strip_suffix(".key"))
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let path = file_for(&dir, epoch);
            let bytes = keys::read_secret_file(&path)
                .map_err(|e: SecretFileError| e.to_string())?
                .ok_or_else(|| format!("{} vanished while loading", path.display()))?;
            let k3 = parse(epoch, &bytes)
                .ok_or_else(|| format!("{} is not a valid K3 file", path.display()))?;
            epochs.insert(epoch, k3);
        }
        if epochs.is_empty() {
            let mut k3 = Zeroizing::new([0u8; 32]);
            rand::rngs::OsRng.fill_bytes(k3.as_mut());
            let text = Zeroizing::new(format!("{TAG} 1 {}\n", hex::encode(k3.as_ref())));
            keys::write_secret_file(&file_for(&dir, 1), text.as_bytes())
                .map_err(|e| e.to_string())?;
            epochs.insert(1, k3);
        }
        Ok(K3Store { epochs })
    }

    pub fn current(&self) -> (u32, Zeroizing<[u8; 32]>) {
        match self.epochs.iter().next_back() {
            Some((e, k)) => (*e, k.clone()),
            // `open` guarantees at least one epoch.
            None => (0, Zeroizing::new([0u8; 32])),
        }
    }

    pub fn get(&self, epoch: u32) -> Option<Zeroizing<[u8; 32]>> {
        self.epochs.get(&epoch).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn first_boot_creates_epoch_one_0600_and_reloads_it() {
        let dir = tempfile::tempdir().unwrap();
        let a = K3Store::open(dir.path()).unwrap();
        let b = K3Store::open(dir.path()).unwrap();
        assert_eq!(a.current().0, 1);
        assert_eq!(a.current().1, b.current().1);
        let path = dir.path().join(K3_DIR).join("epoch-1.key");
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(K3Store::open(dir.path()).unwrap_err().contains("chmod 600"));
        assert!(!format!("{a:?}").contains(&hex::encode(a.current().1.as_ref())));
    }
}
