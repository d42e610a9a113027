//! The bodies of the log's chunks, appended to segment files beside sled, which keeps only
//! where each chunk lies ([`ChunkLocation`]). Kept out of sled's tree because sled holds
//! what it writes in memory: with 64 KiB chunks inline, a 1 GiB log kept 0.5–0.9 GB
//! resident whatever its cache size, and the backlog must be able to exceed RAM. Read
//! back with `pread`, a chunk costs page cache, which the kernel can reclaim.
//!
//! Segments are also the log's journal (see [`super::journal`]): markers go between the
//! chunks, each new file is numbered after every file before it, and a file written before
//! a restart is never appended to again, so name order is write order. (Files of earlier
//! versions are named by the offset of their first chunk; they sort before newer ones.) A
//! segment is closed once it reaches [`SEGMENT_BYTES_TARGET`], and deleted once none of its
//! chunks is indexed any more and that removal is durable. Data is synced before the index
//! that points at it.

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
        let Ok(fixed) = <&[u8; Self::ENCODED_BYTES]>::try_from(bytes) else {
            return Err(StoreError::Corrupt(format!(
                "chunk location of {} bytes",
                bytes.len()
            )));
        };
        let (segment, rest) = fixed.split_at(8);
        let (offset, rest) = rest.split_at(8);
        let (len, crc) = rest.split_at(4);
        let u64_of = |b: &[u8]| u64::from_be_bytes(b.try_into().unwrap_or([0; 8]));
        let location = ChunkLocation {
            segment: u64_of(segment),
            offset: u64_of(offset),
            len: u32::from_be_bytes(len.try_into().unwrap_or([0; 4])),
            crc: u64_of(crc),
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
    /// The number the next new segment gets: above every segment's.
    next_id: u64,
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
    StoreError::io(format!("{what} {}", path.display()), e)
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
}

/// The segment files in `dir` by number, with their paths.
pub fn list(dir: &Path) -> Result<BTreeMap<u64, PathBuf>, StoreError> {
    let mut files = BTreeMap::new();
    let entries = std::fs::read_dir(dir).map_err(|e| io("listing", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| io("listing", dir, e))?;
        if let Some(id) = entry.file_name().to_str().and_then(parse_segment_name) {
            files.insert(id, entry.path());
        }
    }
    Ok(files)
}

impl Segments {
    /// Opens the segments in `dir` against the locations the index holds (after the
    /// journal filled in what the index missed). A file no location points into holds
    /// nothing the log keeps: it is deleted after the next sync, as a trimmed one is.
    /// Locations beyond their segment's end are reported, not trusted. Appends go to a new
    /// file: the newest one may end in a torn write.
    pub fn open(
        dir: &Path,
        indexed: &[ChunkLocation],
    ) -> Result<(Segments, OpenReport), StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| io("creating", dir, e))?;
        let mut report = OpenReport::default();
        let mut live: BTreeMap<u64, u64> = BTreeMap::new();
        for location in indexed {
            *live.entry(location.segment).or_default() += 1;
        }
        let mut inner = Inner::default();
        for (id, path) in list(dir)? {
            let file = File::options()
                .read(true)
                .write(true)
                .open(&path)
                .map_err(|e| io("opening", &path, e))?;
            let len = file
                .metadata()
                .map_err(|e| io("reading the size of", &path, e))?
                .len();
            let live_chunks = live.get(&id).copied().unwrap_or(0);
            if live_chunks == 0 {
                inner.dead.insert(id);
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
        inner.next_id = inner.segments.keys().next_back().map_or(1, |id| id + 1);
        Ok((
            Segments {
                dir: dir.to_path_buf(),
                inner: Mutex::new(inner),
            },
            report,
        ))
    }

    /// Appends a chunk. `preamble` is written first if the chunk starts a new file (the
    /// journal's metadata marker, so that the newest file always holds it).
    pub fn append(&self, bytes: &[u8], preamble: &[u8]) -> Result<ChunkLocation, StoreError> {
        let len = u32::try_from(bytes.len())
            .ok()
            .filter(|&l| u64::from(l) <= CHUNK_BYTES_MAX)
            .ok_or_else(|| StoreError::Refused(format!("a chunk of {} bytes", bytes.len())))?;
        let mut inner = self.inner.lock();
        let (segment, offset) = self.write(&mut inner, bytes, preamble)?;
        if let Some(s) = inner.segments.get_mut(&segment) {
            s.live_chunks += 1;
        }
        Ok(ChunkLocation {
            segment,
            offset,
            len,
            crc: sluice_rdb::crc::crc64(bytes),
        })
    }

    /// Appends a journal marker (never indexed, read only by a journal scan).
    pub fn append_marker(&self, bytes: &[u8], preamble: &[u8]) -> Result<(), StoreError> {
        let mut inner = self.inner.lock();
        self.write(&mut inner, bytes, preamble).map(|_| ())
    }

    /// Writes `bytes` at the end of the active segment (rolling first if needed); returns
    /// where they went.
    fn write(
        &self,
        inner: &mut Inner,
        bytes: &[u8],
        preamble: &[u8],
    ) -> Result<(u64, u64), StoreError> {
        let roll = inner
            .active
            .and_then(|id| inner.segments.get(&id))
            .is_none_or(|s| s.len >= SEGMENT_BYTES_TARGET);
        if roll {
            self.roll(inner, preamble)?;
        }
        let id = inner
            .active
            .ok_or_else(|| StoreError::Refused("no active segment".into()))?;
        let segment = inner
            .segments
            .get_mut(&id)
            .ok_or_else(|| StoreError::Refused("the active segment is gone".into()))?;
        let offset = segment.len;
        segment
            .file
            .write_all_at(bytes, offset)
            .map_err(|e| io("writing", &self.dir.join(segment_name(id)), e))?;
        segment.len = offset + bytes.len() as u64;
        inner.unsynced.insert(id);
        Ok((id, offset))
    }

    /// Starts a new segment, numbered after every one before it, with `preamble` at its
    /// head.
    fn roll(&self, inner: &mut Inner, preamble: &[u8]) -> Result<(), StoreError> {
        if let Some(old) = inner.active
            && inner.segments.get(&old).is_some_and(|s| s.live_chunks == 0)
        {
            inner.dead.insert(old);
        }
        let id = inner.next_id;
        let path = self.dir.join(segment_name(id));
        let file = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| io("creating", &path, e))?;
        if let Err(e) = file.write_all_at(preamble, 0) {
            // Nothing was indexed in it: a file that is only a torn preamble goes away.
            let _ = std::fs::remove_file(&path);
            return Err(io("writing", &path, e));
        }
        inner.next_id = id + 1;
        inner.segments.insert(
            id,
            Segment {
                file: Arc::new(file),
                len: preamble.len() as u64,
                live_chunks: 0,
            },
        );
        inner.unsynced.insert(id);
        inner.active = Some(id);
        Ok(())
    }

    /// Reads a chunk back, checking its CRC. None when its segment is gone (trimmed
    /// meanwhile).
    pub fn read(&self, location: &ChunkLocation) -> Result<Option<Bytes>, StoreError> {
        let Some(bytes) = self.read_unchecked(location)? else {
            return Ok(None);
        };
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
        Ok(Some(bytes))
    }

    /// A chunk's bytes without the CRC check: what a damaged chunk still holds, for the
    /// records in it that pass their own CRCs.
    pub fn read_unchecked(&self, location: &ChunkLocation) -> Result<Option<Bytes>, StoreError> {
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
        let a = segments.append(b"first chunk", b"pre").unwrap();
        let b = segments.append(b"second", b"pre").unwrap();
        assert_eq!(
            (a.segment, a.offset, b.segment, b.offset),
            (1, 3, 1, 14),
            "a new segment starts with its preamble"
        );
        assert_eq!(segments.read(&b).unwrap().unwrap(), &b"second"[..]);
        segments.sync().unwrap();
        let file = File::options()
            .write(true)
            .open(dir.join(segment_name(1)))
            .unwrap();
        file.write_all_at(b"X", 15).unwrap();
        assert!(matches!(segments.read(&b), Err(StoreError::Corrupt(_))));
        assert_eq!(
            segments.read_unchecked(&b).unwrap().unwrap(),
            &b"sXcond"[..],
            "the bytes as stored, for salvage"
        );
        assert_eq!(segments.read(&a).unwrap().unwrap(), &b"first chunk"[..]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn segments_roll_and_are_deleted_only_after_a_sync() {
        let dir = temp_dir("segments-roll");
        let (segments, _) = Segments::open(&dir, &[]).unwrap();
        let big = vec![7u8; crate::util::num::usize_from(SEGMENT_BYTES_TARGET)];
        let first = segments.append(&big, b"").unwrap();
        let second = segments.append(b"x", b"").unwrap();
        assert_eq!(second.segment, 2, "a full segment rolls to the next number");
        assert_eq!(segments.file_count(), 2);
        segments.release(&first);
        assert!(dir.join(segment_name(1)).exists());
        let dead = segments.sync().unwrap();
        assert_eq!(dead, vec![1]);
        segments.delete(&dead);
        assert!(!dir.join(segment_name(1)).exists());
        assert_eq!(segments.file_count(), 1);
        // The active segment stays even when empty: appends continue there.
        segments.release(&second);
        assert!(segments.sync().unwrap().is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn opening_numbers_new_files_after_every_old_one_and_reports_what_is_missing() {
        let dir = temp_dir("segments-open");
        let (segments, _) = Segments::open(&dir, &[]).unwrap();
        let kept = segments.append(b"indexed", b"").unwrap();
        segments.append_marker(b"marker", b"").unwrap();
        let unindexed = segments.append(b"never indexed", b"").unwrap();
        drop(segments);
        // A file of an earlier version, named by an offset.
        std::fs::write(dir.join(segment_name(5000)), b"legacy").unwrap();
        let beyond = ChunkLocation {
            segment: 1,
            offset: 1000,
            len: 5,
            crc: 0,
        };
        let (segments, report) = Segments::open(&dir, &[kept, beyond]).unwrap();
        assert_eq!(report.missing, vec![beyond]);
        assert_eq!(segments.file_count(), 2, "nothing is deleted at open");
        // Nothing is appended to a file written before the restart.
        let next = segments.append(b"next", b"").unwrap();
        assert_eq!(next.segment, 5001);
        assert_eq!(next.offset, 0);
        assert_eq!(segments.read(&kept).unwrap().unwrap(), &b"indexed"[..]);
        assert_eq!(
            segments.read(&unindexed).unwrap().unwrap(),
            &b"never indexed"[..],
            "kept for the journal"
        );
        // The legacy file has no indexed chunk: deleted after the next sync.
        let dead = segments.sync().unwrap();
        assert_eq!(dead, vec![5000]);
        segments.delete(&dead);
        assert!(!dir.join(segment_name(5000)).exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
