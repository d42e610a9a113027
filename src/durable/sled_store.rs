//! The server's [`LogStore`]: segment files beside sled hold the chunks' bytes and, between
//! them, the journal's markers (see [`super::journal`]); sled holds the replication
//! metadata and an index entry per chunk (its [`ChunkLocation`]), in one atomic batch, as a
//! checkpoint of that journal. Stores written by earlier versions hold chunks inline in the
//! tree (key prefix `c`): those stay readable until trimmed.
//!
//! Order of durability: the segments are synced before sled is flushed, so an index entry
//! that survives a crash points at bytes that survived it too; a segment is deleted only
//! after the index entries that dropped it are durable. At open, what the segments hold
//! beyond the index (sled lost its last batches) is indexed from the journal; an index that
//! is damaged, empty or inconsistent while segments exist is rebuilt from them whole.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::journal::{self, Chain, Marker};
use super::segments::{self, ChunkLocation, Segments};
use super::store::{ChunkId, HistoryCut, LogStore, StoreBatch, StoreError};

/// Chunks stored inline by earlier versions.
const INLINE_CHUNK_PREFIX: u8 = b'c';
/// Chunks stored in segments: the value is their [`ChunkLocation`].
const INDEXED_CHUNK_PREFIX: u8 = b'i';
const META_KEY: &[u8] = b"m";
const SEGMENTS_DIR: &str = "segments";
const TREE: &str = "replication-log";
const MARKER_FILE: &str = "durable-offset";
/// Where sled's files go when they do not open: kept for inspection, beside the segments.
const DAMAGED_PREFIX: &str = "sled.damaged-";

#[derive(Debug)]
pub struct SledStore {
    db: sled::Db,
    tree: sled::Tree,
    segments: Segments,
    /// The metadata as a journal marker: written at the head of each new segment.
    meta_marker: parking_lot::Mutex<Bytes>,
    /// `durable-offset` beside sled's files: see [`LogStore::note_durable_end`].
    marker: PathBuf,
    /// The marker, kept open: it is rewritten after every flush, which under `always` is
    /// every group commit, and opening it each time cost more than the fsync.
    marker_file: parking_lot::Mutex<Option<std::fs::File>>,
    /// When sled was last flushed.
    last_checkpoint: parking_lot::Mutex<std::time::Instant>,
}

/// How stale sled's index may get behind the journal: bounds what an open must index from
/// the segments.
const CHECKPOINT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

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
        sled::Error::Io(e) if is_environment(&e) => StoreError::io("sled", e),
        // Anything else sled says about its own files (corruption, a short read, a bug it
        // reports) is damage to them, not a reason to stop the server.
        other => StoreError::Corrupt(other.to_string()),
    }
}

/// Errors of the machine, not of the files' contents: fatal, never a reason to move
/// anything aside.
fn is_environment(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        PermissionDenied
            | ReadOnlyFilesystem
            | StorageFull
            | QuotaExceeded
            | NotADirectory
            | AlreadyExists
            | ResourceBusy
            | WouldBlock
    ) || e.to_string().contains("could not acquire lock")
}

/// sled's index as it was found: the checkpoint the journal continues.
#[derive(Debug, Default)]
struct Checkpoint {
    meta: Option<Bytes>,
    indexed: BTreeMap<ChunkId, ChunkLocation>,
    /// Chunks of earlier versions, inline in the tree.
    inline: usize,
    /// Why the index cannot be trusted as a checkpoint, if it cannot.
    untrusted: Option<String>,
}

fn read_checkpoint(tree: &sled::Tree) -> Result<Checkpoint, StoreError> {
    let mut checkpoint = Checkpoint {
        meta: tree
            .get(META_KEY)
            .map_err(io)?
            .map(|v| Bytes::copy_from_slice(&v)),
        ..Checkpoint::default()
    };
    for entry in tree.scan_prefix([INDEXED_CHUNK_PREFIX]) {
        let (key, value) = entry.map_err(io)?;
        match (chunk_id_of(&key), ChunkLocation::decode(&value)) {
            (Ok(id), Ok(location)) => {
                checkpoint.indexed.insert(id, location);
            }
            (Err(e), _) | (_, Err(e)) => {
                checkpoint
                    .untrusted
                    .get_or_insert(format!("an index entry is unreadable ({e})"));
            }
        }
    }
    checkpoint.inline = tree.scan_prefix([INLINE_CHUNK_PREFIX]).keys().count();
    Ok(checkpoint)
}

/// Whether the index can be continued from the journal, or must be rebuilt from it.
fn check(checkpoint: &mut Checkpoint, files: &BTreeMap<u64, (PathBuf, u64)>) {
    if checkpoint.untrusted.is_some() {
        return;
    }
    if checkpoint.meta.is_none() && !files.is_empty() {
        checkpoint.untrusted = Some("the index holds no metadata but segments exist".into());
        return;
    }
    for (id, location) in &checkpoint.indexed {
        let fits = files
            .get(&location.segment)
            .is_some_and(|(_, len)| location.offset + u64::from(location.len) <= *len);
        if !fits {
            checkpoint.untrusted = Some(format!(
                "chunk {}..{} is indexed beyond its segment's bytes",
                id.start, id.end
            ));
            return;
        }
    }
    if checkpoint.inline == 0 {
        let ids: Vec<&ChunkId> = checkpoint.indexed.keys().collect();
        let hole = ids.windows(2).find_map(|w| match w {
            [a, b] if a.end != b.start => Some((a.end, b.start)),
            _ => None,
        });
        if let Some((end, start)) = hole {
            checkpoint.untrusted = Some(format!("the index has a hole between {end} and {start}"));
        }
    }
}

/// Opens sled at `path`; sled files that do not open are moved aside (with the error) and a
/// new, empty sled is started, for the journal to rebuild.
fn open_sled(
    path: &Path,
    cache_bytes: u64,
) -> Result<(sled::Db, sled::Tree, Option<String>), StoreError> {
    let open = || -> Result<(sled::Db, sled::Tree), StoreError> {
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(cache_bytes)
            .flush_every_ms(None)
            .mode(sled::Mode::HighThroughput)
            .open()
            .map_err(io)?;
        let tree = db.open_tree(TREE).map_err(io)?;
        Ok((db, tree))
    };
    match open() {
        Ok((db, tree)) => Ok((db, tree, None)),
        Err(StoreError::Corrupt(reason)) => {
            let aside = move_sled_aside(path)?;
            tracing::error!(
                "replication log index in {} does not open ({reason}); its files were moved to {} and the index is rebuilt from the segments",
                path.display(),
                aside.display()
            );
            let (db, tree) = open()?;
            Ok((db, tree, Some(reason)))
        }
        Err(e) => Err(e),
    }
}

/// Moves sled's own files (everything but the segments, the durable-offset marker and
/// earlier damaged copies) into a new folder; returns it.
fn move_sled_aside(path: &Path) -> Result<PathBuf, StoreError> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let aside = path.join(format!("{DAMAGED_PREFIX}{stamp}"));
    let fail = |what: &str, p: &Path, e: std::io::Error| {
        StoreError::io(format!("{what} {}", p.display()), e)
    };
    std::fs::create_dir_all(&aside).map_err(|e| fail("creating", &aside, e))?;
    let entries = std::fs::read_dir(path).map_err(|e| fail("listing", path, e))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name == SEGMENTS_DIR || name == MARKER_FILE || name.starts_with(DAMAGED_PREFIX) {
            continue;
        }
        let target = aside.join(&*name);
        std::fs::rename(entry.path(), &target).map_err(|e| fail("moving", &entry.path(), e))?;
    }
    Ok(aside)
}

/// Reads a chunk's bytes straight from its segment file (before [`Segments`] is open), for
/// the journal's splits; None unless they pass their CRC.
fn read_from_files(
    files: &BTreeMap<u64, (PathBuf, u64)>,
    location: &ChunkLocation,
) -> Option<Bytes> {
    use std::os::unix::fs::FileExt;
    let (path, _) = files.get(&location.segment)?;
    let file = std::fs::File::open(path).ok()?;
    let mut bytes = vec![0u8; location.len as usize];
    file.read_exact_at(&mut bytes, location.offset).ok()?;
    (sluice_rdb::crc::crc64(&bytes) == location.crc).then(|| Bytes::from(bytes))
}

/// Replays the journal onto `chain`: every segment from its start when rebuilding, else
/// what lies beyond the checkpoint (the newest indexed segment past its last indexed chunk,
/// and every newer segment).
fn replay_journal(
    chain: &mut Chain,
    files: &BTreeMap<u64, (PathBuf, u64)>,
    rebuild: bool,
) -> Result<Vec<String>, StoreError> {
    let mut notes = Vec::new();
    let newest_indexed = chain.pieces.values().map(|p| p.location.segment).max();
    let indexed_end = |segment: u64| {
        chain
            .pieces
            .values()
            .filter(|p| p.location.segment == segment)
            .map(|p| p.location.offset + u64::from(p.location.len))
            .max()
            .unwrap_or(0)
    };
    let starts: Vec<(u64, u64)> = files
        .keys()
        .filter_map(|&id| match (rebuild, newest_indexed) {
            (true, _) | (false, None) => Some((id, 0)),
            (false, Some(newest)) if id == newest => Some((id, indexed_end(id))),
            (false, Some(newest)) if id > newest => Some((id, 0)),
            _ => None,
        })
        .collect();
    for (id, from) in starts {
        let Some((path, len)) = files.get(&id) else {
            continue;
        };
        if from >= *len {
            continue;
        }
        let bytes = Bytes::from(
            std::fs::read(path)
                .map_err(|e| StoreError::io(format!("reading {}", path.display()), e))?,
        );
        let (entries, stopped) = journal::scan(&bytes, from);
        if let Some(reason) = stopped {
            notes.push(format!(
                "segment {} ends in bytes that do not read ({reason}): what follows in it is not used",
                path.display()
            ));
        }
        let before = chain.pieces.len();
        chain.apply(id, &bytes, &entries, &|l: &ChunkLocation| {
            read_from_files(files, l)
        });
        if !rebuild && chain.pieces.len() != before {
            notes.push(format!(
                "{} chunks of segment {} were not in the index: indexed from the journal",
                chain.pieces.len().saturating_sub(before),
                path.display()
            ));
        }
    }
    notes.append(&mut chain.notes);
    Ok(notes)
}

impl SledStore {
    pub fn open(path: &Path, cache_bytes: u64) -> Result<SledStore, StoreError> {
        let segments_dir = path.join(SEGMENTS_DIR);
        std::fs::create_dir_all(&segments_dir)
            .map_err(|e| StoreError::io(format!("creating {}", segments_dir.display()), e))?;
        let (db, tree, sled_damage) = open_sled(path, cache_bytes)?;
        let mut checkpoint = read_checkpoint(&tree)?;
        let files: BTreeMap<u64, (PathBuf, u64)> = segments::list(&segments_dir)?
            .into_iter()
            .map(|(id, path)| {
                let len = std::fs::metadata(&path).map_or(0, |m| m.len());
                (id, (path, len))
            })
            .collect();
        if let Some(reason) = &sled_damage {
            checkpoint.untrusted = Some(format!("sled did not open: {reason}"));
        }
        check(&mut checkpoint, &files);
        let rebuild = checkpoint.untrusted.is_some();
        let mut chain = if rebuild {
            tracing::error!(
                "replication log index in {} cannot be used ({}): rebuilding it from {} segment files",
                path.display(),
                checkpoint.untrusted.as_deref().unwrap_or(""),
                files.len()
            );
            Chain::default()
        } else {
            Chain::from_index(
                checkpoint.indexed.iter().map(|(id, l)| (*id, *l)),
                checkpoint.meta.clone(),
            )
        };
        for note in replay_journal(&mut chain, &files, rebuild)? {
            tracing::warn!("replication log: {note}");
        }
        if rebuild {
            tracing::warn!(
                "replication log index rebuilt: {} chunks{}",
                chain.pieces.len(),
                chain
                    .pieces
                    .iter()
                    .next()
                    .zip(chain.pieces.values().next_back())
                    .map_or(String::new(), |((start, _), last)| format!(
                        ", offsets {start}..{}",
                        last.end
                    ))
            );
        }
        // The index becomes what the journal says: entries it dropped go, new ones come.
        let mut batch = sled::Batch::default();
        let mut changed = false;
        let wanted: BTreeMap<ChunkId, ChunkLocation> = chain
            .pieces
            .iter()
            .map(|(start, piece)| {
                (
                    ChunkId {
                        start: *start,
                        end: piece.end,
                    },
                    piece.location,
                )
            })
            .collect();
        if rebuild {
            for key in tree.scan_prefix([INDEXED_CHUNK_PREFIX]).keys().flatten() {
                batch.remove(key);
                changed = true;
            }
        } else {
            for (id, location) in &checkpoint.indexed {
                if wanted.get(id) != Some(location) {
                    batch.remove(&chunk_key(INDEXED_CHUNK_PREFIX, *id));
                    changed = true;
                }
            }
        }
        for (id, location) in &wanted {
            if rebuild || checkpoint.indexed.get(id) != Some(location) {
                batch.insert(&chunk_key(INDEXED_CHUNK_PREFIX, *id), &location.encode());
                changed = true;
            }
        }
        if chain.meta != checkpoint.meta
            && let Some(meta) = &chain.meta
        {
            batch.insert(META_KEY, meta.as_ref());
            changed = true;
        }
        if changed {
            tree.apply_batch(batch).map_err(io)?;
            db.flush().map_err(io)?;
        }
        let locations: Vec<ChunkLocation> = wanted.values().copied().collect();
        let (segments, report) = Segments::open(&segments_dir, &locations)?;
        // Only a segment shortened behind the journal's back gets here: its entries go, and
        // the log finds the shorter end or the hole and reports it.
        if !report.missing.is_empty() {
            let missing: HashSet<(u64, u64)> = report
                .missing
                .iter()
                .map(|l| (l.segment, l.offset))
                .collect();
            let mut repair = sled::Batch::default();
            for (id, location) in &wanted {
                if missing.contains(&(location.segment, location.offset)) {
                    tracing::error!(
                        "replication log chunk {}..{} points past the end of its segment ({location:?}): dropped",
                        id.start,
                        id.end
                    );
                    repair.remove(&chunk_key(INDEXED_CHUNK_PREFIX, *id));
                    segments.release(location);
                }
            }
            tree.apply_batch(repair).map_err(io)?;
            db.flush().map_err(io)?;
        }
        let meta_marker = Marker::Meta(chain.meta.clone().unwrap_or_default()).encode();
        Ok(SledStore {
            db,
            tree,
            segments,
            meta_marker: parking_lot::Mutex::new(meta_marker),
            marker: path.join(MARKER_FILE),
            marker_file: parking_lot::Mutex::new(None),
            last_checkpoint: parking_lot::Mutex::new(std::time::Instant::now()),
        })
    }

    /// Flushes sled (the journal's checkpoint), then deletes `dead` segments.
    fn checkpoint_index(&self, dead: &[u64]) -> Result<(), StoreError> {
        self.db.flush().map_err(io)?;
        *self.last_checkpoint.lock() = std::time::Instant::now();
        self.segments.delete(dead);
        Ok(())
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
        // The journal first, in the order things happened: the cuts, the new metadata, the
        // chunks. A new segment starts with the metadata as of then.
        let mut preamble = self.meta_marker.lock();
        for cut in &batch.cuts {
            let marker = match cut {
                HistoryCut::Reset => Marker::Reset,
                HistoryCut::Truncate { keep_until } => Marker::Truncate {
                    keep_until: *keep_until,
                },
            };
            self.segments.append_marker(&marker.encode(), &preamble)?;
        }
        if let Some(meta) = &batch.meta {
            let marker = Marker::Meta(meta.clone()).encode();
            self.segments.append_marker(&marker, &marker)?;
            *preamble = marker;
        }
        let mut sled_batch = sled::Batch::default();
        for id in &batch.removes {
            sled_batch.remove(&chunk_key(INDEXED_CHUNK_PREFIX, *id));
            sled_batch.remove(&chunk_key(INLINE_CHUNK_PREFIX, *id));
        }
        let mut appended = Vec::with_capacity(batch.puts.len());
        for (id, value) in &batch.puts {
            let location = match self.segments.append(value, &preamble) {
                Ok(location) => location,
                Err(e) => {
                    appended.iter().for_each(|l| self.segments.release(l));
                    return Err(e);
                }
            };
            appended.push(location);
            sled_batch.insert(&chunk_key(INDEXED_CHUNK_PREFIX, *id), &location.encode());
        }
        drop(preamble);
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
        // The journal synced is the log durable: what a reply under `always` waits for. The
        // index is only its checkpoint, flushed once a while (open indexes the rest from the
        // journal) or at once when segments wait for the removal of their last index entries
        // to be durable before they are deleted.
        let dead = self.segments.sync()?;
        let due = !dead.is_empty() || self.last_checkpoint.lock().elapsed() >= CHECKPOINT_INTERVAL;
        if due {
            self.checkpoint_index(&dead)?;
        }
        Ok(())
    }

    fn checkpoint(&self) -> Result<(), StoreError> {
        let dead = self.segments.sync()?;
        self.checkpoint_index(&dead)
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

    fn chunk_unchecked(&self, id: ChunkId) -> Option<Bytes> {
        let location = self.location(id).ok().flatten()?;
        self.segments.read_unchecked(&location).ok().flatten()
    }

    fn size_on_disk_bytes(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0) + self.segments.size_bytes()
    }

    fn note_durable_end(&self, end: u64) {
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
                Err(e)
                    if e.to_string().contains("could not acquire lock")
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
            put(&store, records(300, 2), Some(b"meta"));
            put(&store, records(320, 1), None);
            store
                .apply(StoreBatch {
                    puts: vec![records(330, 3)],
                    removes: vec![ChunkId {
                        start: 300,
                        end: 320,
                    }],
                    meta: Some(Bytes::from_static(b"meta two")),
                    ..StoreBatch::default()
                })
                .unwrap();
            store.flush().unwrap();
        }
        let store = open(&dir);
        assert_eq!(ranges(&store), vec![(320, 330), (330, 360)]);
        assert_eq!(
            store
                .chunk(ChunkId {
                    start: 330,
                    end: 360
                })
                .unwrap()
                .unwrap(),
            records(330, 3).1
        );
        assert_eq!(
            store.meta().unwrap().unwrap(),
            Bytes::from_static(b"meta two")
        );
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

    /// A chunk of `count` real records from `start` (each 10 payload bytes), as the writer
    /// makes them.
    fn records(start: u64, count: u64) -> (ChunkId, Bytes) {
        let mut builder = super::super::chunk::ChunkBuilder::default();
        for i in 0..count {
            let record = crate::log::record::Record::new(
                start + i * 10,
                0,
                crate::log::ReplId::parse_str(&"e".repeat(40)).unwrap(),
                Bytes::from_static(b"0123456789"),
            );
            assert!(builder.push(&record).is_none());
        }
        builder.take().unwrap()
    }

    fn put(store: &SledStore, chunk: (ChunkId, Bytes), meta: Option<&'static [u8]>) {
        store
            .apply(StoreBatch {
                puts: vec![chunk],
                meta: meta.map(Bytes::from_static),
                ..StoreBatch::default()
            })
            .unwrap();
    }

    fn ranges(store: &SledStore) -> Vec<(u64, u64)> {
        store
            .chunk_ids()
            .unwrap()
            .iter()
            .map(|id| (id.start, id.end))
            .collect()
    }

    /// What a crash leaves: records appended to a segment whose index entries never reached
    /// sled are indexed from the journal at open; an index entry whose bytes did not survive
    /// (a segment cut short) makes the index rebuilt from what the segments hold.
    #[test]
    fn a_crash_between_data_and_index_is_repaired_at_open() {
        let dir = temp_dir("sled-crash");
        {
            let store = open(&dir);
            put(&store, records(0, 3), Some(b"meta"));
            put(&store, records(30, 2), None);
            store.flush().unwrap();
            // Appended to the segment, but its index entry never reaches sled.
            let preamble = store.meta_marker.lock().clone();
            store.segments.append(&records(50, 4).1, &preamble).unwrap();
            store.segments.sync().unwrap();
        }
        let store = open(&dir);
        assert_eq!(ranges(&store), vec![(0, 30), (30, 50), (50, 90)]);
        assert_eq!(
            store
                .chunk(ChunkId { start: 50, end: 90 })
                .unwrap()
                .unwrap(),
            records(50, 4).1
        );
        drop(store);
        // A power loss that kept the index but not the last bytes: the third record of the
        // first chunk is torn, and nothing after it in the file is trusted.
        let segment = dir.join(SEGMENTS_DIR).join(format!("{:020}.seg", 1));
        let meta_len = Marker::Meta(Bytes::from_static(b"meta")).encode().len() as u64;
        let record_len = 64 + 10;
        std::fs::File::options()
            .write(true)
            .open(&segment)
            .unwrap()
            .set_len(2 * meta_len + 2 * record_len + 5)
            .unwrap();
        let store = open(&dir);
        assert_eq!(ranges(&store), vec![(0, 20)], "exactly the intact records");
        assert_eq!(store.meta().unwrap().unwrap(), &b"meta"[..]);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn sled_files(dir: &Path) -> Vec<PathBuf> {
        std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.file_name().is_some_and(|n| n == "db" || n == "conf"))
            .collect()
    }

    /// sled's files truncated, overwritten or removed: the index and the metadata are
    /// rebuilt from the segments, the log is the same, and no segment is deleted.
    #[test]
    fn a_damaged_index_is_rebuilt_from_the_segments() {
        type Damage = fn(&Path);
        let damages: [(&str, Damage); 3] = [
            ("truncated", |p| {
                std::fs::File::options()
                    .write(true)
                    .open(p)
                    .unwrap()
                    .set_len(100)
                    .unwrap()
            }),
            ("garbage", |p| {
                let len = crate::util::num::usize_from(std::fs::metadata(p).unwrap().len());
                let garbage: Vec<u8> = (0..len.max(64))
                    .map(|i| u8::try_from(i * 131 % 251).unwrap())
                    .collect();
                std::fs::write(p, garbage).unwrap()
            }),
            ("removed", |p| std::fs::remove_file(p).unwrap()),
        ];
        for (name, damage) in damages {
            let dir = temp_dir(&format!("sled-damaged-{name}"));
            {
                let store = open(&dir);
                put(&store, records(100, 5), Some(b"meta one"));
                put(&store, records(150, 5), None);
                put(&store, records(200, 5), Some(b"meta two"));
                store.flush().unwrap();
            }
            for file in sled_files(&dir) {
                damage(&file);
            }
            let store = open(&dir);
            // Re-chunked as the journal finds the records: the same bytes, the same offsets.
            let rebuilt = ranges(&store);
            assert_eq!(
                rebuilt.first().map(|r| r.0),
                Some(100),
                "{name}: {rebuilt:?}"
            );
            assert_eq!(
                rebuilt.last().map(|r| r.1),
                Some(250),
                "{name}: {rebuilt:?}"
            );
            assert!(
                rebuilt.windows(2).all(|w| w[0].1 == w[1].0),
                "{name}: {rebuilt:?}"
            );
            assert_eq!(store.meta().unwrap().unwrap(), &b"meta two"[..], "{name}");
            let mut bytes = Vec::new();
            for id in store.chunk_ids().unwrap() {
                bytes.extend_from_slice(&store.chunk(id).unwrap().unwrap());
            }
            let mut expected = Vec::new();
            for start in [100, 150, 200] {
                expected.extend_from_slice(&records(start, 5).1);
            }
            assert_eq!(bytes, expected, "{name}");
            // It goes on from there.
            put(&store, records(250, 1), None);
            store.flush().unwrap();
            drop(store);
            let store = open(&dir);
            assert_eq!(ranges(&store).last(), Some(&(250, 260)), "{name}");
            drop(store);
            let _ = std::fs::remove_dir_all(&dir);
        }
    }

    /// A reset and a truncation are in the journal: a rebuild does not bring back what they
    /// removed.
    #[test]
    fn a_rebuild_honours_resets_and_truncations() {
        let dir = temp_dir("sled-history");
        {
            let store = open(&dir);
            put(&store, records(1000, 5), Some(b"old history"));
            store
                .apply(StoreBatch {
                    cuts: vec![HistoryCut::Reset],
                    removes: vec![ChunkId {
                        start: 1000,
                        end: 1050,
                    }],
                    meta: Some(Bytes::from_static(b"new history")),
                    puts: vec![records(500, 5)],
                })
                .unwrap();
            put(&store, records(550, 5), None);
            // Damage found at 570: cut there, then the log continues.
            store
                .apply(StoreBatch {
                    cuts: vec![HistoryCut::Truncate { keep_until: 570 }],
                    removes: vec![ChunkId {
                        start: 550,
                        end: 600,
                    }],
                    puts: vec![records(550, 2)],
                    ..StoreBatch::default()
                })
                .unwrap();
            put(&store, records(570, 1), None);
            store.flush().unwrap();
            assert_eq!(ranges(&store), vec![(500, 550), (550, 570), (570, 580)]);
        }
        for file in sled_files(&dir) {
            std::fs::remove_file(file).unwrap();
        }
        let store = open(&dir);
        let ranges = ranges(&store);
        assert_eq!(ranges.first().map(|r| r.0), Some(500), "{ranges:?}");
        assert_eq!(ranges.last().map(|r| r.1), Some(580), "{ranges:?}");
        assert!(ranges.windows(2).all(|w| w[0].1 == w[1].0), "{ranges:?}");
        assert_eq!(store.meta().unwrap().unwrap(), &b"new history"[..]);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
