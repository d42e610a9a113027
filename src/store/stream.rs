//! Stream values: entries ordered by ID in a B-tree, the stream's metadata, and its consumer
//! groups with their pending entries lists.
//!
//! The B-tree gives what the commands need: appends at the end, range scans both ways from
//! any ID, deletion of single entries, trimming from the start, all logarithmic. Redis packs
//! ~100 entries per listpack node to save memory; here each entry is one boxed slice of
//! field/value pairs (see ARCHITECTURE.md for what that costs).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use bytes::Bytes;

/// A stream entry ID: milliseconds and a sequence number, ordered as a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    pub fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    /// The smallest ID greater than this one, if any.
    pub fn successor(self) -> Option<StreamId> {
        match self.seq.checked_add(1) {
            Some(seq) => Some(StreamId { ms: self.ms, seq }),
            None => self.ms.checked_add(1).map(|ms| StreamId { ms, seq: 0 }),
        }
    }

    /// The largest ID smaller than this one, if any.
    pub fn predecessor(self) -> Option<StreamId> {
        match self.seq.checked_sub(1) {
            Some(seq) => Some(StreamId { ms: self.ms, seq }),
            None => self
                .ms
                .checked_sub(1)
                .map(|ms| StreamId { ms, seq: u64::MAX }),
        }
    }

    /// `<ms>-<seq>` as a reply or argument.
    pub fn to_bytes(self) -> Bytes {
        Bytes::from(self.to_string())
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// One entry's fields and values, alternating.
pub type Fields = Box<[Bytes]>;

/// A consumer group's record of an entry delivered and not yet acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingEntry {
    pub delivery_time_ms: u64,
    pub delivery_count: u64,
    /// The consumer that owns it (a key of the group's `consumers`).
    pub consumer: Bytes,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Consumer {
    pub seen_time_ms: u64,
    /// Last successful interaction (Redis 7.2); `None` when loaded from a format without it.
    pub active_time_ms: Option<u64>,
    /// IDs of the group's pending entries this consumer owns.
    pub pending: BTreeSet<StreamId>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsumerGroup {
    pub last_delivered_id: StreamId,
    /// Entries the group has read, when known (Redis 7.0's logical read counter).
    pub entries_read: Option<u64>,
    pub pel: BTreeMap<StreamId, PendingEntry>,
    pub consumers: BTreeMap<Bytes, Consumer>,
}

impl ConsumerGroup {
    /// The consumer named `name`, created if new (`true` in the pair when it was).
    pub fn consumer_mut(&mut self, name: &Bytes, now_ms: u64) -> (&mut Consumer, bool) {
        let created = !self.consumers.contains_key(name);
        let consumer = self
            .consumers
            .entry(name.clone())
            .or_insert_with(|| Consumer {
                seen_time_ms: now_ms,
                active_time_ms: None,
                pending: BTreeSet::new(),
            });
        (consumer, created)
    }

    /// Gives pending entry `id` to `consumer` (which must exist), creating it if absent, with
    /// this delivery time and count. Returns the entry's state afterwards.
    pub fn assign(
        &mut self,
        id: StreamId,
        consumer: &Bytes,
        delivery_time_ms: u64,
        delivery_count: u64,
    ) -> PendingEntry {
        if let Some(previous) = self.pel.get(&id)
            && previous.consumer != *consumer
            && let Some(owner) = self.consumers.get_mut(&previous.consumer)
        {
            owner.pending.remove(&id);
        }
        let entry = PendingEntry {
            delivery_time_ms,
            delivery_count,
            consumer: consumer.clone(),
        };
        self.pel.insert(id, entry.clone());
        if let Some(owner) = self.consumers.get_mut(consumer) {
            owner.pending.insert(id);
        }
        entry
    }

    /// Removes pending entry `id` from the group and its owner; true if it was pending.
    pub fn acknowledge(&mut self, id: StreamId) -> bool {
        let Some(entry) = self.pel.remove(&id) else {
            return false;
        };
        if let Some(owner) = self.consumers.get_mut(&entry.consumer) {
            owner.pending.remove(&id);
        }
        true
    }

    /// Deletes a consumer and its pending entries; how many it had, `None` if unknown.
    pub fn delete_consumer(&mut self, name: &[u8]) -> Option<usize> {
        let consumer = self.consumers.remove(name)?;
        for id in &consumer.pending {
            self.pel.remove(id);
        }
        Some(consumer.pending.len())
    }
}

#[derive(Debug, Clone, Default)]
pub struct Stream {
    entries: BTreeMap<StreamId, Fields>,
    /// The greatest ID ever added (it stays when that entry is deleted).
    pub last_id: StreamId,
    /// The greatest ID ever deleted (XDEL or trimming).
    pub max_deleted_entry_id: StreamId,
    /// Entries ever added.
    pub entries_added: u64,
    /// Groups by name, in name order as Redis lists them.
    pub groups: BTreeMap<Bytes, ConsumerGroup>,
}

impl Stream {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The first live entry's ID, 0-0 for an empty stream.
    pub fn first_id(&self) -> StreamId {
        self.entries.keys().next().copied().unwrap_or_default()
    }

    pub fn first_entry(&self) -> Option<(StreamId, &Fields)> {
        self.entries.iter().next().map(|(id, f)| (*id, f))
    }

    pub fn last_entry(&self) -> Option<(StreamId, &Fields)> {
        self.entries.iter().next_back().map(|(id, f)| (*id, f))
    }

    pub fn get(&self, id: StreamId) -> Option<&Fields> {
        self.entries.get(&id)
    }

    /// Adds an entry; `id` must be greater than `last_id` (checked by the caller, asserted
    /// here because the order of the tree and every reader rely on it).
    pub fn append(&mut self, id: StreamId, fields: Fields) {
        assert!(id > self.last_id, "stream IDs only grow");
        self.entries.insert(id, fields);
        self.last_id = id;
        self.entries_added += 1;
    }

    /// Inserts an entry as loaded from a dump (no metadata changes).
    pub fn insert_loaded(&mut self, id: StreamId, fields: Fields) -> bool {
        self.entries.insert(id, fields).is_none()
    }

    /// Deletes one entry; true if it was there.
    pub fn remove(&mut self, id: StreamId) -> bool {
        if self.entries.remove(&id).is_none() {
            return false;
        }
        if id > self.max_deleted_entry_id {
            self.max_deleted_entry_id = id;
        }
        true
    }

    /// Entries with IDs in `[start, end]`, ascending or (`reverse`) descending, at most
    /// `count`.
    pub fn range(
        &self,
        start: StreamId,
        end: StreamId,
        reverse: bool,
        count: usize,
    ) -> Vec<(StreamId, &Fields)> {
        if start > end {
            return Vec::new();
        }
        let range = self
            .entries
            .range((Bound::Included(start), Bound::Included(end)));
        if reverse {
            range.rev().take(count).map(|(id, f)| (*id, f)).collect()
        } else {
            range.take(count).map(|(id, f)| (*id, f)).collect()
        }
    }

    /// Entries after `after` (exclusive), ascending, at most `count`.
    pub fn after(&self, after: StreamId, count: usize) -> Vec<(StreamId, &Fields)> {
        self.entries
            .range((Bound::Excluded(after), Bound::Unbounded))
            .take(count)
            .map(|(id, f)| (*id, f))
            .collect()
    }

    /// Deletes entries from the start until at most `max_len` remain, deleting no more than
    /// `limit`; returns how many went.
    pub fn trim_to_len(&mut self, max_len: usize, limit: usize) -> usize {
        let excess = self.len().saturating_sub(max_len).min(limit);
        self.trim_first(excess, |_| true)
    }

    /// Deletes entries with IDs below `min_id`, no more than `limit`; returns how many went.
    pub fn trim_below(&mut self, min_id: StreamId, limit: usize) -> usize {
        self.trim_first(limit, |id| id < min_id)
    }

    fn trim_first(&mut self, limit: usize, mut doomed: impl FnMut(StreamId) -> bool) -> usize {
        let mut removed = 0;
        while removed < limit {
            let Some((&id, _)) = self.entries.iter().next() else {
                break;
            };
            if !doomed(id) {
                break;
            }
            // Trimming is not deletion for the metadata: Redis moves
            // `max_deleted_entry_id` only on XDEL.
            self.entries.remove(&id);
            removed += 1;
        }
        removed
    }

    /// Entries between two IDs (inclusive) that still exist: for a group's lag.
    pub fn count_between(&self, start: StreamId, end: StreamId) -> usize {
        if start > end {
            return 0;
        }
        self.entries
            .range((Bound::Included(start), Bound::Included(end)))
            .count()
    }

    /// Whether entries were deleted at or after `start` (Redis's tombstones ahead of a group).
    pub fn has_tombstones_after(&self, start: StreamId) -> bool {
        if self.is_empty()
            || self.max_deleted_entry_id == StreamId::MIN
            || self.first_id() > self.max_deleted_entry_id
        {
            return false;
        }
        self.max_deleted_entry_id >= start
    }

    /// How many entries were added up to and including `id`, when that can be told (Redis
    /// 7.0's `streamEstimateDistanceFromFirstEverEntry`).
    pub fn entries_before_or_at(&self, id: StreamId) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if self.is_empty() && id <= self.last_id {
            return Some(self.entries_added);
        }
        if id == self.last_id {
            return Some(self.entries_added);
        }
        if id > self.last_id {
            return None;
        }
        let first = self.first_id();
        if self.max_deleted_entry_id == StreamId::MIN || self.max_deleted_entry_id < first {
            let before_first = self.entries_added - self.len() as u64;
            if id < first {
                return Some(before_first);
            }
            if id == first {
                return Some(before_first + 1);
            }
        }
        None
    }

    /// Moves group `name`'s last delivered ID to `id` (greater than it) and keeps its
    /// read counter, as Redis 7.0 does when it delivers `id`.
    pub fn advance_group(&mut self, name: &[u8], id: StreamId) {
        let tombstones = self.has_tombstones_after(id);
        let estimate = self.entries_before_or_at(id);
        let entries_added = self.entries_added;
        let Some(group) = self.groups.get_mut(name) else {
            return;
        };
        if id <= group.last_delivered_id {
            return;
        }
        match group.entries_read {
            Some(read) if !tombstones => group.entries_read = Some(read + 1),
            _ if entries_added > 0 => group.entries_read = estimate,
            _ => {}
        }
        group.last_delivered_id = id;
    }

    /// Heap bytes held, approximately.
    pub fn approx_bytes(&self) -> usize {
        self.entries
            .values()
            .map(|f| 48 + f.iter().map(|b| b.len() + 32).sum::<usize>())
            .sum()
    }

    /// Every entry in ID order.
    pub fn iter(&self) -> impl Iterator<Item = (StreamId, &Fields)> {
        self.entries.iter().map(|(id, f)| (*id, f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(v: &str) -> Fields {
        vec![
            Bytes::from_static(b"f"),
            Bytes::copy_from_slice(v.as_bytes()),
        ]
        .into_boxed_slice()
    }

    #[test]
    fn ids_order_and_step() {
        assert!(StreamId::new(1, 5) < StreamId::new(2, 0));
        assert_eq!(
            StreamId::new(1, u64::MAX).successor(),
            Some(StreamId::new(2, 0))
        );
        assert_eq!(StreamId::MAX.successor(), None);
        assert_eq!(
            StreamId::new(2, 0).predecessor(),
            Some(StreamId::new(1, u64::MAX))
        );
        assert_eq!(StreamId::MIN.predecessor(), None);
        assert_eq!(StreamId::new(7, 3).to_string(), "7-3");
    }

    #[test]
    fn append_range_delete_trim() {
        let mut s = Stream::default();
        for i in 1..=10 {
            s.append(StreamId::new(i, 0), fields(&i.to_string()));
        }
        assert_eq!(s.len(), 10);
        assert_eq!(s.entries_added, 10);
        assert_eq!(s.last_id, StreamId::new(10, 0));
        let ids =
            |v: Vec<(StreamId, &Fields)>| v.into_iter().map(|(id, _)| id.ms).collect::<Vec<_>>();
        assert_eq!(
            ids(s.range(StreamId::new(3, 0), StreamId::new(5, 0), false, 10)),
            [3, 4, 5]
        );
        assert_eq!(ids(s.range(StreamId::MIN, StreamId::MAX, true, 2)), [10, 9]);
        assert_eq!(ids(s.after(StreamId::new(8, 0), 10)), [9, 10]);
        assert!(s.remove(StreamId::new(10, 0)));
        assert!(!s.remove(StreamId::new(10, 0)));
        assert_eq!(s.max_deleted_entry_id, StreamId::new(10, 0));
        assert_eq!(s.last_id, StreamId::new(10, 0));
        assert_eq!(s.trim_to_len(5, usize::MAX), 4);
        assert_eq!(s.first_id(), StreamId::new(5, 0));
        assert_eq!(s.max_deleted_entry_id, StreamId::new(10, 0));
        assert_eq!(s.trim_below(StreamId::new(7, 0), 1), 1);
        assert_eq!(s.first_id(), StreamId::new(6, 0));
        assert_eq!(s.count_between(StreamId::new(6, 0), StreamId::new(8, 0)), 3);
    }
}
