//! WATCH bookkeeping: which clients watch which keys, and which transactions a write has
//! already doomed.

use std::collections::{HashMap, HashSet};

use bytes::Bytes;

#[derive(Debug, Default)]
pub struct Watches {
    by_key: HashMap<(usize, Bytes), Vec<u64>>,
    dirty: HashSet<u64>,
}

impl Watches {
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    pub fn watch(&mut self, client: u64, db: usize, key: Bytes) {
        let watchers = self.by_key.entry((db, key)).or_default();
        if !watchers.contains(&client) {
            watchers.push(client);
        }
    }

    /// Forgets every watch of `client` (EXEC, DISCARD, UNWATCH, disconnect).
    pub fn unwatch_all(&mut self, client: u64, keys: &[(usize, Bytes)]) {
        for key in keys {
            if let Some(watchers) = self.by_key.get_mut(key) {
                watchers.retain(|&c| c != client);
                if watchers.is_empty() {
                    self.by_key.remove(key);
                }
            }
        }
        self.dirty.remove(&client);
    }

    pub fn touch(&mut self, db: usize, key: &[u8]) {
        if self.by_key.is_empty() {
            return;
        }
        if let Some(watchers) = self.by_key.get(&(db, Bytes::copy_from_slice(key))) {
            self.dirty.extend(watchers.iter().copied());
        }
    }

    /// FLUSHDB, FLUSHALL, SWAPDB: every watcher of a key in `db` (None: any db) whose key
    /// exists (or, for SWAPDB, may change) is doomed.
    pub fn touch_db(&mut self, db: Option<usize>, mut exists: impl FnMut(usize, &[u8]) -> bool) {
        for ((key_db, key), watchers) in &self.by_key {
            if db.is_none_or(|d| d == *key_db) && exists(*key_db, key) {
                self.dirty.extend(watchers.iter().copied());
            }
        }
    }

    pub fn is_dirty(&self, client: u64) -> bool {
        self.dirty.contains(&client)
    }
}
