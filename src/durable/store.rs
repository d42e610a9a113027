//! The storage the durable log sits on, behind a small trait: sled with segment files in
//! the server ([`super::sled_store`]), an in-memory store that simulates crashes and damage
//! in tests (as redb's crash-simulating backend does). A chunk is keyed by its start and end offsets, so that the chunks' keys
//! alone show whether the log is contiguous; one extra value holds the replication metadata. A batch (chunks put, chunks removed, metadata) is applied atomically.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use thiserror::Error;

#[derive(Debug, Error, Clone)]
pub enum StoreError {
    /// The operating system refused an operation: the error keeps its kind (a full disk, a
    /// read-only file system), which `-MISCONF` and start-up report.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: Arc<std::io::Error>,
    },
    /// A request the store cannot carry out (a chunk larger than any the writer makes, a
    /// thread that will not start): a bug or a limit, not the disk.
    #[error("log store: {0}")]
    Refused(String),
    #[error("log store is damaged: {0}")]
    Corrupt(String),
    /// A fault injected by a test store.
    #[error("injected fault: {0}")]
    Injected(&'static str),
}

/// Changes applied together: all of them or none survive a crash. In order: the cuts, then
/// the removes, the metadata and the puts.
#[derive(Debug, Default, Clone)]
pub struct StoreBatch {
    /// Where the log's history was cut before this batch's puts (see [`HistoryCut`]).
    pub cuts: Vec<HistoryCut>,
    pub puts: Vec<(ChunkId, Bytes)>,
    pub removes: Vec<ChunkId>,
    pub meta: Option<Bytes>,
}

/// A change of the log's history that removing index entries alone does not tell a journal
/// reader: what it removed must not come back when the journal is replayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryCut {
    /// The log forgot everything (a replica's full sync).
    Reset,
    /// Records ending after this offset were dropped (damage).
    Truncate { keep_until: u64 },
}

impl StoreError {
    /// An I/O error with what was being done, e.g. `io("writing segment 7", e)`.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> StoreError {
        StoreError::Io {
            context: context.into(),
            source: Arc::new(source),
        }
    }

    /// The OS error's kind, when the store failed on I/O.
    pub fn io_kind(&self) -> Option<std::io::ErrorKind> {
        match self {
            StoreError::Io { source, .. } => Some(source.kind()),
            _ => None,
        }
    }
}

impl StoreBatch {
    pub fn is_empty(&self) -> bool {
        self.cuts.is_empty()
            && self.puts.is_empty()
            && self.removes.is_empty()
            && self.meta.is_none()
    }
}

/// A chunk's start and end offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChunkId {
    pub start: u64,
    pub end: u64,
}

pub trait LogStore: Send + Sync + std::fmt::Debug {
    fn apply(&self, batch: StoreBatch) -> Result<(), StoreError>;
    /// Makes everything applied so far survive a crash.
    fn flush(&self) -> Result<(), StoreError>;
    /// [`LogStore::flush`], and also everything a store may defer (an index it can rebuild),
    /// so that the next open has nothing to redo: at a clean stop.
    fn checkpoint(&self) -> Result<(), StoreError> {
        self.flush()
    }
    fn meta(&self) -> Result<Option<Bytes>, StoreError>;
    /// Every chunk, ascending.
    fn chunk_ids(&self) -> Result<Vec<ChunkId>, StoreError>;
    fn chunk(&self, id: ChunkId) -> Result<Option<Bytes>, StoreError>;
    /// A chunk's bytes as stored, without the store's own check: for a chunk that failed
    /// it, so that its records that pass their own CRCs are kept.
    fn chunk_unchecked(&self, _id: ChunkId) -> Option<Bytes> {
        None
    }
    /// Bytes the store occupies on disk, for INFO (0 when unknown).
    fn size_on_disk_bytes(&self) -> u64 {
        0
    }

    /// Notes, outside the store's own files, the offset the log was flushed up to. A store
    /// that later holds less lost data it had promised (its recovery dropped damaged pages
    /// silently): opening compares the two and reports it.
    fn note_durable_end(&self, _end: u64) {}

    fn noted_durable_end(&self) -> Option<u64> {
        None
    }
}

/// What a [`MemStore`] does to the next operations, for tests of the log's fault handling.
#[derive(Debug, Default, Clone, Copy)]
pub struct Faults {
    /// The next `apply` calls fail (a full disk).
    pub fail_applies: u32,
    /// The next `flush` calls fail.
    pub fail_flushes: u32,
}

#[derive(Debug, Default, Clone)]
struct MemContents {
    chunks: BTreeMap<ChunkId, Bytes>,
    meta: Option<Bytes>,
}

/// An in-memory store that keeps what was flushed apart from what was only applied, so a
/// test can crash it (losing everything unflushed) and damage what survived.
#[derive(Debug, Default, Clone)]
pub struct MemStore {
    inner: Arc<Mutex<MemInner>>,
}

#[derive(Debug, Default)]
struct MemInner {
    live: MemContents,
    durable: MemContents,
    faults: Faults,
    noted_end: Option<u64>,
}

impl MemStore {
    pub fn new() -> MemStore {
        MemStore::default()
    }

    /// A crash: what was not flushed is gone. The same store is then reopened by a new log.
    pub fn crash(&self) {
        let mut inner = self.inner.lock();
        inner.live = inner.durable.clone();
    }

    pub fn inject(&self, faults: Faults) {
        self.inner.lock().faults = faults;
    }

    /// Flips one byte of a stored chunk, in what was flushed and in the live view.
    pub fn corrupt_chunk(&self, key: ChunkId, at: usize) -> bool {
        let mut guard = self.inner.lock();
        let inner = &mut *guard;
        let mut done = false;
        for contents in [&mut inner.live, &mut inner.durable] {
            if let Some(value) = contents.chunks.get_mut(&key) {
                let mut bytes = value.to_vec();
                if let Some(b) = bytes.get_mut(at) {
                    *b ^= 0x5a;
                    done = true;
                }
                *value = Bytes::from(bytes);
            }
        }
        done
    }

    /// Flips a byte of the metadata.
    pub fn corrupt_meta(&self) {
        let mut guard = self.inner.lock();
        let inner = &mut *guard;
        for contents in [&mut inner.live, &mut inner.durable] {
            if let Some(meta) = contents.meta.as_mut() {
                let mut bytes = meta.to_vec();
                if let Some(b) = bytes.get_mut(5) {
                    *b ^= 0x5a;
                }
                *meta = Bytes::from(bytes);
            }
        }
    }

    /// Removes a chunk (a hole in the log).
    pub fn drop_chunk(&self, key: ChunkId) {
        let mut inner = self.inner.lock();
        inner.live.chunks.remove(&key);
        inner.durable.chunks.remove(&key);
    }
}

impl LogStore for MemStore {
    fn apply(&self, batch: StoreBatch) -> Result<(), StoreError> {
        let mut inner = self.inner.lock();
        if inner.faults.fail_applies > 0 {
            inner.faults.fail_applies -= 1;
            return Err(StoreError::Injected(
                "apply failed (no space left on device)",
            ));
        }
        for key in batch.removes {
            inner.live.chunks.remove(&key);
        }
        for (key, value) in batch.puts {
            inner.live.chunks.insert(key, value);
        }
        if let Some(meta) = batch.meta {
            inner.live.meta = Some(meta);
        }
        Ok(())
    }

    fn flush(&self) -> Result<(), StoreError> {
        let mut inner = self.inner.lock();
        if inner.faults.fail_flushes > 0 {
            inner.faults.fail_flushes -= 1;
            return Err(StoreError::Injected("flush failed"));
        }
        inner.durable = inner.live.clone();
        Ok(())
    }

    fn meta(&self) -> Result<Option<Bytes>, StoreError> {
        Ok(self.inner.lock().live.meta.clone())
    }

    fn note_durable_end(&self, end: u64) {
        self.inner.lock().noted_end = Some(end);
    }

    fn noted_durable_end(&self) -> Option<u64> {
        self.inner.lock().noted_end
    }

    fn chunk_ids(&self) -> Result<Vec<ChunkId>, StoreError> {
        Ok(self.inner.lock().live.chunks.keys().copied().collect())
    }

    fn chunk(&self, key: ChunkId) -> Result<Option<Bytes>, StoreError> {
        Ok(self.inner.lock().live.chunks.get(&key).cloned())
    }
}

/// Helpers for the durable module's tests: chunk ids, one-chunk batches, scratch dirs.
#[cfg(test)]
pub mod test_support {
    use bytes::Bytes;

    use super::{ChunkId, StoreBatch};

    pub fn id(start: u64) -> ChunkId {
        ChunkId {
            start,
            end: start + 1,
        }
    }

    pub fn batch(key: u64, value: &'static [u8]) -> StoreBatch {
        StoreBatch {
            puts: vec![(id(key), Bytes::from_static(value))],
            ..StoreBatch::default()
        }
    }

    /// A fresh path under the system temp dir, unique to this process and call.
    pub fn temp_dir(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!(
            "sluice-{name}-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{batch, id};
    use super::*;

    #[test]
    fn mem_store_loses_unflushed_changes_in_a_crash() {
        let store = MemStore::new();
        store.apply(batch(0, b"a")).unwrap();
        store.flush().unwrap();
        store.apply(batch(1, b"b")).unwrap();
        assert_eq!(store.chunk_ids().unwrap(), vec![id(0), id(1)]);
        store.crash();
        assert_eq!(store.chunk_ids().unwrap(), vec![id(0)]);
    }
}
