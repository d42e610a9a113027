//! Keyspace notifications (`notify-keyspace-events`): a write publishes its event on
//! `__keyspace@<db>__:<key>` (the event as message) and `__keyevent@<db>__:<event>` (the
//! key as message), as Redis's `notifyKeyspaceEvent`. Commands raise them through
//! `Ctx::notify`; the expire cycle raises `expired` here directly. Also the delivery of
//! CLIENT TRACKING's invalidations.

use bytes::{BufMut, Bytes, BytesMut};

use super::State;
use super::pubsub::Kind;
use super::tracking::Invalidation;
use crate::resp::{Protocol, Reply};

impl State {
    /// Publishes one event if its class is enabled. Returns the messages for `publisher`
    /// itself, which its own reply must follow.
    pub fn notify_keyspace_event(
        &mut self,
        db: usize,
        class: u32,
        event: &str,
        key: &[u8],
        publisher: Option<u64>,
    ) -> Vec<Reply> {
        let events = self.config.keyspace_events;
        if !events.publishes(class) {
            return Vec::new();
        }
        let mut own = Vec::new();
        let channel = |family: &str, tail: &[u8]| {
            let mut channel = BytesMut::with_capacity(family.len() + 8 + tail.len());
            channel.put_slice(family.as_bytes());
            channel.put_slice(db.to_string().as_bytes());
            channel.put_slice(b"__:");
            channel.put_slice(tail);
            channel.freeze()
        };
        if events.keyspace_channel() {
            let on = channel("__keyspace@", key);
            let message = Bytes::copy_from_slice(event.as_bytes());
            own.extend(self.publish(Kind::Channel, &on, &message, publisher).1);
        }
        if events.keyevent_channel() {
            let on = channel("__keyevent@", event.as_bytes());
            let message = Bytes::copy_from_slice(key);
            own.extend(self.publish(Kind::Channel, &on, &message, publisher).1);
        }
        own
    }
}

impl State {
    /// Tells clients that keys changed (CLIENT TRACKING): a RESP3 client gets an
    /// `invalidate` push, a redirection goes to the client it names (as a
    /// `__redis__:invalidate` message when that one is a RESP2 subscriber), a redirection
    /// to a client that is gone is reported to a RESP3 tracker once per message, as Redis
    /// does. Messages for `current` (the client whose command caused them) are returned:
    /// they follow its reply.
    pub fn deliver_invalidations(
        &mut self,
        invalidations: Vec<Invalidation>,
        current: Option<u64>,
    ) -> Vec<Reply> {
        let mut own = Vec::new();
        for Invalidation { client, keys } in invalidations {
            let Some(options) = self.tracking.of(client) else {
                continue;
            };
            let redirect = options.redirect;
            let mut target = client;
            let mut redirected = false;
            if redirect != 0 {
                if self.clients.get(redirect).is_none() {
                    if let Some(t) = self.tracking.of_mut(client) {
                        t.broken_redirect = true;
                    }
                    let resp3 = self
                        .clients
                        .get(client)
                        .is_some_and(|c| c.protocol == Protocol::Resp3);
                    if resp3 {
                        let push = Reply::Push(vec![
                            Reply::bulk(Bytes::from_static(b"tracking-redir-broken")),
                            Reply::integer(redirect),
                        ]);
                        self.push_to(client, push, current, &mut own);
                    }
                    continue;
                }
                target = redirect;
                redirected = true;
            }
            let Some(handle) = self.clients.get(target) else {
                continue;
            };
            let payload = match keys {
                Some(keys) => Reply::Array(keys.into_iter().map(Reply::Bulk).collect()),
                None => Reply::Nil,
            };
            let push = if handle.protocol == Protocol::Resp3 {
                Reply::Push(vec![
                    Reply::bulk(Bytes::from_static(b"invalidate")),
                    payload,
                ])
            } else if redirected && handle.subscriptions + handle.patterns > 0 {
                Reply::Push(vec![
                    Reply::bulk(Bytes::from_static(b"message")),
                    Reply::bulk(Bytes::from_static(b"__redis__:invalidate")),
                    payload,
                ])
            } else {
                // RESP2 has no pushes on a connection that is not subscribed.
                continue;
            };
            self.push_to(target, push, current, &mut own);
        }
        own
    }

    /// Sends the BCAST invalidations gathered since the last time; those for `current`
    /// are returned (they follow its reply).
    /// Keeps the tracking table within `tracking-table-max-keys` (before each command and
    /// in the cron, as Redis does): the effort grows each time one pass was not enough.
    pub fn limit_tracking_table(&mut self) {
        let keys_max = self.config.tracking_table_max_keys;
        if keys_max == 0 || self.tracking.table_len() <= keys_max {
            self.tracking_eviction_rounds = 0;
            return;
        }
        let effort = TRACKING_EVICTION_EFFORT * (self.tracking_eviction_rounds as usize + 1);
        let told = self.tracking.evict_over_limit(keys_max, effort);
        self.deliver_invalidations(told, None);
        if self.tracking.table_len() > keys_max {
            self.tracking_eviction_rounds = self.tracking_eviction_rounds.saturating_add(1);
        } else {
            self.tracking_eviction_rounds = 0;
        }
    }

    pub fn send_tracking_broadcasts(&mut self, current: Option<u64>) -> Vec<Reply> {
        if !self.tracking.has_broadcasts() {
            return Vec::new();
        }
        let broadcasts = self.tracking.take_broadcasts();
        self.deliver_invalidations(broadcasts, current)
    }

    fn push_to(&self, client: u64, push: Reply, current: Option<u64>, own: &mut Vec<Reply>) {
        if Some(client) == current {
            own.push(push);
        } else {
            self.clients.push_all(client, [push]);
        }
    }
}

/// Keys one pass of [`State::limit_tracking_table`] may forget, times the passes that
/// were not enough (Redis's effort of 100).
const TRACKING_EVICTION_EFFORT: usize = 100;
