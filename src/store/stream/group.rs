//! Consumer groups: each group's last delivered ID and read counter, its pending entries
//! list (PEL), and its consumers with the entries each owns.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

use super::id::StreamId;

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
            // Copied, not shared: the name is a view of a client's read buffer.
            .entry(Bytes::copy_from_slice(name))
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
        // The consumer's stored name, shared: the argument is a view of a client's read
        // buffer, which every pending entry would otherwise pin.
        let consumer = self
            .consumers
            .get_key_value(consumer)
            .map_or_else(|| Bytes::copy_from_slice(consumer), |(k, _)| k.clone());
        let consumer = &consumer;
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
