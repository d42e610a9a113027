//! The segment files read as a journal. Besides the chunks' records, the store writes
//! markers into them, in the order things happen: the log's metadata whenever it changes
//! (and at the head of every new segment), a reset when the log forgets its history (a
//! replica's full sync), a truncation when damage cut it. Segments are named by a number
//! that grows with each new file, and the writer never appends to a file written before a
//! restart, so reading the segments in name order and each from its start replays every
//! change the log went through.
//!
//! sled holds the index of chunks as a checkpoint of that journal. At open, what the
//! checkpoint misses (entries sled lost in a crash, or all of it when sled's files are
//! damaged) is rebuilt from here: the segments are the data. Everything here is pure: it
//! works on bytes and locations, and the store does the file I/O.

use std::collections::BTreeMap;

use bytes::{BufMut, Bytes, BytesMut};
use thiserror::Error;

use super::chunk::{CHUNK_BYTES_TARGET, split_records};
use super::segments::ChunkLocation;
use super::store::ChunkId;
use crate::log::ReplId;
use crate::log::record::Record;
use sluice_rdb::crc::crc64;

/// A record whose db is this is a marker, not a command record: no db has this number
/// (`databases` is at most 1,000,000) and it is not the "db unknown" value records carry.
pub const MARKER_DB: u32 = 0xFFFF_FFF0;
const _: () = assert!(MARKER_DB != crate::log::repl_log::DB_UNKNOWN);

const KIND_META: u8 = 0;
const KIND_RESET: u8 = 1;
const KIND_TRUNCATE: u8 = 2;

/// A change to the log that is not a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Marker {
    /// The log's metadata ([`super::meta::LogMeta`] encoded) from here on.
    Meta(Bytes),
    /// Everything before is forgotten: the log starts again (a replica's full sync).
    Reset,
    /// Records that end after `keep_until` are forgotten (damage was found there).
    Truncate { keep_until: u64 },
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum MarkerError {
    #[error("marker without a kind")]
    Empty,
    #[error("unknown marker kind {0}")]
    UnknownKind(u8),
}

impl Marker {
    /// The marker as a journal entry: a record of [`MARKER_DB`], CRC'd like any other.
    pub fn encode(&self) -> Bytes {
        let (start_offset, kind, body) = match self {
            Marker::Meta(meta) => (0, KIND_META, meta.clone()),
            Marker::Reset => (0, KIND_RESET, Bytes::new()),
            Marker::Truncate { keep_until } => (*keep_until, KIND_TRUNCATE, Bytes::new()),
        };
        let mut payload = BytesMut::with_capacity(1 + body.len());
        payload.put_u8(kind);
        payload.put_slice(&body);
        // Markers carry no history of their own: their replid field is zeros.
        let record = Record::new(start_offset, MARKER_DB, ReplId::ZERO, payload.freeze());
        record.encode()
    }

    fn decode(record: &Record) -> Result<Marker, MarkerError> {
        let (&kind, body) = record.payload.split_first().ok_or(MarkerError::Empty)?;
        match kind {
            KIND_META => Ok(Marker::Meta(record.payload.slice(1..1 + body.len()))),
            KIND_RESET => Ok(Marker::Reset),
            KIND_TRUNCATE => Ok(Marker::Truncate {
                keep_until: record.start_offset,
            }),
            other => Err(MarkerError::UnknownKind(other)),
        }
    }
}

/// One entry of a segment, where it lies in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Record {
        pos: u64,
        len: u64,
        start: u64,
        end: u64,
    },
    Marker {
        pos: u64,
        marker: Marker,
    },
}

/// Reads the entries of a segment's bytes from `from`, each checked by its CRC. Stops at the
/// first one that does not read (a torn write at a crash, or damage), saying why: nothing
/// after it in this file can be trusted to follow it.
pub fn scan(bytes: &Bytes, from: u64) -> (Vec<Entry>, Option<String>) {
    let mut entries = Vec::new();
    let mut at = crate::util::num::usize_from(from);
    while let Some(rest) = bytes.get(at..).filter(|rest| !rest.is_empty()) {
        let len = match Record::encoded_len(rest) {
            Ok(len) if len <= rest.len() => len,
            Ok(len) => {
                return (
                    entries,
                    Some(format!(
                        "entry at byte {at} says {len} bytes, {} remain",
                        rest.len()
                    )),
                );
            }
            Err(e) => return (entries, Some(format!("at byte {at}: {e}"))),
        };
        let record = match Record::decode(&bytes.slice(at..at + len)) {
            Ok(record) => record,
            Err(e) => return (entries, Some(format!("at byte {at}: {e}"))),
        };
        let pos = at as u64;
        if record.db == MARKER_DB {
            match Marker::decode(&record) {
                Ok(marker) => entries.push(Entry::Marker { pos, marker }),
                Err(e) => return (entries, Some(format!("at byte {at}: {e}"))),
            }
        } else {
            entries.push(Entry::Record {
                pos,
                len: len as u64,
                start: record.start_offset,
                end: record.end_offset(),
            });
        }
        at += len;
    }
    (entries, None)
}

/// A run of records stored back to back, indexed as one chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    pub end: u64,
    pub location: ChunkLocation,
}

/// Reads a chunk's bytes for a split; None when they cannot be read or fail their CRC.
pub type ChunkReader<'a> = dyn Fn(&ChunkLocation) -> Option<Bytes> + 'a;

/// The log as the journal builds it: chunks by start offset, and the newest metadata.
#[derive(Debug, Default)]
pub struct Chain {
    pub pieces: BTreeMap<u64, Piece>,
    pub meta: Option<Bytes>,
    /// What was dropped or could not be read on the way, for the log.
    pub notes: Vec<String>,
}

/// Records being gathered into one piece.
struct Run {
    start: u64,
    end: u64,
    pos: u64,
    len: u64,
}

impl Chain {
    /// Starts from an index (sled's checkpoint) and its metadata.
    pub fn from_index(
        index: impl IntoIterator<Item = (ChunkId, ChunkLocation)>,
        meta: Option<Bytes>,
    ) -> Chain {
        let pieces = index
            .into_iter()
            .map(|(id, location)| {
                (
                    id.start,
                    Piece {
                        end: id.end,
                        location,
                    },
                )
            })
            .collect();
        Chain {
            pieces,
            meta,
            notes: Vec::new(),
        }
    }

    fn end(&self) -> Option<u64> {
        self.pieces.values().next_back().map(|p| p.end)
    }

    /// Applies the entries of segment `segment` (whose bytes are `bytes`) in order.
    pub fn apply(&mut self, segment: u64, bytes: &Bytes, entries: &[Entry], read: &ChunkReader) {
        let mut run: Option<Run> = None;
        for entry in entries {
            match entry {
                Entry::Record {
                    pos,
                    len,
                    start,
                    end,
                } => {
                    let extends = run.as_ref().is_some_and(|r| {
                        r.end == *start
                            && r.pos + r.len == *pos
                            && r.len + len <= CHUNK_BYTES_TARGET as u64
                    });
                    if extends {
                        if let Some(r) = run.as_mut() {
                            r.end = *end;
                            r.len += len;
                        }
                        continue;
                    }
                    self.close(segment, bytes, run.take());
                    // A record at an offset the log already holds rewrites it from there.
                    if self.end().is_some_and(|e| *start < e) {
                        self.truncate(*start, read);
                    }
                    run = Some(Run {
                        start: *start,
                        end: *end,
                        pos: *pos,
                        len: *len,
                    });
                }
                Entry::Marker { marker, .. } => {
                    self.close(segment, bytes, run.take());
                    match marker {
                        Marker::Meta(meta) => self.meta = Some(meta.clone()),
                        Marker::Reset => self.pieces.clear(),
                        Marker::Truncate { keep_until } => self.truncate(*keep_until, read),
                    }
                }
            }
        }
        self.close(segment, bytes, run);
    }

    fn close(&mut self, segment: u64, bytes: &Bytes, run: Option<Run>) {
        let Some(run) = run else {
            return;
        };
        let Some(body) = bytes.get(
            crate::util::num::usize_from(run.pos)..crate::util::num::usize_from(run.pos + run.len),
        ) else {
            return;
        };
        let Ok(len) = u32::try_from(run.len) else {
            return;
        };
        self.pieces.insert(
            run.start,
            Piece {
                end: run.end,
                location: ChunkLocation {
                    segment,
                    offset: run.pos,
                    len,
                    crc: crc64(body),
                },
            },
        );
    }

    /// Forgets what ends after `keep_until`; a piece across it keeps its records that end at
    /// or before it (read back to find them).
    pub fn truncate(&mut self, keep_until: u64, read: &ChunkReader) {
        let doomed: Vec<u64> = self
            .pieces
            .range(..)
            .filter(|(_, p)| p.end > keep_until)
            .map(|(start, _)| *start)
            .collect();
        for start in doomed {
            let Some(piece) = self.pieces.remove(&start) else {
                continue;
            };
            if start >= keep_until {
                continue;
            }
            match read(&piece.location).map(|bytes| split_kept(&bytes, keep_until)) {
                Some(Some((len, end, crc))) => {
                    self.pieces.insert(
                        start,
                        Piece {
                            end,
                            location: ChunkLocation {
                                len,
                                crc,
                                ..piece.location
                            },
                        },
                    );
                }
                Some(None) => {}
                None => self.notes.push(format!(
                    "chunk {start}..{} could not be read to cut it at {keep_until}: dropped",
                    piece.end
                )),
            }
        }
    }
}

/// The records of `chunk` that end at or before `keep_until`: their length, end and CRC.
fn split_kept(chunk: &Bytes, keep_until: u64) -> Option<(u32, u64, u64)> {
    let (records, _) = split_records(chunk);
    let mut len = 0usize;
    let mut end = None;
    for record in records.iter().take_while(|r| r.end_offset() <= keep_until) {
        len += record.encoded_bytes();
        end = Some(record.end_offset());
    }
    let end = end?;
    let kept = chunk.get(..len)?;
    Some((u32::try_from(len).ok()?, end, crc64(kept)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::durable::chunk::ChunkBuilder;

    fn record(start: u64, payload: &[u8]) -> Record {
        Record::new(
            start,
            0,
            ReplId::parse_str(&"a".repeat(40)).unwrap(),
            Bytes::copy_from_slice(payload),
        )
    }

    fn encoded(record: &Record) -> Bytes {
        record.encode()
    }

    /// A segment's bytes from entries, and the records' positions.
    fn segment(parts: &[Bytes]) -> Bytes {
        let mut out = BytesMut::new();
        for p in parts {
            out.extend_from_slice(p);
        }
        out.freeze()
    }

    fn no_reads(_: &ChunkLocation) -> Option<Bytes> {
        None
    }

    fn ranges(chain: &Chain) -> Vec<(u64, u64)> {
        chain.pieces.iter().map(|(s, p)| (*s, p.end)).collect()
    }

    #[test]
    fn markers_round_trip_through_a_scan() {
        let meta = Marker::Meta(Bytes::from_static(b"meta text"));
        let truncate = Marker::Truncate { keep_until: 77 };
        let bytes = segment(&[
            meta.encode(),
            encoded(&record(10, b"abc")),
            Marker::Reset.encode(),
            truncate.encode(),
        ]);
        let (entries, stopped) = scan(&bytes, 0);
        assert_eq!(stopped, None);
        assert_eq!(entries.len(), 4);
        assert!(matches!(&entries[0], Entry::Marker { pos: 0, marker } if *marker == meta));
        assert!(matches!(
            entries[1],
            Entry::Record {
                start: 10,
                end: 13,
                ..
            }
        ));
        assert!(matches!(
            &entries[2],
            Entry::Marker {
                marker: Marker::Reset,
                ..
            }
        ));
        assert!(matches!(&entries[3], Entry::Marker { marker, .. } if *marker == truncate));
    }

    #[test]
    fn a_record_whose_db_is_unknown_is_a_record() {
        let unknown = Record::new(
            7,
            crate::log::repl_log::DB_UNKNOWN,
            ReplId::parse_str(&"a".repeat(40)).unwrap(),
            Bytes::from_static(b"*1\r\n$4\r\nPING\r\n"),
        );
        let bytes = encoded(&unknown);
        let (entries, stopped) = scan(&bytes, 0);
        assert_eq!(stopped, None);
        assert!(matches!(entries[..], [Entry::Record { start: 7, .. }]));
    }

    #[test]
    fn a_scan_stops_exactly_at_a_damaged_or_torn_entry() {
        let a = encoded(&record(0, b"first"));
        let b = encoded(&record(5, b"second"));
        let c = encoded(&record(11, b"third"));
        let bytes = segment(&[a.clone(), b.clone(), c.clone()]);
        // Torn: the last entry cut short.
        let (entries, stopped) = scan(&bytes.slice(..bytes.len() - 3), 0);
        assert_eq!(entries.len(), 2);
        assert!(stopped.is_some());
        // Damaged: a byte of the second entry's payload flipped.
        let mut damaged = bytes.to_vec();
        damaged[a.len() + b.len() - 1] ^= 0x20;
        let (entries, stopped) = scan(&Bytes::from(damaged), 0);
        assert_eq!(entries.len(), 1, "the entry before the damage is kept");
        assert!(stopped.is_some_and(|s| s.contains("CRC")));
        // From a position inside the file.
        let (entries, _) = scan(&bytes, a.len() as u64);
        assert!(matches!(entries[0], Entry::Record { start: 5, .. }));
    }

    #[test]
    fn contiguous_records_become_pieces_of_bounded_size() {
        let records: Vec<Record> = (0..5).map(|i| record(i * 3, b"xyz")).collect();
        let bytes = segment(&records.iter().map(encoded).collect::<Vec<_>>());
        let (entries, _) = scan(&bytes, 0);
        let mut chain = Chain::default();
        chain.apply(9, &bytes, &entries, &no_reads);
        assert_eq!(ranges(&chain), vec![(0, 15)]);
        let piece = chain.pieces[&0];
        assert_eq!(piece.location.segment, 9);
        assert_eq!(piece.location.len as usize, bytes.len());
        assert_eq!(piece.location.crc, crc64(&bytes));
        // Large records: one piece per 64 KiB or so.
        let big: Vec<Record> = (0..4)
            .map(|i| record(i * 40_000, &vec![b'b'; 40_000]))
            .collect();
        let bytes = segment(&big.iter().map(encoded).collect::<Vec<_>>());
        let (entries, _) = scan(&bytes, 0);
        let mut chain = Chain::default();
        chain.apply(1, &bytes, &entries, &no_reads);
        assert_eq!(chain.pieces.len(), 4);
    }

    #[test]
    fn a_reset_forgets_everything_before_and_a_meta_marker_wins() {
        let old = segment(&[
            Marker::Meta(Bytes::from_static(b"old")).encode(),
            encoded(&record(100, b"old history")),
        ]);
        let new = segment(&[
            Marker::Reset.encode(),
            Marker::Meta(Bytes::from_static(b"new")).encode(),
            encoded(&record(50, b"new history")),
        ]);
        let mut chain = Chain::default();
        chain.apply(1, &old, &scan(&old, 0).0, &no_reads);
        chain.apply(2, &new, &scan(&new, 0).0, &no_reads);
        assert_eq!(ranges(&chain), vec![(50, 61)]);
        assert_eq!(chain.meta.as_deref(), Some(&b"new"[..]));
    }

    #[test]
    fn a_truncation_inside_a_piece_keeps_its_records_before_the_cut() {
        let mut builder = ChunkBuilder::default();
        for i in 0..4 {
            assert!(builder.push(&record(i * 10, b"0123456789")).is_none());
        }
        let (_, chunk) = builder.take().unwrap();
        let location = ChunkLocation {
            segment: 1,
            offset: 0,
            len: u32::try_from(chunk.len()).unwrap(),
            crc: crc64(&chunk),
        };
        let mut chain = Chain::from_index([(ChunkId { start: 0, end: 40 }, location)], None);
        let stored = chunk.clone();
        let read =
            move |l: &ChunkLocation| (l.segment == 1).then(|| stored.slice(..l.len as usize));
        // Cut at 25: the records ending at 10 and 20 stay.
        let cut = segment(&[Marker::Truncate { keep_until: 25 }.encode()]);
        chain.apply(2, &cut, &scan(&cut, 0).0, &read);
        assert_eq!(ranges(&chain), vec![(0, 20)]);
        let kept = chain.pieces[&0].location;
        assert_eq!(kept.len as usize, 2 * (64 + 10));
        assert_eq!(kept.crc, crc64(&chunk[..kept.len as usize]));
        // A record at an offset already held rewrites the log from there.
        let rewrite = segment(&[encoded(&record(10, b"rewritten"))]);
        chain.apply(3, &rewrite, &scan(&rewrite, 0).0, &read);
        assert_eq!(ranges(&chain), vec![(0, 10), (10, 19)]);
        assert_eq!(chain.pieces[&10].location.segment, 3);
    }

    #[test]
    fn a_piece_that_cannot_be_read_for_a_cut_is_dropped_and_said() {
        let location = ChunkLocation {
            segment: 1,
            offset: 0,
            len: 100,
            crc: 0,
        };
        let mut chain = Chain::from_index(
            [
                (ChunkId { start: 0, end: 10 }, location),
                (ChunkId { start: 10, end: 40 }, location),
            ],
            None,
        );
        chain.truncate(25, &no_reads);
        assert_eq!(ranges(&chain), vec![(0, 10)]);
        assert_eq!(chain.notes.len(), 1);
    }
}
