//! Channel and pattern subscriptions.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

#[derive(Debug, Default)]
pub struct PubSub {
    /// channel -> subscribed client ids, in subscription order.
    pub channels: BTreeMap<Bytes, BTreeSet<u64>>,
    /// pattern -> subscribed client ids.
    pub patterns: BTreeMap<Bytes, BTreeSet<u64>>,
}

impl PubSub {
    /// Returns true if the subscription is new.
    pub fn subscribe(&mut self, client: u64, channel: Bytes) -> bool {
        self.channels.entry(channel).or_default().insert(client)
    }

    pub fn unsubscribe(&mut self, client: u64, channel: &[u8]) -> bool {
        let Some(set) = self.channels.get_mut(channel) else {
            return false;
        };
        let removed = set.remove(&client);
        if set.is_empty() {
            self.channels.remove(channel);
        }
        removed
    }

    pub fn psubscribe(&mut self, client: u64, pattern: Bytes) -> bool {
        self.patterns.entry(pattern).or_default().insert(client)
    }

    pub fn punsubscribe(&mut self, client: u64, pattern: &[u8]) -> bool {
        let Some(set) = self.patterns.get_mut(pattern) else {
            return false;
        };
        let removed = set.remove(&client);
        if set.is_empty() {
            self.patterns.remove(pattern);
        }
        removed
    }
}
