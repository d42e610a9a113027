//! The bodies of the log's chunks, appended to segment files beside sled, which keeps only
//! where each chunk lies ([`ChunkLocation`]). Kept out of sled's tree because sled holds
//! what it writes in memory: with 64 KiB chunks inline, a 1 GiB log kept 0.5–0.9 GB
//! resident whatever its cache size, and the backlog must be able to exceed RAM. Read
//! back with `pread`, a chunk costs page cache, which the kernel can reclaim.
//!
//! A segment is named by the start offset of its first chunk and closed once it reaches
//! [`SEGMENT_BYTES_TARGET`]. It is deleted once none of its chunks is indexed any more and
//! that removal is durable. Data is synced before the index that points at it.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

use super::store::StoreError;

/// A closed segment holds at least this much (a chunk is never split across two).
pub const SEGMENT_BYTES_TARGET: u64 = 16 << 20;
const SEGMENT_SUFFIX: &str = ".seg";
/// A chunk larger than this cannot come from the writer (chunks close at 64 KiB, and a
/// record is capped by the protocol's bulk limit): an index entry that says so is damaged.
const CHUNK_BYTES_MAX: u64 = 1 << 30;

/// Where one chunk's bytes are: its segment, its place in it, and their CRC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkLocation {
    pub segment: u64,
    pub offset: u64,
    pub len: u32,
    pub crc: u64,
}

impl ChunkLocation {
    pub const ENCODED_BYTES: usize = 28;

    pub fn encode(&self) -> [u8; Self::ENCODED_BYTES] {
        let mut out = [0u8; Self::ENCODED_BYTES];
        out[..8].copy_from_slice(&self.segment.to_be_bytes());
        out[8..16].copy_from_slice(&self.offset.to_be_bytes());
        out[16..20].copy_from_slice(&self.len.to_be_bytes());
        out[20..].copy_from_slice(&self.crc.to_be_bytes());
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<ChunkLocation, StoreError> {
        if bytes.len() != Self::ENCODED_BYTES {
            return Err(StoreError::Corrupt(format!(
                "chunk location of {} bytes",
                bytes.len()
            )));
        }
        let u64_at = |at: usize| {
            let mut word = [0u8; 8];
            word.copy_from_slice(&bytes[at..at + 8]);
            u64::from_be_bytes(word)
        };
        let mut len = [0u8; 4];
        len.copy_from_slice(&bytes[16..20]);
        let location = ChunkLocation {
            segment: u64_at(0),
            offset: u64_at(8),
            len: u32::from_be_bytes(len),
            crc: u64_at(20),
        };
        if u64::from(location.len) > CHUNK_BYTES_MAX {
            return Err(StoreError::Corrupt(format!(
                "chunk location says {} bytes",
                location.len
            )));
        }
        Ok(location)
    }

    fn end(&self) -> u64 {
        self.offset + u64::from(self.len)
    }
}

#[derive(Debug)]
struct Segment {
    file: Arc<File>,
    len: u64,
    live_chunks: u64,
}

#[derive(Debug, Default)]
struct Inner {
    segments: BTreeMap<u64, Segment>,
    /// The segment appends go to.
    active: Option<u64>,
    /// Written since the last sync.
    unsynced: BTreeSet<u64>,
    /// No chunk of theirs is indexed: deleted once that is durable.
    dead: BTreeSet<u64>,
}

#[derive(Debug)]
pub struct Segments {
    dir: PathBuf,
    inner: Mutex<Inner>,
}

fn io(what: &str, path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Io(format!("{what} {}: {e}", path.display()))
}

fn segment_name(id: u64) -> String {
    format!("{id:020}{SEGMENT_SUFFIX}")
}

fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SEGMENT_SUFFIX)?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// What opening found wrong with the index, for the store to drop and report.
#[derive(Debug, Default)]
pub struct OpenReport {
    /// Indexed chunks whose bytes are not (all) there: a segment missing or too short.
    pub missing: Vec<ChunkLocation>,
    /// Segment files that were deleted or cut because nothing indexed them.
    pub reclaimed: Vec<String>,
}

impl Segments {
    /// Opens the segments in `dir` against the locations the index holds. Files and tails
    /// that no location covers were written before a crash but never indexed: they are
    /// removed. Locations beyond their segment's end are reported, not trusted.
    pub fn open(
        dir: &Path,
        indexed: &[ChunkLocation],
    ) -> Result<(Segments, OpenReport), StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| io("creating", dir, e))?;
        let mut report = OpenReport::default();
        let mut used: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
        for location in indexed {
            let entry = used.entry(location.segment).or_default();
            entry.0 = entry.0.max(location.end());
            entry.1 += 1;
        }
        let mut inner = Inner::default();
        let entries = std::fs::read_dir(dir).map_err(|e| io("listing", dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| io("listing", dir, e))?;
            let name = entry.file_name();
            let Some(id) = name.to_str().and_then(parse_segment_name) else {
                continue;
            };
            let path = entry.path();
            let Some(&(used_end, live_chunks)) = used.get(&id) else {
                std::fs::remove_file(&path).map_err(|e| io("removing", &path, e))?;
                report
                    .reclaimed
                    .push(format!("{} (not indexed)", segment_name(id)));
                continue;
            };
            let file = File::options()
                .read(true)
                .write(true)
                .open(&path)
                .map_err(|e| io("opening", &path, e))?;
            let mut len = file
                .metadata()
                .map_err(|e| io("reading the size of", &path, e))?
                .len();
            if len > used_end {
                file.set_len(used_end)
                    .map_err(|e| io("truncating", &path, e))?;
                report.reclaimed.push(format!(
                    "{} cut from {len} to {used_end} bytes (tail not indexed)",
                    segment_name(id)
                ));
                len = used_end;
            }
            inner.segments.insert(
                id,
                Segment {
                    file: Arc::new(file),
                    len,
                    live_chunks,
                },
            );
        }
        for location in indexed {
            let whole = inner
                .segments
                .get(&location.segment)
                .is_some_and(|s| location.end() <= s.len);
            if !whole {
                report.missing.push(*location);
            }
        }
        // Appends continue in the newest segment; a damaged one is left to be trimmed.
        inner.active = inner.segments.keys().next_back().copied();
        Ok((
            Segments {
                dir: dir.to_path_buf(),
                inner: Mutex::new(inner),
            },
            report,
        ))
    }

    /// Appends a chunk that starts at log offset `chunk_start`.
    pub fn append(&self, chunk_start: u64, bytes: &[u8]) -> Result<ChunkLocation, StoreError> {
        let len = u32::try_from(bytes.len())
            .ok()
            .filter(|&l| u64::from(l) <= CHUNK_BYTES_MAX)
            .ok_or_else(|| StoreError::Io(format!("a chunk of {} bytes", bytes.len())))?;
        let mut inner = self.inner.lock();
        let roll = inner
            .active
            .and_then(|id| inner.segments.get(&id))
            .is_none_or(|s| s.len >= SEGMENT_BYTES_TARGET);
        if roll {
            self.roll(&mut inner, chunk_start)?;
        }
        let id = inner
            .active
            .ok_or_else(|| StoreError::Io("no active segment".into()))?;
        let segment = inner
            .segments
            .get_mut(&id)
            .ok_or_else(|| StoreError::Io("the active segment is gone".into()))?;
        let location = ChunkLocation {
            segment: id,
            offset: segment.len,
            len,
            crc: sluice_rdb::crc::crc64(bytes),
        };
        segment
            .file
            .write_all_at(bytes, location.offset)
            .map_err(|e| io("writing", &self.dir.join(segment_name(id)), e))?;
        segment.len = location.end();
        segment.live_chunks += 1;
        inner.unsynced.insert(id);
        Ok(location)
    }

    fn roll(&self, inner: &mut Inner, id: u64) -> Result<(), StoreError> {
        if let Some(old) = inner.active
            && inner.segments.get(&old).is_some_and(|s| s.live_chunks == 0)
        {
            inner.dead.insert(old);
        }
        if inner.segments.contains_key(&id) {
            // A segment named by this offset holds chunks of an older history (a log
            // restarted at an offset it had already passed): keep appending there.
            inner.active = Some(id);
            return Ok(());
        }
        let path = self.dir.join(segment_name(id));
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(|e| io("creating", &path, e))?;
        inner.segments.insert(
            id,
            Segment {
                file: Arc::new(file),
                len: 0,
                live_chunks: 0,
            },
        );
        inner.active = Some(id);
        Ok(())
    }

    /// Reads a chunk back, checking its CRC. None when its segment is gone (trimmed
    /// meanwhile).
    pub fn read(&self, location: &ChunkLocation) -> Result<Option<Bytes>, StoreError> {
        let Some(file) = self
            .inner
            .lock()
            .segments
            .get(&location.segment)
            .map(|s| s.file.clone())
        else {
            return Ok(None);
        };
        let mut bytes = vec![0u8; location.len as usize];
        let path = || self.dir.join(segment_name(location.segment));
        file.read_exact_at(&mut bytes, location.offset)
            .map_err(|e| io("reading", &path(), e))?;
        let crc = sluice_rdb::crc::crc64(&bytes);
        if crc != location.crc {
            return Err(StoreError::Corrupt(format!(
                "chunk at {}+{} in {}: CRC {crc:#x}, index says {:#x}",
                location.offset,
                location.len,
                segment_name(location.segment),
                location.crc
            )));
        }
        Ok(Some(Bytes::from(bytes)))
    }

    /// A chunk is no longer indexed; its segment goes once it holds none.
    pub fn release(&self, location: &ChunkLocation) {
        let mut inner = self.inner.lock();
        let active = inner.active;
        let Some(segment) = inner.segments.get_mut(&location.segment) else {
            return;
        };
        segment.live_chunks = segment.live_chunks.saturating_sub(1);
        if segment.live_chunks == 0 && active != Some(location.segment) {
            inner.dead.insert(location.segment);
        }
    }

    /// Makes every append so far durable; returns the segments that were dead before it,
    /// which [`Segments::delete`] may remove once the index that dropped them is durable.
    pub fn sync(&self) -> Result<Vec<u64>, StoreError> {
        let (files, dead) = {
            let mut inner = self.inner.lock();
            let ids = std::mem::take(&mut inner.unsynced);
            let files: Vec<(u64, Arc<File>)> = ids
                .iter()
                .filter_map(|id| inner.segments.get(id).map(|s| (*id, s.file.clone())))
                .collect();
            (files, inner.dead.iter().copied().collect::<Vec<_>>())
        };
        for (id, file) in &files {
            if let Err(e) = file.sync_data() {
                // Synced again next time: the failure is reported, nothing is forgotten.
                self.inner.lock().unsynced.insert(*id);
                return Err(io("syncing", &self.dir.join(segment_name(*id)), e));
            }
        }
        Ok(dead)
    }

    /// Deletes segments [`Segments::sync`] returned as dead, unless they came back to life.
    pub fn delete(&self, ids: &[u64]) {
        for id in ids {
            let removed = {
                let mut inner = self.inner.lock();
                let still_dead = inner.segments.get(id).is_some_and(|s| s.live_chunks == 0)
                    && inner.active != Some(*id);
                inner.dead.remove(id);
                if still_dead {
                    inner.segments.remove(id);
                }
                still_dead
            };
            if removed {
                let path = self.dir.join(segment_name(*id));
                if let Err(e) = std::fs::remove_file(&path) {
                    tracing::warn!("cannot remove {}: {e}", path.display());
                }
            }
        }
    }

    pub fn size_bytes(&self) -> u64 {
        self.inner.lock().segments.values().map(|s| s.len).sum()
    }

    #[cfg(test)]
    pub fn file_count(&self) -> usize {
        self.inner.lock().segments.len()
    }
}

#[cfg(test)]
mod tests {
    use super::super::store::test_support::temp_dir;
    use super::*;

    #[test]
    fn locations_round_trip_and_refuse_nonsense() {
        let location = ChunkLocation {
            segment: 1 << 40,
            offset: 77,
            len: 65_536,
            crc: 0xdead_beef_0bad_f00d,
        };
        assert_eq!(ChunkLocation::decode(&location.encode()).unwrap(), location);
        assert!(ChunkLocation::decode(&location.encode()[..27]).is_err());
        let mut huge = location.encode();
        huge[16..20].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(ChunkLocation::decode(&huge).is_err());
    }

    #[test]
    fn appended_chunks_read_back_and_damage_is_caught() {
        let dir = temp_dir("segments-read");
        let (segments, _) = Segments::open(&dir, &[]).unwrap();
        let a = segments.append(100, b"first chunk").unwrap();
        let b = segments.append(111, b"second").unwrap();
        assert_eq!(
            (a.segment, a.offset, b.segment, b.offset),
            (100, 0, 100, 11)
        );
        assert_eq!(segments.read(&b).unwrap().unwrap(), &b"second"[..]);
        segments.sync().unwrap();
        let file = File::options()
            .write(true)
            .open(dir.join(segment_name(100)))
            .unwrap();
        file.write_all_at(b"X", 12).unwrap();
        assert!(matches!(segments.read(&b), Err(StoreError::Corrupt(_))));
        assert_eq!(segments.read(&a).unwrap().unwrap(), &b"first chunk"[..]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn segments_roll_and_are_deleted_only_after_a_sync() {
        let dir = temp_dir("segments-roll");
        let (segments, _) = Segments::open(&dir, &[]).unwrap();
        let big = vec![7u8; SEGMENT_BYTES_TARGET as usize];
        let first = segments.append(0, &big).unwrap();
        let second = segments.append(SEGMENT_BYTES_TARGET, b"x").unwrap();
        assert_eq!(second.segment, SEGMENT_BYTES_TARGET, "a full segment rolls");
        assert_eq!(segments.file_count(), 2);
        segments.release(&first);
        assert!(dir.join(segment_name(0)).exists());
        let dead = segments.sync().unwrap();
        assert_eq!(dead, vec![0]);
        segments.delete(&dead);
        assert!(!dir.join(segment_name(0)).exists());
        assert_eq!(segments.file_count(), 1);
        // The active segment stays even when empty: appends continue there.
        segments.release(&second);
        assert!(segments.sync().unwrap().is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn opening_removes_what_no_index_entry_covers_and_reports_what_is_missing() {
        let dir = temp_dir("segments-open");
        let (segments, _) = Segments::open(&dir, &[]).unwrap();
        let kept = segments.append(0, b"indexed").unwrap();
        let _orphan_tail = segments.append(7, b"never indexed").unwrap();
        // Fills the first segment, so that the next chunk starts a file of its own.
        let big = vec![1u8; SEGMENT_BYTES_TARGET as usize];
        segments.append(20, &big).unwrap();
        let orphan_file = segments.append(20 + SEGMENT_BYTES_TARGET, b"lost").unwrap();
        assert_eq!(orphan_file.segment, 20 + SEGMENT_BYTES_TARGET);
        drop(segments);
        let beyond = ChunkLocation {
            segment: 0,
            offset: 20 + SEGMENT_BYTES_TARGET + 1000,
            len: 5,
            crc: 0,
        };
        let (segments, report) = Segments::open(&dir, &[kept, beyond]).unwrap();
        assert_eq!(report.missing, vec![beyond]);
        assert_eq!(report.reclaimed.len(), 1, "{:?}", report.reclaimed);
        assert_eq!(segments.file_count(), 1);
        drop(segments);
        let (segments, report) = Segments::open(&dir, &[kept]).unwrap();
        assert!(report.missing.is_empty());
        assert_eq!(report.reclaimed.len(), 1, "{:?}", report.reclaimed);
        assert_eq!(segments.size_bytes(), 7, "cut to what the index covers");
        assert_eq!(segments.read(&kept).unwrap().unwrap(), &b"indexed"[..]);
        // Appends continue after the indexed end.
        assert_eq!(segments.append(7, b"next").unwrap().offset, 7);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
