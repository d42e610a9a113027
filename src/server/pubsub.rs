//! Channel, pattern and shard-channel subscriptions.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

use crate::resp::Reply;
use crate::server::State;
use crate::server::clients::Outbound;
use crate::util::glob;

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

/// Outcome of delivering one message to the subscribers of a channel and its patterns.
struct Delivery {
    own: Vec<Reply>,
    receivers: usize,
    over_limit: Vec<u64>,
    publisher: Option<u64>,
}

impl Delivery {
    fn deliver(
        &mut self,
        clients: &crate::server::clients::Clients,
        ids: &std::collections::BTreeSet<u64>,
        reply: &Reply,
        hard_limit_bytes: usize,
    ) {
        let size = reply.encoded_len_hint();
        for id in ids {
            if Some(*id) == self.publisher {
                self.own.push(reply.clone());
                self.receivers += 1;
                continue;
            }
            if let Some(client) = clients.get(*id) {
                client.send(Outbound::Push(reply.clone()), size);
                self.receivers += 1;
                if hard_limit_bytes > 0 && client.queued() > hard_limit_bytes {
                    self.over_limit.push(*id);
                }
            }
        }
    }
}

/// Delivers a message to the subscribers of a channel; returns how many received it, and
/// the messages for `publisher` itself (a RESP3 client may publish to its own channels),
/// which are returned instead of queued so that they go out before the command's own
/// reply, as in Redis.
/// `kind` is `Channel` (PUBLISH: channel and pattern subscribers get `message` and
/// `pmessage`) or `Shard` (SPUBLISH: shard subscribers get `smessage`).
pub fn publish(
    state: &mut State,
    kind: Kind,
    channel: &Bytes,
    message: &Bytes,
    publisher: Option<u64>,
) -> (usize, Vec<Reply>) {
    debug_assert!(kind != Kind::Pattern, "messages go to channels");
    let mut delivery = Delivery {
        own: Vec::new(),
        receivers: 0,
        over_limit: Vec::new(),
        publisher,
    };
    let hard = crate::util::num::usize_from(state.config.output_limit_pubsub.hard_bytes);
    let message_name: &'static [u8] = if kind == Kind::Shard {
        b"smessage"
    } else {
        b"message"
    };
    if let Some(ids) = state.pubsub.of(kind).get(channel) {
        let reply = Reply::Push(vec![
            Reply::bulk(Bytes::from_static(message_name)),
            Reply::Bulk(channel.clone()),
            Reply::Bulk(message.clone()),
        ]);
        delivery.deliver(&state.clients, ids, &reply, hard);
    }
    let patterns = match kind {
        Kind::Channel => &state.pubsub.patterns,
        _ => &std::collections::BTreeMap::new(),
    };
    for (pattern, ids) in patterns {
        if !glob::matches(pattern, channel, false) {
            continue;
        }
        let reply = Reply::Push(vec![
            Reply::bulk(Bytes::from_static(b"pmessage")),
            Reply::Bulk(pattern.clone()),
            Reply::Bulk(channel.clone()),
            Reply::Bulk(message.clone()),
        ]);
        delivery.deliver(&state.clients, ids, &reply, hard);
    }
    let Delivery {
        own,
        receivers,
        over_limit,
        ..
    } = delivery;
    for id in over_limit {
        tracing::warn!(
            client = id,
            "closing pub/sub client: output buffer over client-output-buffer-limit pubsub"
        );
        state.stats.client_output_buffer_kills += 1;
        state.clients.kill(id, "pubsub output buffer limit reached");
    }
    (receivers, own)
}

impl State {
    /// See [`publish`].
    pub fn publish(
        &mut self,
        kind: Kind,
        channel: &Bytes,
        message: &Bytes,
        publisher: Option<u64>,
    ) -> (usize, Vec<Reply>) {
        publish(self, kind, channel, message, publisher)
    }
}
