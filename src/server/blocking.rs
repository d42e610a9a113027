//! Clients blocked on keys (BLPOP and friends). A write that makes a key ready marks it; the
//! dispatcher then serves the blocked clients in arrival order under the same lock, so the
//! served pop executes (and is propagated) right after the write that enabled it, as in Redis.

use std::collections::{HashMap, HashSet, VecDeque};

use bytes::Bytes;

use crate::resp::Reply;

/// What serves a blocked client once one of its keys is ready: the command it resumes,
/// which the command layer maps to that command's non-blocking attempt. Data, so that this
/// layer needs nothing of the commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    Blpop,
    Brpop,
    Blmove,
    Brpoplpush,
    Blmpop,
    Bzpopmin,
    Bzpopmax,
    Bzmpop,
    Xread,
    Xreadgroup,
    /// Not served by keys: WAIT is answered by ACKs, SAVE by the save thread, SHUTDOWN by
    /// the exit (or its abort).
    Never,
}

#[derive(Debug)]
pub struct BlockRequest {
    pub keys: Vec<Bytes>,
    /// Absolute deadline in Unix ms; None waits forever.
    pub deadline_ms: Option<u64>,
    pub args: Vec<Bytes>,
    pub resume: Resume,
    /// Reply on timeout (`*-1` for most, `$-1`/nil for BLMOVE).
    pub timeout_reply: Reply,
    /// WAIT: (log offset, replicas wanted). Served when enough replicas acknowledged the
    /// offset; on timeout answered with the count at that moment.
    pub wait: Option<(u64, usize)>,
}

#[derive(Debug)]
pub struct BlockedClient {
    pub db: usize,
    pub request: BlockRequest,
}

#[derive(Debug, Default)]
pub struct Blocking {
    by_key: HashMap<(usize, Bytes), VecDeque<u64>>,
    pub clients: HashMap<u64, BlockedClient>,
    ready: VecDeque<(usize, Bytes)>,
    ready_set: HashSet<(usize, Bytes)>,
}

impl Blocking {
    pub fn block(&mut self, client: u64, db: usize, request: BlockRequest) {
        for key in &request.keys {
            let queue = self.by_key.entry((db, key.clone())).or_default();
            if !queue.contains(&client) {
                queue.push_back(client);
            }
        }
        self.clients.insert(client, BlockedClient { db, request });
    }

    /// Removes a blocked client, returning its request if it was still blocked.
    pub fn unblock(&mut self, client: u64) -> Option<BlockedClient> {
        let blocked = self.clients.remove(&client)?;
        for key in &blocked.request.keys {
            let slot = (blocked.db, key.clone());
            if let Some(queue) = self.by_key.get_mut(&slot) {
                queue.retain(|&c| c != client);
                if queue.is_empty() {
                    self.by_key.remove(&slot);
                }
            }
        }
        Some(blocked)
    }

    pub fn is_blocked(&self, client: u64) -> bool {
        self.clients.contains_key(&client)
    }

    /// Marks a key as possibly able to serve blocked clients.
    pub fn signal_ready(&mut self, db: usize, key: &[u8]) {
        if self.by_key.is_empty() {
            return;
        }
        let slot = (db, Bytes::copy_from_slice(key));
        if self.by_key.contains_key(&slot) && self.ready_set.insert(slot.clone()) {
            self.ready.push_back(slot);
        }
    }

    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    pub fn next_ready(&mut self) -> Option<(usize, Bytes)> {
        let slot = self.ready.pop_front()?;
        self.ready_set.remove(&slot);
        Some(slot)
    }

    /// Client ids blocked on a key, in arrival order.
    pub fn waiters(&self, db: usize, key: &Bytes) -> Vec<u64> {
        self.by_key
            .get(&(db, key.clone()))
            .map(|q| q.iter().copied().collect())
            .unwrap_or_default()
    }

    pub fn len(&self) -> usize {
        self.clients.len()
    }

    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }

    /// Clients blocked on keys of `db` (SWAPDB and FLUSH may change what they can be served).
    pub fn signal_db(&mut self, db: usize) {
        let slots: Vec<(usize, Bytes)> = self
            .by_key
            .keys()
            .filter(|(d, _)| *d == db)
            .cloned()
            .collect();
        for (d, k) in slots {
            self.signal_ready(d, &k);
        }
    }
}
