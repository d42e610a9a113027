//! A stream node: consecutive entries packed into one buffer under the ID of its first entry,
//! as Redis packs them into one listpack under one radix-tree key.
//!
//! Packing is what makes a large stream affordable: an entry costs its values plus a few
//! bytes, where one allocation per entry and per field would cost hundreds. Entries whose
//! field names are those of the node's first entry (the usual case: producers repeat their
//! schema) store only their values.
//!
//! A node takes entries until Redis would start a new listpack: when it holds
//! `stream-node-max-entries` entries (live or deleted), or when the listpack Redis would
//! have built, plus the new entry's field and value bytes, reaches `stream-node-max-bytes`.
//! The listpack's size is tracked as Redis would compute it (not this buffer's), so nodes
//! split where Redis splits them and approximate trims (`~`), which drop whole nodes only,
//! keep what Redis keeps.
//!
//! Layout of one entry in `buf`:
//!
//! ```text
//! flags      u8       bit 0: deleted, bit 1: field names are the master's
//! ms delta   varint   id.ms - master.ms
//! seq        varint   id.seq - master.seq when the ms delta is 0, else id.seq
//! n pairs    varint   only without the same-fields flag
//! blobs      varint length + bytes each: values only, or field, value, field, value…
//! ```
//!
//! A deleted entry keeps its bytes (its flag is set in place) until its whole node goes,
//! as in Redis.

use bytes::Bytes;
use sluice_rdb::listpack_size;

use super::id::{Fields, StreamId};

const FLAG_DELETED: u8 = 1;
const FLAG_SAME_FIELDS: u8 = 2;

/// `STREAM_LISTPACK_MAX_SIZE`: Redis's cap on a node's listpack, and its byte limit when
/// `stream-node-max-bytes` is 0.
const LISTPACK_BYTES_MAX: usize = 1 << 30;

/// When a node is full: Redis's `stream-node-max-entries` (0: no limit) and
/// `stream-node-max-bytes` (0: 1 GiB).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeLimits {
    pub entries_max: usize,
    pub bytes_max: usize,
}

impl Default for NodeLimits {
    fn default() -> Self {
        NodeLimits {
            entries_max: 100,
            bytes_max: 4096,
        }
    }
}

impl NodeLimits {
    fn bytes_cap(&self) -> usize {
        if self.bytes_max == 0 || self.bytes_max > LISTPACK_BYTES_MAX {
            LISTPACK_BYTES_MAX
        } else {
            self.bytes_max
        }
    }
}

/// Where one entry sits in its node's buffer, and what its header says.
#[derive(Debug, Clone, Copy)]
pub(super) struct EntryHead {
    pub id: StreamId,
    pub deleted: bool,
    same_fields: bool,
    /// Offset of the flags byte.
    flags_at: usize,
    /// Offset of the pair count (or of the first value with the same-fields flag).
    body_at: usize,
    /// Offset just past the entry.
    end: usize,
}

/// The entries of a node in order, parsed one at a time.
pub(super) struct Heads<'a> {
    node: &'a Node,
    at: usize,
}

impl Iterator for Heads<'_> {
    type Item = EntryHead;

    fn next(&mut self) -> Option<EntryHead> {
        if self.at >= self.node.buf.len() {
            return None;
        }
        let Some(head) = self.node.head_at(self.at) else {
            // The buffer is written only by `write_entry`: this cannot happen.
            debug_assert!(false, "stream node buffer does not parse at {}", self.at);
            self.at = self.node.buf.len();
            return None;
        };
        self.at = head.end;
        Some(head)
    }
}

#[derive(Debug, Clone)]
pub(super) struct Node {
    /// The first entry's ID, the node's key in the stream's tree.
    master: StreamId,
    /// The first entry's field names.
    master_fields: Box<[Bytes]>,
    buf: Vec<u8>,
    /// Entries not deleted.
    pub live: usize,
    pub deleted: usize,
    /// The greatest ID in the node, deleted or not.
    pub last: StreamId,
    /// What Redis's listpack for this node would weigh, to split where Redis splits.
    listpack_bytes: usize,
}

fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v & 0x7f) as u8 | 0x80);
        v >>= 7;
    }
    buf.push((v & 0x7f) as u8);
}

fn get_varint(buf: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *buf.get(*at)?;
        *at += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Some(v);
        }
    }
    None
}

fn get_blob<'a>(buf: &'a [u8], at: &mut usize) -> Option<&'a [u8]> {
    let len = usize::try_from(get_varint(buf, at)?).ok()?;
    let blob = buf.get(*at..at.checked_add(len)?)?;
    *at += len;
    Some(blob)
}

fn put_blob(buf: &mut Vec<u8>, blob: &[u8]) {
    put_varint(buf, blob.len() as u64);
    buf.extend_from_slice(blob);
}

/// Fields and values alternate: the names are at even positions.
fn names(fields: &[Bytes]) -> impl ExactSizeIterator<Item = &Bytes> {
    fields.iter().step_by(2)
}

impl Node {
    /// A node whose first entry is `id` with `fields`.
    pub fn new(id: StreamId, fields: &[Bytes]) -> Node {
        // Copied: an argument is a view of its client's whole read buffer, which a node kept
        // for hours would pin.
        let master_fields: Box<[Bytes]> =
            names(fields).map(|f| Bytes::copy_from_slice(f)).collect();
        let listpack_bytes =
            listpack_size::stream_master_bytes(master_fields.iter().map(|f| f.as_ref()));
        let mut node = Node {
            master: id,
            master_fields,
            buf: Vec::new(),
            live: 0,
            deleted: 0,
            last: id,
            listpack_bytes,
        };
        node.write_entry(id, fields);
        node
    }

    /// Whether Redis would start a new node rather than add an entry with `fields` here.
    pub fn is_full_for(&self, fields: &[Bytes], limits: NodeLimits) -> bool {
        let data_bytes: usize = fields.iter().map(|f| f.len()).sum();
        if self.listpack_bytes.saturating_add(data_bytes) >= limits.bytes_cap() {
            return true;
        }
        limits.entries_max > 0 && self.live + self.deleted >= limits.entries_max
    }

    /// Adds an entry after every entry of the node.
    pub fn push(&mut self, id: StreamId, fields: &[Bytes]) {
        assert!(id > self.last, "a node's IDs only grow");
        self.write_entry(id, fields);
        self.last = id;
    }

    fn write_entry(&mut self, id: StreamId, fields: &[Bytes]) {
        debug_assert!(
            fields.len().is_multiple_of(2),
            "fields and values alternate"
        );
        let same_fields = fields.len() / 2 == self.master_fields.len()
            && names(fields).eq(self.master_fields.iter());
        let ms_delta = id.ms - self.master.ms;
        let seq = if ms_delta == 0 {
            id.seq - self.master.seq
        } else {
            id.seq
        };
        self.buf
            .push(if same_fields { FLAG_SAME_FIELDS } else { 0 });
        put_varint(&mut self.buf, ms_delta);
        put_varint(&mut self.buf, seq);
        if same_fields {
            for value in fields.iter().skip(1).step_by(2) {
                put_blob(&mut self.buf, value);
            }
        } else {
            put_varint(&mut self.buf, (fields.len() / 2) as u64);
            for blob in fields {
                put_blob(&mut self.buf, blob);
            }
        }
        self.live += 1;
        self.listpack_bytes =
            self.listpack_bytes
                .saturating_add(listpack_size::stream_entry_bytes(
                    ms_delta as i64,
                    id.seq.wrapping_sub(self.master.seq) as i64,
                    same_fields,
                    fields
                        .chunks_exact(2)
                        .map(|pair| (pair[0].as_ref(), pair[1].as_ref())),
                ));
    }

    /// Gives back the spare capacity of a node that will take no more entries.
    pub fn seal(&mut self) {
        self.buf.shrink_to_fit();
    }

    fn head_at(&self, at: usize) -> Option<EntryHead> {
        let flags = *self.buf.get(at)?;
        let mut pos = at + 1;
        let ms_delta = get_varint(&self.buf, &mut pos)?;
        let seq = get_varint(&self.buf, &mut pos)?;
        let id = if ms_delta == 0 {
            StreamId::new(self.master.ms, self.master.seq.checked_add(seq)?)
        } else {
            StreamId::new(self.master.ms.checked_add(ms_delta)?, seq)
        };
        let same_fields = flags & FLAG_SAME_FIELDS != 0;
        let body_at = pos;
        let blobs = if same_fields {
            self.master_fields.len()
        } else {
            usize::try_from(get_varint(&self.buf, &mut pos)?).ok()? * 2
        };
        for _ in 0..blobs {
            get_blob(&self.buf, &mut pos)?;
        }
        Some(EntryHead {
            id,
            deleted: flags & FLAG_DELETED != 0,
            same_fields,
            flags_at: at,
            body_at,
            end: pos,
        })
    }

    /// Every entry of the node in ID order, deleted ones included, parsed as it goes (the
    /// usual reader stops early: the first live entry, the one sought).
    pub fn heads(&self) -> Heads<'_> {
        Heads { node: self, at: 0 }
    }

    /// Live entries in ID order.
    pub fn live_heads(&self) -> impl Iterator<Item = EntryHead> + '_ {
        self.heads().filter(|h| !h.deleted)
    }

    /// Live entries from the last: entries parse only forwards, so they are collected first.
    pub fn live_heads_rev(&self) -> impl Iterator<Item = EntryHead> {
        let heads: Vec<EntryHead> = self.live_heads().collect();
        heads.into_iter().rev()
    }

    /// The live entry `id`, if the node has it.
    pub fn find(&self, id: StreamId) -> Option<EntryHead> {
        self.live_heads()
            .take_while(|h| h.id <= id)
            .find(|h| h.id == id)
    }

    /// The fields and values of an entry.
    pub fn fields(&self, head: &EntryHead) -> Fields {
        let mut at = head.body_at;
        let mut out = Vec::new();
        if head.same_fields {
            out.reserve(self.master_fields.len() * 2);
            for name in self.master_fields.iter() {
                let value = get_blob(&self.buf, &mut at).unwrap_or_default();
                out.push(name.clone());
                out.push(Bytes::copy_from_slice(value));
            }
        } else {
            let pairs = get_varint(&self.buf, &mut at).unwrap_or(0);
            for _ in 0..pairs * 2 {
                let blob = get_blob(&self.buf, &mut at).unwrap_or_default();
                out.push(Bytes::copy_from_slice(blob));
            }
        }
        out.into_boxed_slice()
    }

    /// Marks a live entry deleted, in place.
    pub fn mark_deleted(&mut self, head: &EntryHead) {
        assert!(
            !head.deleted && self.live > 0,
            "only a live entry is deleted"
        );
        if let Some(flags) = self.buf.get_mut(head.flags_at) {
            *flags |= FLAG_DELETED;
        }
        self.live -= 1;
        self.deleted += 1;
    }

    /// Heap bytes held, with the node's share of the tree.
    pub fn heap_bytes(&self) -> usize {
        std::mem::size_of::<Node>()
            + 32
            + self.buf.capacity()
            + self
                .master_fields
                .iter()
                .map(|f| f.len() + std::mem::size_of::<Bytes>())
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Vec<Bytes> {
        pairs
            .iter()
            .flat_map(|(f, v)| [Bytes::from(f.to_string()), Bytes::from(v.to_string())])
            .collect()
    }

    #[test]
    fn entries_round_trip_with_and_without_the_masters_fields() {
        let first = fields(&[("a", "1"), ("b", "2")]);
        let same = fields(&[("a", "x"), ("b", "")]);
        let other = fields(&[("b", "y")]);
        let mut node = Node::new(StreamId::new(5, 7), &first);
        node.push(StreamId::new(5, 9), &same);
        node.push(StreamId::new(u64::MAX, 0), &other);
        let heads: Vec<_> = node.heads().collect();
        let ids: Vec<_> = heads.iter().map(|h| h.id).collect();
        assert_eq!(
            ids,
            [
                StreamId::new(5, 7),
                StreamId::new(5, 9),
                StreamId::new(u64::MAX, 0)
            ]
        );
        assert_eq!(&*node.fields(&heads[0]), &first[..]);
        assert_eq!(&*node.fields(&heads[1]), &same[..]);
        assert_eq!(&*node.fields(&heads[2]), &other[..]);
        assert!(heads[1].same_fields && !heads[2].same_fields);
    }

    #[test]
    fn deletion_is_a_flag_and_hides_the_entry() {
        let f = fields(&[("f", "v")]);
        let mut node = Node::new(StreamId::new(1, 0), &f);
        node.push(StreamId::new(2, 0), &f);
        let head = node.find(StreamId::new(1, 0)).expect("entry 1-0 is there");
        node.mark_deleted(&head);
        assert!(node.find(StreamId::new(1, 0)).is_none());
        assert_eq!((node.live, node.deleted), (1, 1));
        let live: Vec<_> = node.live_heads().map(|h| h.id).collect();
        assert_eq!(live, [StreamId::new(2, 0)]);
        assert_eq!(node.heads().count(), 2);
    }

    #[test]
    fn full_by_count_of_live_and_deleted_entries_or_by_listpack_bytes() {
        let limits = NodeLimits {
            entries_max: 2,
            bytes_max: 4096,
        };
        let f = fields(&[("f", "v")]);
        let mut node = Node::new(StreamId::new(1, 0), &f);
        assert!(!node.is_full_for(&f, limits));
        node.push(StreamId::new(2, 0), &f);
        let head = node.find(StreamId::new(2, 0)).expect("entry 2-0 is there");
        node.mark_deleted(&head);
        assert!(node.is_full_for(&f, limits));
        let big = fields(&[("f", &"x".repeat(4096))]);
        let node = Node::new(StreamId::new(1, 0), &f);
        assert!(node.is_full_for(&big, NodeLimits::default()));
        assert!(!node.is_full_for(
            &big,
            NodeLimits {
                entries_max: 100,
                bytes_max: 0
            }
        ));
    }
}
