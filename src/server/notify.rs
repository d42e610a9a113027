//! Keyspace notifications (`notify-keyspace-events`): a write publishes its event on
//! `__keyspace@<db>__:<key>` (the event as message) and `__keyevent@<db>__:<event>` (the
//! key as message), as Redis's `notifyKeyspaceEvent`. Commands raise them through
//! `Ctx::notify`; the expire cycle raises `expired` here directly.

use bytes::{BufMut, Bytes, BytesMut};

use super::State;
use super::pubsub::Kind;
use crate::resp::Reply;

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
