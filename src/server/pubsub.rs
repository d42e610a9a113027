//! Channel, pattern and shard-channel subscriptions.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

/// The three kinds of subscription Redis 7.0 keeps apart: each has its own namespace, its
/// own messages and (for shard channels) its own count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Channel,
    Pattern,
    Shard,
}

#[derive(Debug, Default)]
pub struct PubSub {
    /// channel -> subscribed client ids.
    pub channels: BTreeMap<Bytes, BTreeSet<u64>>,
    /// pattern -> subscribed client ids.
    pub patterns: BTreeMap<Bytes, BTreeSet<u64>>,
    /// shard channel (SSUBSCRIBE, SPUBLISH) -> subscribed client ids.
    pub shard_channels: BTreeMap<Bytes, BTreeSet<u64>>,
}

impl PubSub {
    pub fn of(&self, kind: Kind) -> &BTreeMap<Bytes, BTreeSet<u64>> {
        match kind {
            Kind::Channel => &self.channels,
            Kind::Pattern => &self.patterns,
            Kind::Shard => &self.shard_channels,
        }
    }

    fn of_mut(&mut self, kind: Kind) -> &mut BTreeMap<Bytes, BTreeSet<u64>> {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard_channels,
        }
    }

    /// Returns true if the subscription is new.
    pub fn subscribe(&mut self, kind: Kind, client: u64, name: Bytes) -> bool {
        self.of_mut(kind).entry(name).or_default().insert(client)
    }

    /// Drops one subscription; a name nobody follows any more is forgotten, so that
    /// clients cannot grow the server by subscribing to millions of names in turn.
    pub fn unsubscribe(&mut self, kind: Kind, client: u64, name: &[u8]) -> bool {
        let map = self.of_mut(kind);
        let Some(set) = map.get_mut(name) else {
            return false;
        };
        let removed = set.remove(&client);
        if set.is_empty() {
            map.remove(name);
        }
        removed
    }
}
