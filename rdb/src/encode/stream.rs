//! Streams, written the way Redis 7.0 (type 19, in RDB 10) and Redis 7.2 and later (type 21,
//! in RDB 11 and up) write them; type 21 adds each consumer's active time. Type 26 (Redis
//! 8.6) is never written: it only adds idempotent-producer state, which sluice does not have.
//!
//! The layout, after the type byte and the key:
//!
//! ```text
//! nodes            length   N listpack nodes, then N times:
//!   master ID      string   16 bytes, ms and seq big-endian (the node's radix-tree key)
//!   listpack       string
//! length           length   live entries
//! last_id          length, length   (ms, seq)
//! first_id         length, length
//! max_deleted_id   length, length
//! entries_added    length
//! groups           length   G, then G times:
//!   name           string
//!   last_delivered length, length
//!   entries_read   length   -1 (2^64 - 1) when unknown
//!   PEL            length   P, then P times: 16-byte raw ID, 8-byte LE delivery time,
//!                           delivery count (length)
//!   consumers      length   C, then C times: name (string), seen time (8 bytes LE),
//!                           active time (8 bytes LE, type 21 only), PEL count (length) and
//!                           that many 16-byte raw IDs
//! ```
//!
//! The listpacks are those t_stream.c's `streamAppendItem` builds when the entries are added
//! in order with the default `stream-node-max-entries 100` and `stream-node-max-bytes 4096`,
//! so a loaded stream is laid out as if it had been built by XADD there.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use super::{Encoder, listpack_size, lp_begin, lp_end, lp_push, lp_push_int};
use crate::error::{EncodeError, StreamDefect};
use crate::model::{StreamEntry, StreamId, StreamValue, rdb_type};

/// Redis's default `stream-node-max-entries`: a node takes no entry past this many.
const NODE_ENTRIES_MAX: usize = 100;
/// Redis's default `stream-node-max-bytes`.
const NODE_BYTES_MAX: u64 = 4096;
/// `STREAM_LISTPACK_MAX_SIZE`: XADD refuses an entry whose fields and values add up to more.
const ENTRY_DATA_BYTES_MAX: u64 = 1 << 30;
/// A listpack's size field is 32 bits.
const LISTPACK_BYTES_MAX: u64 = u32::MAX as u64;
/// Type 21, with consumers' active time, came with RDB 11 (Redis 7.2).
const STREAM_V3_RDB_VERSION_MIN: u32 = 11;
/// `SCG_INVALID_ENTRIES_READ`, -1, as Redis writes it in an RDB length.
const ENTRIES_READ_UNKNOWN: u64 = u64::MAX;

const FLAG_NONE: i64 = 0;
const FLAG_SAMEFIELDS: i64 = 2;

impl Encoder {
    /// Writes a stream with its consumer groups: type 19 at [`crate::EncoderOptions::rdb_version`]
    /// 10, as Redis 7.0 writes it, and type 21 at 11 and up, as Redis 7.2 and later do.
    ///
    /// Type 19 has no consumer active time, so `active_time_ms` is not written there (Redis
    /// 7.2 and later take the seen time for it on load); type 21 writes the seen time for a
    /// consumer whose `active_time_ms` is `None`. A group's `entries_read` of `None` is
    /// written as -1, Redis's "unknown". `first_id`, `max_deleted_entry_id` and
    /// `entries_added` are written as they are, and the PEL, groups and consumers in the
    /// model's order (Redis keeps them sorted, whatever order they are read in).
    ///
    /// A stream without entries is written with no listpack node, as Redis writes one emptied
    /// by XDEL or XTRIM.
    ///
    /// The stream is checked before anything is written ([`EncodeError::InvalidStream`]):
    /// `length` must be the number of entries and `entries_added` at least that; entry IDs
    /// strictly increasing and none above `last_id`; no entry with over 1 GiB of fields and
    /// values; group names unique and `entries_read` below 2^63; in each group consumer names
    /// unique, PEL IDs unique, and each PEL ID owned by exactly one consumer, which lists no
    /// ID outside the group's PEL.
    pub fn write_stream(
        &mut self,
        key: &[u8],
        stream: &StreamValue,
        expire_at_ms: Option<u64>,
    ) -> Result<(), EncodeError> {
        check_counts_and_groups(stream)?;
        let nodes = plan_nodes(stream)?;
        let v3 = self.rdb_version >= STREAM_V3_RDB_VERSION_MIN;
        let t = if v3 {
            rdb_type::STREAM_LISTPACKS_3
        } else {
            rdb_type::STREAM_LISTPACKS_2
        };
        self.entry_head(t, key, expire_at_ms);
        self.put_len(nodes.len() as u64);
        let mut lp = std::mem::take(&mut self.scratch);
        let mut rest = stream.entries.as_slice();
        for count in nodes {
            let (node, tail) = rest.split_at(count.min(rest.len()));
            rest = tail;
            let Some(master) = node.first() else {
                // The plan has no empty node; an empty listpack would not load.
                continue;
            };
            build_node(&mut lp, master, node);
            self.put_blob(&master.id.to_be_bytes());
            self.put_blob(&lp);
        }
        self.scratch = lp;

        self.put_len(stream.length);
        self.put_id(stream.last_id);
        self.put_id(stream.first_id);
        self.put_id(stream.max_deleted_entry_id);
        self.put_len(stream.entries_added);

        self.put_len(stream.groups.len() as u64);
        for g in &stream.groups {
            self.put_string(&g.name);
            self.put_id(g.last_delivered_id);
            self.put_len(g.entries_read.unwrap_or(ENTRIES_READ_UNKNOWN));
            self.put_len(g.pending.len() as u64);
            for p in &g.pending {
                self.put(&p.id.to_be_bytes());
                self.put(&p.delivery_time_ms.to_le_bytes());
                self.put_len(p.delivery_count);
            }
            self.put_len(g.consumers.len() as u64);
            for c in &g.consumers {
                self.put_string(&c.name);
                self.put(&c.seen_time_ms.to_le_bytes());
                if v3 {
                    let active = c.active_time_ms.unwrap_or(c.seen_time_ms);
                    self.put(&active.to_le_bytes());
                }
                self.put_len(c.pending.len() as u64);
                for id in &c.pending {
                    self.put(&id.to_be_bytes());
                }
            }
        }
        Ok(())
    }

    /// A stream ID as two RDB lengths, the way the metadata and groups store it.
    fn put_id(&mut self, id: StreamId) {
        self.put_len(id.ms);
        self.put_len(id.seq);
    }
}

fn invalid(defect: StreamDefect, id: Option<StreamId>) -> EncodeError {
    EncodeError::InvalidStream { defect, id }
}

/// The checks of the groups and of the stream's counters, which Redis's loader or its
/// commands rely on.
fn check_counts_and_groups(stream: &StreamValue) -> Result<(), EncodeError> {
    if stream.length != stream.entries.len() as u64 {
        return Err(invalid(StreamDefect::LengthMismatch, None));
    }
    if stream.entries_added < stream.length {
        return Err(invalid(StreamDefect::EntriesAddedBelowLength, None));
    }
    let mut names = HashSet::with_capacity(stream.groups.len());
    for g in &stream.groups {
        if !names.insert(g.name.as_ref()) {
            return Err(invalid(StreamDefect::DuplicateGroup, None));
        }
        if g.entries_read.is_some_and(|n| i64::try_from(n).is_err()) {
            return Err(invalid(StreamDefect::EntriesReadOutOfRange, None));
        }
        // Each PEL ID with whether a consumer has claimed it yet.
        let mut owned: HashMap<StreamId, bool> = HashMap::with_capacity(g.pending.len());
        for p in &g.pending {
            if owned.insert(p.id, false).is_some() {
                return Err(invalid(StreamDefect::DuplicatePending, Some(p.id)));
            }
        }
        let mut consumers = HashSet::with_capacity(g.consumers.len());
        for c in &g.consumers {
            if !consumers.insert(c.name.as_ref()) {
                return Err(invalid(StreamDefect::DuplicateConsumer, None));
            }
            for &id in &c.pending {
                match owned.entry(id) {
                    Entry::Vacant(_) => {
                        return Err(invalid(StreamDefect::ConsumerPendingNotInGroup, Some(id)));
                    }
                    Entry::Occupied(mut o) => {
                        if o.insert(true) {
                            return Err(invalid(StreamDefect::PendingOwnedTwice, Some(id)));
                        }
                    }
                }
            }
        }
        // In PEL order, so that the error names the same ID every time.
        if let Some(p) = g.pending.iter().find(|p| owned.get(&p.id) == Some(&false)) {
            return Err(invalid(StreamDefect::PendingUnowned, Some(p.id)));
        }
    }
    Ok(())
}

/// Splits the entries into listpack nodes the way `streamAppendItem` does when they are
/// added in order, checking them on the way; returns each node's number of entries.
fn plan_nodes(stream: &StreamValue) -> Result<Vec<usize>, EncodeError> {
    let mut nodes = Vec::new();
    let mut master: Option<&StreamEntry> = None;
    let mut prev: Option<StreamId> = None;
    let mut count = 0usize;
    let mut bytes = 0u64;
    for e in &stream.entries {
        if prev.is_some_and(|p| p >= e.id) {
            return Err(invalid(StreamDefect::EntriesOutOfOrder, Some(e.id)));
        }
        prev = Some(e.id);
        if e.id > stream.last_id {
            return Err(invalid(StreamDefect::EntryAboveLastId, Some(e.id)));
        }
        let data = e.fields.iter().fold(0u64, |n, (f, v)| {
            n.saturating_add((f.len() + v.len()) as u64)
        });
        if data > ENTRY_DATA_BYTES_MAX {
            return Err(invalid(StreamDefect::EntryTooLarge, Some(e.id)));
        }
        // Redis decides before appending, from the node's listpack size so far plus the new
        // entry's raw field and value bytes (not their encoded size), and from its entry count.
        let m = match master {
            Some(m) if count < NODE_ENTRIES_MAX && bytes + data < NODE_BYTES_MAX => m,
            _ => {
                if count > 0 {
                    nodes.push(count);
                }
                count = 0;
                bytes = master_entry_bytes(e);
                master = Some(e);
                e
            }
        };
        bytes = bytes.saturating_add(Layout::of(e, m).bytes(e));
        if bytes > LISTPACK_BYTES_MAX {
            return Err(invalid(StreamDefect::EntryTooLarge, Some(e.id)));
        }
        count += 1;
    }
    if count > 0 {
        nodes.push(count);
    }
    Ok(nodes)
}

/// A count as a listpack integer. Counts of values held in memory are far below 2^63.
fn int(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Size of a new node's listpack with just its master entry. Redis starts the live count at
/// 1; it stays one byte up to 127, above `NODE_ENTRIES_MAX`.
fn master_entry_bytes(first: &StreamEntry) -> u64 {
    listpack_size::stream_master_bytes(first.fields.iter().map(|(f, _)| f.as_ref())) as u64
}

/// How an entry is stored relative to its node's master entry.
struct Layout {
    /// The entry's field names are the master's, in order: only its values are stored.
    same: bool,
    /// The ID as differences from the master ID. Redis passes the unsigned differences to
    /// `lpAppendInteger`, so a sequence below the master's is stored negative, and a reader
    /// adds them back modulo 2^64.
    ms_diff: i64,
    seq_diff: i64,
    /// Listpack elements of the entry before its lp-count: flags, the two ID parts, then the
    /// values, or the field count and field/value pairs.
    elements: usize,
}

impl Layout {
    fn of(e: &StreamEntry, master: &StreamEntry) -> Self {
        let same = e.fields.len() == master.fields.len()
            && e.fields
                .iter()
                .zip(&master.fields)
                .all(|((a, _), (b, _))| a == b);
        let n = e.fields.len();
        Self {
            same,
            ms_diff: e.id.ms.wrapping_sub(master.id.ms) as i64,
            seq_diff: e.id.seq.wrapping_sub(master.id.seq) as i64,
            elements: if same { 3 + n } else { 4 + 2 * n },
        }
    }

    fn flags(&self) -> i64 {
        if self.same {
            FLAG_SAMEFIELDS
        } else {
            FLAG_NONE
        }
    }

    /// Size of the entry in the listpack, lp-count included.
    fn bytes(&self, e: &StreamEntry) -> u64 {
        listpack_size::stream_entry_bytes(
            self.ms_diff,
            self.seq_diff,
            self.same,
            e.fields.iter().map(|(f, v)| (f.as_ref(), v.as_ref())),
        ) as u64
    }
}

/// Builds one node's listpack into `lp`: the master entry from `master`'s field names, then
/// every entry of `node` (`master` being the first).
fn build_node(lp: &mut Vec<u8>, master: &StreamEntry, node: &[StreamEntry]) {
    lp_begin(lp);
    lp_push_int(lp, int(node.len()));
    // Nothing written is deleted: deleted entries are not in the model.
    lp_push_int(lp, 0);
    lp_push_int(lp, int(master.fields.len()));
    for (f, _) in &master.fields {
        lp_push(lp, f);
    }
    // The master entry's lp-count: a reverse walk stops here.
    lp_push_int(lp, 0);
    let mut elements = 4 + master.fields.len();
    for e in node {
        let layout = Layout::of(e, master);
        lp_push_int(lp, layout.flags());
        lp_push_int(lp, layout.ms_diff);
        lp_push_int(lp, layout.seq_diff);
        if !layout.same {
            lp_push_int(lp, int(e.fields.len()));
        }
        for (f, v) in &e.fields {
            if !layout.same {
                lp_push(lp, f);
            }
            lp_push(lp, v);
        }
        lp_push_int(lp, int(layout.elements));
        elements += layout.elements + 1;
    }
    lp_end(lp, elements);
}
