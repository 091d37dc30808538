//! One writer per key.
//!
//! Writers of one key queue on an async mutex so that a conditional PUT's check and its
//! rename form one step. Entries are held weakly, so a key's mutex lives only while someone
//! holds or waits for it; dead entries are pruned as the map grows.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use tokio::sync::OwnedMutexGuard;

type KeyMutex = tokio::sync::Mutex<()>;

#[derive(Default)]
pub struct KeyLocks {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    map: HashMap<String, Weak<KeyMutex>>,
    prune_at: usize,
}

/// Held while a key is being changed. Owned, so it can move into a blocking task and
/// outlive a cancelled request future until the file system work is really done.
pub type KeyGuard = OwnedMutexGuard<()>;

impl KeyLocks {
    pub async fn lock(&self, bucket: &str, key: &str) -> KeyGuard {
        self.mutex_for(bucket, key).lock_owned().await
    }

    fn mutex_for(&self, bucket: &str, key: &str) -> Arc<KeyMutex> {
        // Bucket names cannot contain '/', so "bucket/key" is unambiguous.
        let id = format!("{bucket}/{key}");
        // The map is only ever left consistent, so a panic elsewhere cannot poison its data.
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(existing) = inner.map.get(&id).and_then(Weak::upgrade) {
            return existing;
        }
        if inner.map.len() >= inner.prune_at {
            inner.map.retain(|_, weak| weak.strong_count() > 0);
            inner.prune_at = (inner.map.len() * 2).max(64);
        }
        let fresh = Arc::new(KeyMutex::new(()));
        inner.map.insert(id, Arc::downgrade(&fresh));
        fresh
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .map
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn same_key_serialises_and_dead_entries_are_pruned() {
        let locks = KeyLocks::default();
        let guard = locks.lock("b", "k").await;
        assert!(locks.mutex_for("b", "k").try_lock().is_err());
        assert!(locks.mutex_for("b", "other").try_lock().is_ok());
        drop(guard);
        assert!(locks.mutex_for("b", "k").try_lock().is_ok());
        for i in 0..1000 {
            drop(locks.lock("b", &i.to_string()).await);
        }
        assert!(locks.tracked() <= 128);
    }
}
