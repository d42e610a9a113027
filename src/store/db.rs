//! One database: keys spread over segments, each an `Arc`-shared hash table.
//!
//! A snapshot clones the vector of segment pointers (no keys are copied). A write to a
//! segment that a snapshot still holds first copies that segment's table with
//! `Arc::make_mut` (a short key is copied in its 32-byte slot, a long key and every value
//! are reference counts), so the pause a write can see is bounded by one segment's table,
//! never by the dataset.

use std::hash::BuildHasher;
use std::sync::Arc;

use bytes::Bytes;

use super::fast::FastMap;
use super::field_expiry::FieldExpiryIndex;
use super::key::Key;
use super::value::Value;

/// Segments per database. 1M keys gives ~1000 keys per segment, a copy of a few tens of
/// microseconds when a snapshot forces one.
pub const SEGMENTS_PER_DB: usize = 1024;

/// Keys of one batch [`Db::warm`] looks up; the rest of a longer batch runs cold.
pub const WARM_KEYS_MAX: usize = 64;

/// The most keys [`Db::reserve`] makes room for ahead of them (tables of ~1.5 GB; only their
/// control bytes are touched until keys arrive).
pub const RESERVE_KEYS_MAX: u64 = 16 << 20;

#[derive(Debug, Clone)]
pub struct Entry {
    pub value: Value,
    /// Absolute expiry time in Unix milliseconds.
    pub expire_at_ms: Option<u64>,
}

impl Entry {
    pub fn new(value: Value) -> Entry {
        Entry {
            value,
            expire_at_ms: None,
        }
    }

    pub fn is_expired(&self, now_ms: u64) -> bool {
        matches!(self.expire_at_ms, Some(at) if at <= now_ms)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Segment {
    map: FastMap<Key, Entry>,
    volatile: usize,
}

impl Segment {
    pub fn iter(&self) -> impl Iterator<Item = (&Key, &Entry)> {
        self.map.iter()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn volatile_len(&self) -> usize {
        self.volatile
    }
}

/// A point-in-time view of one database. Holding it costs one pointer per segment; writes
/// to the live database afterwards copy the segments they touch.
#[derive(Debug, Clone)]
pub struct DbSnapshot {
    pub segments: Vec<Arc<Segment>>,
    pub keys: usize,
    pub volatile: usize,
    /// Some hash may have field expiry times (an RDB of it needs a version that has them).
    pub field_expiry: bool,
}

#[derive(Debug, Clone)]
pub struct Db {
    segments: Vec<Arc<Segment>>,
    keys: usize,
    volatile: usize,
    hasher: foldhash::fast::FixedState,
    /// Keys whose hash may have field expiry times.
    field_expiry: FieldExpiryIndex,
}

/// Key and volatile counts (the db's and the segment's) after an entry went into `seg`,
/// replacing `previous` if there was one.
fn account_replaced(
    keys: &mut usize,
    volatile: &mut usize,
    seg: &mut Segment,
    previous: Option<&Entry>,
    new_volatile: bool,
) {
    let old_volatile = previous.is_some_and(|e| e.expire_at_ms.is_some());
    if previous.is_none() {
        *keys += 1;
    }
    match (old_volatile, new_volatile) {
        (false, true) => {
            seg.volatile += 1;
            *volatile += 1;
        }
        (true, false) => {
            seg.volatile -= 1;
            *volatile -= 1;
        }
        _ => {}
    }
}

fn has_field_expiry(value: &Value) -> bool {
    matches!(value, Value::Hash(h) if h.has_field_expiry())
}

impl Default for Db {
    fn default() -> Self {
        Db::new()
    }
}

impl Db {
    pub fn new() -> Db {
        Db {
            segments: (0..SEGMENTS_PER_DB)
                .map(|_| Arc::new(Segment::default()))
                .collect(),
            keys: 0,
            volatile: 0,
            hasher: foldhash::fast::FixedState::with_seed(0x005e_ed51_u64),
            field_expiry: FieldExpiryIndex::default(),
        }
    }

    /// Looks the keys up and forgets the answers. The lookups do not depend on each other,
    /// so the CPU overlaps their cache misses; commands that then use the keys find their
    /// slots in cache. A pipelined batch of random keys otherwise waits for each miss in
    /// turn (see tuning/README.md, "Command throughput"). Repeats of the previous key are
    /// looked up once; keys past the first [`WARM_KEYS_MAX`] are left alone.
    pub fn warm<'k>(&self, keys: impl Iterator<Item = &'k [u8]>) {
        let mut previous: Option<&[u8]> = None;
        for key in keys.take(WARM_KEYS_MAX) {
            if previous == Some(key) {
                continue;
            }
            std::hint::black_box(self.get(key).is_some());
            previous = Some(key);
        }
    }

    /// Makes room for `keys` more keys spread over the segments, so that loading a dataset of
    /// known size does not grow every table step by step (each growth rehashes and moves
    /// every entry, into fresh memory). Capped at [`RESERVE_KEYS_MAX`]: the count comes
    /// from an RDB's RESIZEDB, which the sender chooses.
    pub fn reserve(&mut self, keys: u64) {
        let keys = crate::util::num::usize_from(keys.min(RESERVE_KEYS_MAX));
        // Keys spread evenly; a little slack keeps the unlucky segments from growing.
        let per_segment = keys / SEGMENTS_PER_DB + keys / SEGMENTS_PER_DB / 8;
        if per_segment == 0 {
            return;
        }
        for segment in &mut self.segments {
            Arc::make_mut(segment).map.reserve(per_segment);
        }
    }

    fn segment_of(&self, key: &[u8]) -> usize {
        // High bits choose the segment; the table inside hashes with its own seed.
        (self.hasher.hash_one(key) >> 32) as usize % SEGMENTS_PER_DB
    }

    pub fn len(&self) -> usize {
        self.keys
    }

    pub fn is_empty(&self) -> bool {
        self.keys == 0
    }

    /// Keys with an expiry set.
    pub fn volatile_len(&self) -> usize {
        self.volatile
    }

    /// False when `key` certainly has no expiry: its segment holds no volatile key. Lets the
    /// common case (no TTLs around) skip a probe of the table.
    pub fn may_be_volatile(&self, key: &[u8]) -> bool {
        self.volatile > 0 && self.segments[self.segment_of(key)].volatile > 0
    }

    /// The entry, even if its expiry has passed (callers decide what expiry means).
    pub fn get(&self, key: &[u8]) -> Option<&Entry> {
        self.segments[self.segment_of(key)].map.get(key)
    }

    /// Mutable access; copies the segment table first if a snapshot shares it. Changing
    /// `expire_at_ms` through this reference is not allowed: use [`Db::set_expire`].
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let seg = self.segment_of(key);
        // No snapshot holds the segment (the common case): one probe, no copy.
        if Arc::get_mut(&mut self.segments[seg]).is_some() {
            return Arc::get_mut(&mut self.segments[seg]).and_then(|s| s.map.get_mut(key));
        }
        // Shared: copy the table only if the key is there to be changed.
        if !self.segments[seg].map.contains_key(key) {
            return None;
        }
        Arc::make_mut(&mut self.segments[seg]).map.get_mut(key)
    }

    /// Inserts or replaces, returning the previous entry.
    pub fn insert(&mut self, key: impl Into<Key>, entry: Entry) -> Option<Entry> {
        let key = key.into();
        if has_field_expiry(&entry.value) {
            self.field_expiry.add(&key);
        }
        let seg_index = self.segment_of(&key);
        let seg = Arc::make_mut(&mut self.segments[seg_index]);
        let new_volatile = entry.expire_at_ms.is_some();
        let previous = seg.map.insert(key, entry);
        account_replaced(
            &mut self.keys,
            &mut self.volatile,
            seg,
            previous.as_ref(),
            new_volatile,
        );
        previous
    }

    /// [`Db::insert`] for a borrowed key: a key that exists keeps its stored bytes and is
    /// found with one probe; only a new key is copied.
    pub fn upsert(&mut self, key: &[u8], entry: Entry) -> Option<Entry> {
        if has_field_expiry(&entry.value) {
            self.field_expiry.add(key);
        }
        let seg_index = self.segment_of(key);
        let seg = Arc::make_mut(&mut self.segments[seg_index]);
        let new_volatile = entry.expire_at_ms.is_some();
        let previous = match seg.map.get_mut(key) {
            Some(slot) => Some(std::mem::replace(slot, entry)),
            None => {
                seg.map.insert(Key::new(key), entry);
                None
            }
        };
        account_replaced(
            &mut self.keys,
            &mut self.volatile,
            seg,
            previous.as_ref(),
            new_volatile,
        );
        previous
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let seg_index = self.segment_of(key);
        if !self.segments[seg_index].map.contains_key(key) {
            return None;
        }
        let seg = Arc::make_mut(&mut self.segments[seg_index]);
        let removed = seg.map.remove(key)?;
        self.keys -= 1;
        if removed.expire_at_ms.is_some() {
            seg.volatile -= 1;
            self.volatile -= 1;
        }
        Some(removed)
    }

    /// Sets or clears a key's expiry; false if the key does not exist.
    pub fn set_expire(&mut self, key: &[u8], expire_at_ms: Option<u64>) -> bool {
        let seg_index = self.segment_of(key);
        if !self.segments[seg_index].map.contains_key(key) {
            return false;
        }
        let seg = Arc::make_mut(&mut self.segments[seg_index]);
        let Some(entry) = seg.map.get_mut(key) else {
            return false;
        };
        match (entry.expire_at_ms.is_some(), expire_at_ms.is_some()) {
            (false, true) => {
                seg.volatile += 1;
                self.volatile += 1;
            }
            (true, false) => {
                seg.volatile -= 1;
                self.volatile -= 1;
            }
            _ => {}
        }
        entry.expire_at_ms = expire_at_ms;
        true
    }

    pub fn clear(&mut self) {
        *self = Db::new();
    }

    pub fn snapshot(&self) -> DbSnapshot {
        DbSnapshot {
            segments: self.segments.clone(),
            keys: self.keys,
            volatile: self.volatile,
            field_expiry: !self.field_expiry.is_empty(),
        }
    }

    // ----- hash field expiry --------------------------------------------------------------

    /// Records that the hash at `key` now has field expiry times (after a command gave a
    /// field one through [`Db::get_mut`]).
    pub fn note_field_expiry(&mut self, key: &[u8]) {
        self.field_expiry.add(key);
    }

    /// False when the hash at `key` certainly has no field expiry times.
    pub fn may_have_field_expiry(&self, key: &[u8]) -> bool {
        self.field_expiry.contains(key)
    }

    /// The index of keys whose hash may have field expiry times (for the active cycle).
    pub fn field_expiry_index(&mut self) -> &mut FieldExpiryIndex {
        &mut self.field_expiry
    }

    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    pub fn segment(&self, index: usize) -> &Segment {
        &self.segments[index]
    }

    /// Every key, in segment order.
    pub fn iter(&self) -> impl Iterator<Item = (&Key, &Entry)> {
        self.segments.iter().flat_map(|s| s.map.iter())
    }

    /// Expired keys of one segment (for the active expiry cycle).
    pub fn expired_in_segment(&self, index: usize, now_ms: u64, limit: usize) -> Vec<Bytes> {
        let seg = &self.segments[index];
        if seg.volatile == 0 {
            return Vec::new();
        }
        seg.map
            .iter()
            .filter(|(_, e)| e.is_expired(now_ms))
            .take(limit)
            .map(|(k, _)| k.to_bytes())
            .collect()
    }

    /// A uniformly chosen non-empty segment's random key; `pick` returns an index below its
    /// argument.
    pub fn random_key(&self, mut pick: impl FnMut(usize) -> usize) -> Option<&Key> {
        if self.keys == 0 {
            return None;
        }
        // Choose a key by global position so that sparse segments are not over-sampled.
        let mut target = pick(self.keys);
        for seg in &self.segments {
            if target < seg.map.len() {
                return seg.map.keys().nth(target);
            }
            target -= seg.map.len();
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::Str(v.into())
    }

    #[test]
    fn warming_keys_reads_and_changes_nothing() {
        let mut db = Db::new();
        db.insert(b"a".as_slice(), Entry::new(s("1")));
        let keys: [&[u8]; 4] = [b"a", b"a", b"missing", b""];
        db.warm(keys.into_iter());
        assert_eq!(db.len(), 1);
        assert!(db.get(b"missing").is_none());
        assert_eq!(db.get(b"a").map(|e| e.value.approx_bytes()), Some(1));
    }

    #[test]
    fn reserve_sizes_every_segment_and_is_capped() {
        let mut db = Db::new();
        db.reserve(1_000_000);
        let wanted = 1_000_000 / SEGMENTS_PER_DB;
        assert!(db.segments.iter().all(|s| s.map.capacity() >= wanted));
        db.insert(b"k".as_slice(), Entry::new(s("v")));
        assert_eq!(db.get(b"k").map(|e| e.value.approx_bytes()), Some(1));

        // A RESIZEDB count is the sender's word: an absurd one reserves no more than the cap.
        let mut db = Db::new();
        db.reserve(u64::MAX);
        let cap = crate::util::num::usize_from(RESERVE_KEYS_MAX) / SEGMENTS_PER_DB;
        assert!(db.segments.iter().all(|s| s.map.capacity() < 4 * cap));
    }

    #[test]
    fn counts_keys_and_volatile() {
        let mut db = Db::new();
        db.insert(Bytes::from_static(b"a"), Entry::new(s("1")));
        db.insert(
            Bytes::from_static(b"b"),
            Entry {
                value: s("2"),
                expire_at_ms: Some(5),
            },
        );
        assert_eq!((db.len(), db.volatile_len()), (2, 1));
        db.set_expire(b"a", Some(10));
        assert_eq!(db.volatile_len(), 2);
        db.insert(Bytes::from_static(b"b"), Entry::new(s("3")));
        assert_eq!((db.len(), db.volatile_len()), (2, 1));
        db.remove(b"a");
        assert_eq!((db.len(), db.volatile_len()), (1, 0));
    }

    #[test]
    fn snapshot_is_isolated_from_later_writes() {
        let mut db = Db::new();
        for i in 0..5000 {
            db.insert(Bytes::from(format!("k{i}")), Entry::new(s("old")));
        }
        let snap = db.snapshot();
        for i in 0..5000 {
            db.insert(Bytes::from(format!("k{i}")), Entry::new(s("new")));
        }
        db.remove(b"k1");
        let old: usize = snap
            .segments
            .iter()
            .flat_map(|seg| seg.iter())
            .filter(|(_, e)| matches!(&e.value, Value::Str(b) if b.as_ref() == b"old"))
            .count();
        assert_eq!(old, 5000);
        assert_eq!(db.len(), 4999);
    }
}
