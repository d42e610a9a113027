//! The server's [`LogStore`]: sled holds the replication metadata and an index entry per
//! chunk (its [`ChunkLocation`]), in one atomic batch; the chunks' bytes are appended to
//! segment files beside it ([`super::segments`]). Stores written by earlier versions hold
//! chunks inline in the tree (key prefix `c`): those stay readable until trimmed.
//!
//! Order of durability: the segments are synced before sled is flushed, so an index entry
//! that survives a crash points at bytes that survived it too; a segment is deleted only
//! after the index entries that dropped it are durable.

use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::segments::{ChunkLocation, Segments};
use super::store::{ChunkId, LogStore, StoreBatch, StoreError};

/// Chunks stored inline by earlier versions.
const INLINE_CHUNK_PREFIX: u8 = b'c';
/// Chunks stored in segments: the value is their [`ChunkLocation`].
const INDEXED_CHUNK_PREFIX: u8 = b'i';
const META_KEY: &[u8] = b"m";
const SEGMENTS_DIR: &str = "segments";

#[derive(Debug)]
pub struct SledStore {
    db: sled::Db,
    tree: sled::Tree,
    segments: Segments,
    /// `durable-offset` beside sled's files: see [`LogStore::note_durable_end`].
    marker: PathBuf,
    /// The marker, kept open: it is rewritten after every flush, which under `always` is
    /// every group commit, and opening it each time cost more than the fsync.
    marker_file: parking_lot::Mutex<Option<std::fs::File>>,
}

/// The marker's content: the offset and its CRC, so a torn write reads as absent.
fn encode_marker(end: u64) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&end.to_le_bytes());
    out[8..].copy_from_slice(&sluice_rdb::crc::crc64(&end.to_le_bytes()).to_le_bytes());
    out
}

fn decode_marker(bytes: &[u8]) -> Option<u64> {
    let end = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
    let crc = u64::from_le_bytes(bytes.get(8..16)?.try_into().ok()?);
    (crc == sluice_rdb::crc::crc64(&end.to_le_bytes())).then_some(end)
}

fn chunk_key(prefix: u8, id: ChunkId) -> [u8; 17] {
    let mut key = [0u8; 17];
    key[0] = prefix;
    key[1..9].copy_from_slice(&id.start.to_be_bytes());
    key[9..].copy_from_slice(&id.end.to_be_bytes());
    key
}

fn chunk_id_of(key: &[u8]) -> Result<ChunkId, StoreError> {
    let number = |range: std::ops::Range<usize>| -> Result<u64, StoreError> {
        key.get(range)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_be_bytes)
            .ok_or_else(|| StoreError::Corrupt(format!("chunk key of {} bytes", key.len())))
    };
    Ok(ChunkId {
        start: number(1..9)?,
        end: number(9..17)?,
    })
}

fn io(e: sled::Error) -> StoreError {
    match e {
        sled::Error::Corruption { .. } => StoreError::Corrupt(e.to_string()),
        other => StoreError::Io(other.to_string()),
    }
}

impl SledStore {
    pub fn open(path: &Path, cache_bytes: u64) -> Result<SledStore, StoreError> {
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(cache_bytes)
            .flush_every_ms(None)
            .mode(sled::Mode::HighThroughput)
            .open()
            .map_err(io)?;
        let tree = db.open_tree("replication-log").map_err(io)?;
        let mut indexed = Vec::new();
        let mut unreadable = Vec::new();
        for entry in tree.scan_prefix([INDEXED_CHUNK_PREFIX]) {
            let (key, value) = entry.map_err(io)?;
            match ChunkLocation::decode(&value) {
                Ok(location) => indexed.push((key, location)),
                Err(e) => unreadable.push((key, e.to_string())),
            }
        }
        let locations: Vec<ChunkLocation> = indexed.iter().map(|(_, l)| *l).collect();
        let (segments, report) = Segments::open(&path.join(SEGMENTS_DIR), &locations)?;
        for reclaimed in &report.reclaimed {
            tracing::info!("replication log segment {reclaimed}: written but never indexed");
        }
        // Entries whose bytes are gone are dropped here; the log then finds the gap or the
        // shorter end and reports what was lost against its durable-offset marker.
        let mut repair = sled::Batch::default();
        let mut repaired = false;
        for (key, reason) in &unreadable {
            tracing::error!("replication log index entry unreadable ({reason}): dropped");
            repair.remove(key);
            repaired = true;
        }
        let mut dropped = Vec::new();
        for (key, location) in &indexed {
            if report.missing.contains(location) {
                tracing::error!(
                    "replication log chunk {:?} points past the end of its segment ({location:?}): dropped",
                    chunk_id_of(key)
                );
                repair.remove(key);
                dropped.push(*location);
                repaired = true;
            }
        }
        if repaired {
            tree.apply_batch(repair).map_err(io)?;
            db.flush().map_err(io)?;
        }
        // Counted as live when the segments opened: without this their files would stay
        // until the next restart.
        dropped.iter().for_each(|l| segments.release(l));
        Ok(SledStore {
            db,
            tree,
            segments,
            marker: path.join("durable-offset"),
            marker_file: parking_lot::Mutex::new(None),
        })
    }

    fn location(&self, id: ChunkId) -> Result<Option<ChunkLocation>, StoreError> {
        self.tree
            .get(chunk_key(INDEXED_CHUNK_PREFIX, id))
            .map_err(io)?
            .map(|v| ChunkLocation::decode(&v))
            .transpose()
    }
}

impl LogStore for SledStore {
    fn apply(&self, batch: StoreBatch) -> Result<(), StoreError> {
        // Chunks that stop being indexed, whether removed or replaced.
        let mut unindexed = Vec::new();
        for id in batch
            .removes
            .iter()
            .chain(batch.puts.iter().map(|(id, _)| id))
        {
            if let Ok(Some(location)) = self.location(*id) {
                unindexed.push(location);
            }
        }
        let mut sled_batch = sled::Batch::default();
        for id in &batch.removes {
            sled_batch.remove(&chunk_key(INDEXED_CHUNK_PREFIX, *id));
            sled_batch.remove(&chunk_key(INLINE_CHUNK_PREFIX, *id));
        }
        let mut appended = Vec::with_capacity(batch.puts.len());
        for (id, value) in &batch.puts {
            let location = match self.segments.append(id.start, value) {
                Ok(location) => location,
                Err(e) => {
                    appended.iter().for_each(|l| self.segments.release(l));
                    return Err(e);
                }
            };
            appended.push(location);
            sled_batch.insert(&chunk_key(INDEXED_CHUNK_PREFIX, *id), &location.encode());
        }
        if let Some(meta) = batch.meta {
            sled_batch.insert(META_KEY, meta.as_ref());
        }
        match self.tree.apply_batch(sled_batch) {
            Ok(()) => {
                unindexed.iter().for_each(|l| self.segments.release(l));
                Ok(())
            }
            Err(e) => {
                appended.iter().for_each(|l| self.segments.release(l));
                Err(io(e))
            }
        }
    }

    fn flush(&self) -> Result<(), StoreError> {
        let dead = self.segments.sync()?;
        self.db.flush().map_err(io)?;
        self.segments.delete(&dead);
        Ok(())
    }

    fn meta(&self) -> Result<Option<Bytes>, StoreError> {
        Ok(self
            .tree
            .get(META_KEY)
            .map_err(io)?
            .map(|v| Bytes::copy_from_slice(&v)))
    }

    fn chunk_ids(&self) -> Result<Vec<ChunkId>, StoreError> {
        let mut ids = Vec::new();
        for prefix in [INLINE_CHUNK_PREFIX, INDEXED_CHUNK_PREFIX] {
            for key in self.tree.scan_prefix([prefix]).keys() {
                ids.push(chunk_id_of(&key.map_err(io)?)?);
            }
        }
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }

    fn chunk(&self, id: ChunkId) -> Result<Option<Bytes>, StoreError> {
        if let Some(location) = self.location(id)? {
            return self.segments.read(&location);
        }
        // IVec is reference-counted: the Bytes shares it instead of copying the chunk.
        Ok(self
            .tree
            .get(chunk_key(INLINE_CHUNK_PREFIX, id))
            .map_err(io)?
            .map(Bytes::from_owner))
    }

    fn size_on_disk_bytes(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0) + self.segments.size_bytes()
    }

    fn note_durable_end(&self, end: u64) {
        // Written after the fsyncs and not synced itself: after a power loss it may be
        // older than the store (no report), never newer than what was made durable.
        use std::os::unix::fs::FileExt;
        let mut file = self.marker_file.lock();
        if file.is_none() {
            match std::fs::File::options()
                .write(true)
                .create(true)
                .truncate(false)
                .open(&self.marker)
            {
                Ok(opened) => *file = Some(opened),
                Err(e) => {
                    tracing::warn!("cannot open {}: {e}", self.marker.display());
                    return;
                }
            }
        }
        // 16 bytes in place: a torn write fails the marker's CRC and reads as absent.
        if let Some(opened) = file.as_ref()
            && let Err(e) = opened.write_all_at(&encode_marker(end), 0)
        {
            tracing::warn!("cannot write {}: {e}", self.marker.display());
            *file = None;
        }
    }

    fn noted_durable_end(&self) -> Option<u64> {
        std::fs::read(&self.marker)
            .ok()
            .and_then(|b| decode_marker(&b))
    }
}

#[cfg(test)]
mod tests {
    use super::super::store::test_support::{batch, id, temp_dir};
    use super::*;

    /// sled releases its directory lock when its last background reference goes, which
    /// can be just after the handle is dropped: a test that reopens at once retries.
    fn open(dir: &Path) -> SledStore {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            match SledStore::open(dir, 8 << 20) {
                Ok(store) => return store,
                Err(StoreError::Io(e))
                    if e.contains("could not acquire lock")
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(e) => panic!("opening {}: {e}", dir.display()),
            }
        }
    }

    #[test]
    fn round_trip_and_order() {
        let dir = temp_dir("sled-store");
        {
            let store = open(&dir);
            store.apply(batch(300, b"x")).unwrap();
            store.apply(batch(2, b"y")).unwrap();
            store
                .apply(StoreBatch {
                    puts: vec![(id(1 << 40), Bytes::from_static(b"z"))],
                    removes: vec![id(2)],
                    meta: Some(Bytes::from_static(b"meta")),
                })
                .unwrap();
            store.flush().unwrap();
        }
        let store = open(&dir);
        assert_eq!(store.chunk_ids().unwrap(), vec![id(300), id(1 << 40)]);
        assert_eq!(
            store.chunk(id(300)).unwrap().unwrap(),
            Bytes::from_static(b"x")
        );
        assert_eq!(store.meta().unwrap().unwrap(), Bytes::from_static(b"meta"));
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A store written by a version that kept chunks inline in sled still reads, and its
    /// chunks go when removed.
    #[test]
    fn inline_chunks_of_earlier_versions_stay_readable() {
        let dir = temp_dir("sled-inline");
        {
            let db = sled::open(&dir).unwrap();
            let tree = db.open_tree("replication-log").unwrap();
            tree.insert(chunk_key(INLINE_CHUNK_PREFIX, id(5)), &b"old"[..])
                .unwrap();
            db.flush().unwrap();
        }
        let store = open(&dir);
        store.apply(batch(6, b"new")).unwrap();
        assert_eq!(store.chunk_ids().unwrap(), vec![id(5), id(6)]);
        assert_eq!(store.chunk(id(5)).unwrap().unwrap(), &b"old"[..]);
        assert_eq!(store.chunk(id(6)).unwrap().unwrap(), &b"new"[..]);
        store
            .apply(StoreBatch {
                removes: vec![id(5)],
                ..StoreBatch::default()
            })
            .unwrap();
        assert_eq!(store.chunk_ids().unwrap(), vec![id(6)]);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// What a crash leaves: bytes appended but never indexed are reclaimed, and an index
    /// entry whose bytes did not survive (a segment cut short) is dropped, not trusted.
    #[test]
    fn a_crash_between_data_and_index_is_repaired_at_open() {
        let dir = temp_dir("sled-crash");
        {
            let store = open(&dir);
            store.apply(batch(0, b"durable")).unwrap();
            store.apply(batch(1, b"also indexed")).unwrap();
            store.flush().unwrap();
            // Appended to the segment, but its index entry never reaches sled.
            store.segments.append(2, b"orphan").unwrap();
        }
        let segment = dir.join(SEGMENTS_DIR).join(format!("{:020}.seg", 0));
        let len = std::fs::metadata(&segment).unwrap().len();
        assert_eq!(len, 7 + 12 + 6);
        let store = open(&dir);
        assert_eq!(store.chunk_ids().unwrap(), vec![id(0), id(1)]);
        assert_eq!(std::fs::metadata(&segment).unwrap().len(), 7 + 12);
        drop(store);
        // A power loss that kept the index but not the last bytes.
        std::fs::File::options()
            .write(true)
            .open(&segment)
            .unwrap()
            .set_len(10)
            .unwrap();
        let store = open(&dir);
        assert_eq!(store.chunk_ids().unwrap(), vec![id(0)]);
        assert_eq!(store.chunk(id(0)).unwrap().unwrap(), &b"durable"[..]);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
