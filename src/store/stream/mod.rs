//! Stream values: entries in nodes ordered by ID in a B-tree, the stream's metadata, and its
//! consumer groups with their pending entries lists.
//!
//! The B-tree of nodes gives what the commands need: appends at the end, range scans both
//! ways from any ID, deletion of single entries, trimming from the start, all logarithmic in
//! the number of nodes and linear within one node (at most `stream-node-max-entries`). Nodes
//! pack their entries as Redis's listpacks do ([`node`]), and approximate trims remove whole
//! nodes only, as Redis's do.

mod group;
mod id;
mod node;

use std::collections::BTreeMap;

use bytes::Bytes;

pub use group::{Consumer, ConsumerGroup, PendingEntry};
pub use id::{Fields, StreamId};
use node::Node;
pub use node::NodeLimits;

#[derive(Debug, Clone, Default)]
pub struct Stream {
    /// Nodes by the ID of their first entry. No node is without live entries.
    nodes: BTreeMap<StreamId, Node>,
    /// Live entries.
    length: usize,
    /// The greatest ID ever added (it stays when that entry is deleted).
    pub last_id: StreamId,
    /// The greatest ID ever deleted (XDEL or trimming).
    pub max_deleted_entry_id: StreamId,
    /// Entries ever added.
    pub entries_added: u64,
    /// Groups by name, in name order as Redis lists them.
    pub groups: BTreeMap<Bytes, ConsumerGroup>,
}

/// What deleting an entry does to the groups' references to it (Redis 8.2's KEEPREF,
/// DELREF, ACKED).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RefPolicy {
    /// Delete; pending entries lists keep their references (Redis 7.0's behaviour).
    #[default]
    KeepRef,
    /// Delete and drop the entry from every group's pending entries list.
    DelRef,
    /// Delete only what every group has read and acknowledged.
    Acked,
}

/// What [`Stream::delete_with`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deletion {
    Missing,
    Deleted,
    /// Kept: some group has not read or acknowledged it (ACKED).
    Referenced,
}

/// What a trim keeps: the last entries up to a count, or the entries from an ID on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrimTo {
    MaxLen(usize),
    MinId(StreamId),
}

impl Stream {
    pub fn len(&self) -> usize {
        self.length
    }

    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// Nodes holding the entries (Redis's radix-tree keys).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The first live entry's ID, 0-0 for an empty stream.
    pub fn first_id(&self) -> StreamId {
        self.nodes
            .values()
            .next()
            .and_then(|n| n.live_heads().next())
            .map(|h| h.id)
            .unwrap_or_default()
    }

    pub fn first_entry(&self) -> Option<(StreamId, Fields)> {
        let node = self.nodes.values().next()?;
        let head = node.live_heads().next()?;
        Some((head.id, node.fields(&head)))
    }

    pub fn last_entry(&self) -> Option<(StreamId, Fields)> {
        let node = self.nodes.values().next_back()?;
        let head = node.live_heads_rev().next()?;
        Some((head.id, node.fields(&head)))
    }

    /// The node that holds `id` if any does: the last one starting at or before it.
    fn node_of(&self, id: StreamId) -> Option<(&StreamId, &Node)> {
        self.nodes.range(..=id).next_back()
    }

    pub fn contains(&self, id: StreamId) -> bool {
        self.node_of(id).is_some_and(|(_, n)| n.find(id).is_some())
    }

    pub fn get(&self, id: StreamId) -> Option<Fields> {
        let (_, node) = self.node_of(id)?;
        node.find(id).map(|h| node.fields(&h))
    }

    /// Adds an entry, in a new node when the last one is full by `limits`; `id` must be
    /// greater than `last_id` (checked by the caller, asserted here because the order of the
    /// tree and every reader rely on it).
    pub fn append(&mut self, id: StreamId, fields: &[Bytes], limits: NodeLimits) {
        assert!(id > self.last_id, "stream IDs only grow");
        self.push(id, fields, limits);
        self.last_id = id;
        self.entries_added += 1;
    }

    fn push(&mut self, id: StreamId, fields: &[Bytes], limits: NodeLimits) {
        if let Some(mut last) = self.nodes.last_entry() {
            let node = last.get_mut();
            if !node.is_full_for(fields, limits) {
                node.push(id, fields);
                self.length += 1;
                return;
            }
            node.seal();
        }
        self.nodes.insert(id, Node::new(id, fields));
        self.length += 1;
    }

    /// Adds an entry as loaded from a dump (no metadata changes). Entries come in ID order;
    /// false (nothing added) for one that does not follow the last.
    pub fn insert_loaded(&mut self, id: StreamId, fields: &[Bytes]) -> bool {
        if self
            .nodes
            .values()
            .next_back()
            .is_some_and(|n| n.last >= id)
        {
            return false;
        }
        self.push(id, fields, NodeLimits::default());
        true
    }

    /// Deletes one entry; true if it was there.
    pub fn remove(&mut self, id: StreamId) -> bool {
        let Some((&key, _)) = self.node_of(id) else {
            return false;
        };
        let Some(node) = self.nodes.get_mut(&key) else {
            return false;
        };
        let Some(head) = node.find(id) else {
            return false;
        };
        node.mark_deleted(&head);
        if node.live == 0 {
            self.nodes.remove(&key);
        }
        self.length -= 1;
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
    ) -> Vec<(StreamId, Fields)> {
        let mut out = Vec::new();
        if start > end || count == 0 {
            return out;
        }
        let first_key = self.node_of(start).map_or(start, |(k, _)| *k);
        let nodes = self.nodes.range(first_key..=end).map(|(_, n)| n);
        let wanted = |id: StreamId| start <= id && id <= end;
        if reverse {
            for node in nodes.rev() {
                for head in node.live_heads_rev().filter(|h| wanted(h.id)) {
                    out.push((head.id, node.fields(&head)));
                    if out.len() == count {
                        return out;
                    }
                }
            }
        } else {
            for node in nodes {
                for head in node.live_heads().filter(|h| wanted(h.id)) {
                    out.push((head.id, node.fields(&head)));
                    if out.len() == count {
                        return out;
                    }
                }
            }
        }
        out
    }

    /// Entries after `after` (exclusive), ascending, at most `count`.
    pub fn after(&self, after: StreamId, count: usize) -> Vec<(StreamId, Fields)> {
        match after.successor() {
            Some(start) => self.range(start, StreamId::MAX, false, count),
            None => Vec::new(),
        }
    }

    /// Deletes entries from the start, as Redis 7.0's `streamTrim` does, until `to` holds or
    /// `limit` entries went; returns how many went. Whole nodes go first; an approximate
    /// trim stops at the first node it cannot remove whole, an exact one deletes entries from
    /// within that node. Like Redis, `limit` is checked per whole node (a node whose live
    /// entries would take the count past it stays).
    ///
    /// `refs` is Redis 8.2's choice for the groups' references: [`RefPolicy::DelRef`] also
    /// drops the deleted entries from every pending entries list, and
    /// [`RefPolicy::Acked`] deletes only entries every group has read and acknowledged,
    /// entry by entry (skipping the others, approximate or not), as Redis 8.2 does.
    pub fn trim(&mut self, to: TrimTo, approx: bool, limit: usize, refs: RefPolicy) -> usize {
        if refs == RefPolicy::Acked {
            return self.trim_acked(to, limit);
        }
        let mut deleted_ids = Vec::new();
        let mut removed = 0usize;
        while let Some(mut first) = self.nodes.first_entry() {
            if let TrimTo::MaxLen(max) = to
                && self.length <= max
            {
                break;
            }
            let node = first.get_mut();
            if removed.saturating_add(node.live) > limit {
                break;
            }
            let whole = match to {
                TrimTo::MaxLen(max) => self.length - node.live >= max,
                TrimTo::MinId(min) => node.last < min,
            };
            if whole {
                if refs == RefPolicy::DelRef {
                    deleted_ids.extend(node.live_heads().map(|h| h.id));
                }
                let live = node.live;
                first.remove();
                self.length -= live;
                removed += live;
                continue;
            }
            if approx {
                break;
            }
            // Trimming is not deletion for the metadata: Redis moves `max_deleted_entry_id`
            // only on XDEL.
            let heads: Vec<_> = node.live_heads().collect();
            for head in heads {
                let done = match to {
                    TrimTo::MaxLen(max) => self.length <= max,
                    TrimTo::MinId(min) => head.id >= min,
                };
                if done {
                    break;
                }
                node.mark_deleted(&head);
                deleted_ids.push(head.id);
                self.length -= 1;
                removed += 1;
            }
            if node.live == 0 {
                // Only when the node's greatest ID was deleted before: Redis keeps such an
                // empty node; no node here is without live entries.
                first.remove();
            }
            break;
        }
        if refs == RefPolicy::DelRef {
            self.drop_references(&deleted_ids);
        }
        removed
    }

    /// [`Stream::trim`] with [`RefPolicy::Acked`]: entries in ID order up to the threshold,
    /// each deleted if every group is done with it; `limit` checked per node.
    fn trim_acked(&mut self, to: TrimTo, limit: usize) -> usize {
        let mut removed = 0usize;
        let keys: Vec<StreamId> = self.nodes.keys().copied().collect();
        'nodes: for key in keys {
            if let TrimTo::MaxLen(max) = to
                && self.length <= max
            {
                break;
            }
            let heads: Vec<_> = match self.nodes.get(&key) {
                Some(node) if removed.saturating_add(node.live) <= limit => {
                    node.live_heads().collect()
                }
                _ => break,
            };
            for head in heads {
                let done = match to {
                    TrimTo::MaxLen(max) => self.length <= max,
                    TrimTo::MinId(min) => head.id >= min,
                };
                if done {
                    break 'nodes;
                }
                if !self.acknowledged_by_all(head.id) {
                    continue;
                }
                let Some(node) = self.nodes.get_mut(&key) else {
                    break 'nodes;
                };
                node.mark_deleted(&head);
                let empty = node.live == 0;
                if empty {
                    self.nodes.remove(&key);
                }
                self.length -= 1;
                removed += 1;
            }
        }
        removed
    }

    /// Whether every group has read `id` and none still has it pending (Redis 8.2's
    /// ACKED). True without groups.
    pub fn acknowledged_by_all(&self, id: StreamId) -> bool {
        self.groups
            .values()
            .all(|g| id <= g.last_delivered_id && !g.pel.contains_key(&id))
    }

    /// Removes `ids` from every group's pending entries list (Redis 8.2's DELREF).
    pub fn drop_references(&mut self, ids: &[StreamId]) {
        if ids.is_empty() {
            return;
        }
        for group in self.groups.values_mut() {
            for id in ids {
                group.acknowledge(*id);
            }
        }
    }

    /// XDELEX's and XACKDEL's deletion of one entry under `refs`.
    pub fn delete_with(&mut self, id: StreamId, refs: RefPolicy) -> Deletion {
        if !self.contains(id) {
            return Deletion::Missing;
        }
        if refs == RefPolicy::Acked && !self.acknowledged_by_all(id) {
            return Deletion::Referenced;
        }
        self.remove(id);
        if refs == RefPolicy::DelRef {
            self.drop_references(&[id]);
        }
        Deletion::Deleted
    }

    /// Entries between two IDs (inclusive) that still exist: for a group's lag.
    pub fn count_between(&self, start: StreamId, end: StreamId) -> usize {
        if start > end {
            return 0;
        }
        let first_key = self.node_of(start).map_or(start, |(k, _)| *k);
        self.nodes
            .range(first_key..=end)
            .map(|(&key, node)| {
                if key >= start && node.last <= end {
                    node.live
                } else {
                    node.live_heads()
                        .filter(|h| start <= h.id && h.id <= end)
                        .count()
                }
            })
            .sum()
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
        self.nodes.values().map(Node::heap_bytes).sum()
    }

    /// Every entry in ID order.
    pub fn iter(&self) -> impl Iterator<Item = (StreamId, Fields)> + '_ {
        self.nodes
            .values()
            .flat_map(|node| node.live_heads().map(move |h| (h.id, node.fields(&h))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(v: &str) -> Vec<Bytes> {
        vec![
            Bytes::from_static(b"f"),
            Bytes::copy_from_slice(v.as_bytes()),
        ]
    }

    fn ids(v: Vec<(StreamId, Fields)>) -> Vec<u64> {
        v.into_iter().map(|(id, _)| id.ms).collect()
    }

    impl Stream {
        fn trim_keep(&mut self, to: TrimTo, approx: bool, limit: usize) -> usize {
            self.trim(to, approx, limit, RefPolicy::KeepRef)
        }
    }

    fn filled(n: u64, limits: NodeLimits) -> Stream {
        let mut s = Stream::default();
        for i in 1..=n {
            s.append(StreamId::new(i, 0), &fields(&i.to_string()), limits);
        }
        s
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
        let mut s = filled(10, NodeLimits::default());
        assert_eq!(s.len(), 10);
        assert_eq!(s.entries_added, 10);
        assert_eq!(s.last_id, StreamId::new(10, 0));
        assert_eq!(
            ids(s.range(StreamId::new(3, 0), StreamId::new(5, 0), false, 10)),
            [3, 4, 5]
        );
        assert_eq!(ids(s.range(StreamId::MIN, StreamId::MAX, true, 2)), [10, 9]);
        assert_eq!(ids(s.after(StreamId::new(8, 0), 10)), [9, 10]);
        assert_eq!(
            s.get(StreamId::new(4, 0)).as_deref(),
            Some(&fields("4")[..])
        );
        assert!(s.remove(StreamId::new(10, 0)));
        assert!(!s.remove(StreamId::new(10, 0)));
        assert!(!s.contains(StreamId::new(10, 0)));
        assert_eq!(s.max_deleted_entry_id, StreamId::new(10, 0));
        assert_eq!(s.last_id, StreamId::new(10, 0));
        assert_eq!(s.trim_keep(TrimTo::MaxLen(5), false, usize::MAX), 4);
        assert_eq!(s.first_id(), StreamId::new(5, 0));
        assert_eq!(s.max_deleted_entry_id, StreamId::new(10, 0));
        assert_eq!(
            s.trim_keep(TrimTo::MinId(StreamId::new(6, 0)), false, usize::MAX),
            1
        );
        assert_eq!(s.first_id(), StreamId::new(6, 0));
        assert_eq!(s.count_between(StreamId::new(6, 0), StreamId::new(8, 0)), 3);
        assert_eq!(ids(s.iter().collect()), [6, 7, 8, 9]);
    }

    #[test]
    fn scans_cross_nodes_both_ways() {
        let limits = NodeLimits {
            entries_max: 3,
            bytes_max: 4096,
        };
        let mut s = filled(10, limits);
        assert_eq!(s.node_count(), 4);
        for id in [3, 4, 5] {
            assert!(s.remove(StreamId::new(id, 0)));
        }
        // The node of 4-0..6-0 keeps 6-0; the one of 1-0..3-0 keeps two.
        assert_eq!(s.node_count(), 4);
        assert!(s.remove(StreamId::new(6, 0)));
        assert_eq!(s.node_count(), 3);
        assert_eq!(ids(s.iter().collect()), [1, 2, 7, 8, 9, 10]);
        assert_eq!(
            ids(s.range(StreamId::new(2, 0), StreamId::new(9, 0), true, 10)),
            [9, 8, 7, 2]
        );
        assert_eq!(
            ids(s.range(StreamId::new(2, 5), StreamId::new(8, 0), false, 10)),
            [7, 8]
        );
        assert_eq!(s.count_between(StreamId::new(2, 0), StreamId::new(9, 0)), 4);
        assert_eq!(s.count_between(StreamId::MIN, StreamId::MAX), 6);
        assert_eq!(s.first_entry().map(|(id, _)| id.ms), Some(1));
        assert_eq!(s.last_entry().map(|(id, _)| id.ms), Some(10));
    }

    /// Redis's unit/type/stream "XADD with MAXLEN option and the '~' argument": with
    /// 100-entry nodes, 1000 entries trimmed to about 555 keep 600.
    #[test]
    fn approximate_trims_remove_whole_nodes_only() {
        let mut s = filled(1000, NodeLimits::default());
        assert_eq!(s.node_count(), 10);
        assert_eq!(s.trim_keep(TrimTo::MaxLen(555), true, usize::MAX), 400);
        assert_eq!(s.len(), 600);
        // Nodes 401-500 and 501-600 end below 650; 601-700 does not.
        assert_eq!(
            s.trim_keep(TrimTo::MinId(StreamId::new(650, 0)), true, usize::MAX),
            200
        );
        assert_eq!(
            s.trim_keep(TrimTo::MinId(StreamId::new(650, 0)), true, usize::MAX),
            0
        );
        // A limit below a node's entries stops the trim before that node.
        assert_eq!(s.trim_keep(TrimTo::MaxLen(0), true, 150), 100);
        assert_eq!(s.len(), 300);
        assert_eq!(s.trim_keep(TrimTo::MaxLen(0), true, 99), 0);
        // Exact trims delete inside a node.
        assert_eq!(s.trim_keep(TrimTo::MaxLen(155), false, usize::MAX), 145);
        assert_eq!(s.first_id(), StreamId::new(846, 0));
        assert_eq!(s.node_count(), 2);
    }

    #[test]
    fn ref_policies_as_redis_8_2_applies_them() {
        let limits = NodeLimits {
            entries_max: 3,
            bytes_max: 4096,
        };
        // Redis 8.6.3: 12 entries in 3-entry nodes, a group that read 1..=11 and acknowledged
        // 1 3 5 7 8 9 10. ACKED deletes just those, approximate or not; then MINID 9-0 with
        // DELREF deletes 2 4 6 and drops them from the PEL.
        for approx in [false, true] {
            let mut s = filled(12, limits);
            let mut group = ConsumerGroup {
                last_delivered_id: StreamId::new(11, 0),
                ..ConsumerGroup::default()
            };
            let consumer = Bytes::from_static(b"c");
            group.consumer_mut(&consumer, 0);
            for i in 1..=11 {
                group.assign(StreamId::new(i, 0), &consumer, 0, 1);
            }
            for i in [1, 3, 5, 7, 8, 9, 10] {
                group.acknowledge(StreamId::new(i, 0));
            }
            s.groups.insert(Bytes::from_static(b"g"), group);
            let max = if approx { 5 } else { 2 };
            assert_eq!(
                s.trim(TrimTo::MaxLen(max), approx, usize::MAX, RefPolicy::Acked),
                7
            );
            assert_eq!(ids(s.iter().collect()), [2, 4, 6, 11, 12]);
            let min = TrimTo::MinId(StreamId::new(9, 0));
            assert_eq!(s.trim(min, false, usize::MAX, RefPolicy::Acked), 0);
            assert_eq!(s.trim(min, false, usize::MAX, RefPolicy::DelRef), 3);
            let pel: Vec<u64> = s.groups[&b"g"[..]].pel.keys().map(|id| id.ms).collect();
            assert_eq!(pel, [11]);
            assert_eq!(
                s.delete_with(StreamId::new(11, 0), RefPolicy::Acked),
                Deletion::Referenced
            );
            assert_eq!(
                s.delete_with(StreamId::new(12, 0), RefPolicy::Acked),
                Deletion::Referenced
            );
            assert_eq!(
                s.delete_with(StreamId::new(11, 0), RefPolicy::DelRef),
                Deletion::Deleted
            );
            assert!(s.groups[&b"g"[..]].pel.is_empty());
            assert_eq!(
                s.delete_with(StreamId::new(11, 0), RefPolicy::KeepRef),
                Deletion::Missing
            );
        }
    }

    #[test]
    fn loaded_entries_must_come_in_order() {
        let mut s = Stream::default();
        assert!(s.insert_loaded(StreamId::new(2, 0), &fields("a")));
        assert!(!s.insert_loaded(StreamId::new(2, 0), &fields("b")));
        assert!(!s.insert_loaded(StreamId::new(1, 0), &fields("b")));
        assert_eq!(s.len(), 1);
    }
}
