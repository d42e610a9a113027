//! Registry of connected clients: what CLIENT LIST shows and how to reach a connection from
//! another one (pub/sub messages, unblocking, CLIENT KILL).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::resp::{Protocol, Reply};

/// Messages to a connection from outside its own request/reply flow.
#[derive(Debug)]
pub enum Outbound {
    /// Pub/sub messages and MONITOR lines, encoded by the receiver for its protocol.
    Push(Reply),
    /// The reply of a blocked command that another client's write served.
    Unblocked(Reply),
    /// CLIENT UNBLOCK: reply nil (or the given error) to a blocked command.
    Unblock(Option<String>),
}

#[derive(Debug)]
pub struct ClientHandle {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    pub name: Option<Bytes>,
    pub lib_name: Option<Bytes>,
    pub lib_ver: Option<Bytes>,
    pub db: usize,
    pub protocol: Protocol,
    pub created_ms: u64,
    pub last_active_ms: u64,
    pub last_cmd: &'static str,
    pub last_subcommand: Option<Bytes>,
    pub flags: String,
    pub subscriptions: usize,
    pub patterns: usize,
    pub shard_subscriptions: usize,
    pub multi_len: i64,
    pub authenticated: bool,
    pub tx: mpsc::UnboundedSender<Outbound>,
    /// Bytes queued through `tx` and not yet written, for output buffer limits.
    pub queued_bytes: Arc<AtomicUsize>,
    /// Out-of-band kill: a client stuck writing to a peer that stops reading would never
    /// reach a kill message queued behind its pending output.
    pub kill_switch: Arc<KillSwitch>,
    pub no_evict: bool,
}

/// Set once; the connection watches it while reading, writing and waiting.
#[derive(Debug, Default)]
pub struct KillSwitch {
    reason: parking_lot::Mutex<Option<String>>,
    notify: tokio::sync::Notify,
}

impl KillSwitch {
    pub fn trip(&self, reason: &str) {
        let mut slot = self.reason.lock();
        if slot.is_none() {
            *slot = Some(reason.to_string());
        }
        drop(slot);
        // notify_one keeps a permit when nobody waits yet, so the kill is never missed.
        self.notify.notify_one();
    }

    pub fn reason(&self) -> Option<String> {
        self.reason.lock().clone()
    }

    pub async fn tripped(&self) -> String {
        loop {
            if let Some(reason) = self.reason() {
                return reason;
            }
            self.notify.notified().await;
        }
    }
}

impl ClientHandle {
    /// A freshly connected client as CLIENT LIST first shows it.
    pub fn new(
        id: u64,
        addr: String,
        laddr: String,
        tx: mpsc::UnboundedSender<Outbound>,
        queued_bytes: Arc<AtomicUsize>,
        kill_switch: Arc<KillSwitch>,
    ) -> ClientHandle {
        let now = crate::server::unix_time_ms();
        ClientHandle {
            id,
            addr,
            laddr,
            name: None,
            lib_name: None,
            lib_ver: None,
            db: 0,
            protocol: Protocol::Resp2,
            created_ms: now,
            last_active_ms: now,
            last_cmd: "NULL",
            last_subcommand: None,
            flags: String::new(),
            subscriptions: 0,
            patterns: 0,
            shard_subscriptions: 0,
            multi_len: -1,
            authenticated: false,
            tx,
            queued_bytes,
            kill_switch,
            no_evict: false,
        }
    }

    /// Queues a message, counting its size against the client's output buffer. Nothing is
    /// queued to a client that is being killed.
    pub fn send(&self, message: Outbound, size_hint: usize) -> bool {
        if self.kill_switch.reason().is_some() {
            return false;
        }
        self.queued_bytes.fetch_add(size_hint, Ordering::Relaxed);
        self.tx.send(message).is_ok()
    }

    pub fn queued(&self) -> usize {
        self.queued_bytes.load(Ordering::Relaxed)
    }
}

#[derive(Debug, Default)]
pub struct Clients {
    pub by_id: std::collections::BTreeMap<u64, ClientHandle>,
    pub monitors: Vec<u64>,
}

impl Clients {
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    pub fn get(&self, id: u64) -> Option<&ClientHandle> {
        self.by_id.get(&id)
    }

    /// Queues pushes (messages, invalidations) for a client, if it is still connected.
    pub fn push_all(&self, id: u64, pushes: impl IntoIterator<Item = crate::resp::Reply>) {
        if let Some(client) = self.get(id) {
            for push in pushes {
                let size = push.encoded_len_hint();
                client.send(Outbound::Push(push), size);
            }
        }
    }

    /// The client's peer address for logs and MONITOR (empty if it is gone).
    pub fn addr_of(&self, id: u64) -> String {
        self.get(id).map(|c| c.addr.clone()).unwrap_or_default()
    }

    pub fn get_mut(&mut self, id: u64) -> Option<&mut ClientHandle> {
        self.by_id.get_mut(&id)
    }

    pub fn kill(&self, id: u64, reason: &str) -> bool {
        match self.by_id.get(&id) {
            Some(c) => {
                c.kill_switch.trip(reason);
                true
            }
            None => false,
        }
    }
}

/// Copies what CLIENT LIST shows from a session into its registry entry.
pub fn sync_session(
    state: &mut crate::server::State,
    session: &crate::server::Session,
    last_cmd: &'static str,
) {
    let now_ms = crate::server::unix_time_ms();
    let blocked = state.blocking.is_blocked(session.id);
    let Some(handle) = state.clients.get_mut(session.id) else {
        return;
    };
    handle.db = session.db;
    handle.protocol = session.protocol;
    handle.authenticated = session.authenticated;
    if handle.name != session.name {
        handle.name = session.name.clone();
    }
    if handle.lib_name != session.lib_name {
        handle.lib_name = session.lib_name.clone();
    }
    if handle.lib_ver != session.lib_ver {
        handle.lib_ver = session.lib_ver.clone();
    }
    handle.subscriptions = session.channels.len();
    handle.patterns = session.patterns.len();
    handle.shard_subscriptions = session.shard_channels.len();
    handle.multi_len = session.multi.as_ref().map_or(-1, |m| m.queued.len() as i64);
    handle.last_cmd = last_cmd;
    if handle.last_subcommand != session.last_subcommand {
        handle.last_subcommand = session.last_subcommand.clone();
    }
    handle.last_active_ms = now_ms;
    handle.no_evict = session.no_evict;
    let mut flags = String::new();
    if session.source == crate::server::propagate::Source::MasterLink {
        flags.push('M');
    }
    if session.is_monitor {
        flags.push('O');
    }
    if session.multi.is_some() {
        flags.push('x');
    }
    if blocked {
        flags.push('b');
    }
    if session.no_evict {
        flags.push('e');
    }
    if handle.flags != flags {
        handle.flags = flags;
    }
}
