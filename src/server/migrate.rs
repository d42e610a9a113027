//! What a MIGRATE in flight holds: the job a connection carries out once the server lock is
//! released, and the sockets kept open to targets between MIGRATEs (Redis's
//! `migrate_cached_sockets`: at most 64, closed after 10 s unused).

use std::collections::HashMap;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;

/// Redis's `MIGRATE_SOCKET_CACHE_ITEMS`.
pub const CACHED_SOCKETS_MAX: usize = 64;
/// Redis's `MIGRATE_SOCKET_CACHE_TTL`.
pub const CACHED_SOCKET_IDLE_MAX: Duration = Duration::from_secs(10);

/// One MIGRATE: everything the transfer needs, built under the lock from the keys as they
/// were then.
#[derive(Debug)]
pub struct MigrateJob {
    /// The command as the client sent it (for the call that completes it).
    pub argv: Vec<Bytes>,
    pub host: String,
    pub port: u16,
    /// The target's database (SELECT is sent when the cached socket is elsewhere).
    pub target_db: i64,
    pub timeout: Duration,
    /// COPY: the source keeps its keys.
    pub copy: bool,
    /// AUTH or AUTH2: (username, password).
    pub auth: Option<(Option<Bytes>, Bytes)>,
    /// The database the keys are moved from.
    pub source_db: usize,
    /// The keys sent, in order; one RESTORE each in `restores`.
    pub keys: Vec<Bytes>,
    /// The RESTORE commands, encoded as RESP.
    pub restores: Vec<u8>,
    /// `ReplState::master_epoch` when the job was built: if the role changed meanwhile the
    /// dataset is another one, and nothing is deleted from it.
    pub master_epoch: u64,
}

/// What the target made of a job.
#[derive(Debug, Default)]
pub struct TransferOutcome {
    /// Indexes into `MigrateJob::keys` of the keys the target restored.
    pub restored: Vec<usize>,
    /// The error reply for the client (a target error, or an I/O failure).
    pub error: Option<String>,
}

/// A connection to a target, with what is known of its state.
pub struct TargetSocket {
    pub stream: TcpStream,
    /// The database the target connection has selected, when known.
    pub selected_db: Option<i64>,
    /// Bytes read past the last reply line.
    pub unread: Vec<u8>,
    last_used: Instant,
}

impl TargetSocket {
    pub fn new(stream: TcpStream) -> TargetSocket {
        TargetSocket {
            stream,
            selected_db: None,
            unread: Vec::new(),
            last_used: Instant::now(),
        }
    }
}

/// Sockets to targets, by "host:port". A transfer takes its socket out and puts it back
/// when the socket is still good, so two transfers never share one.
#[derive(Default)]
pub struct TargetSockets {
    cached: Mutex<HashMap<String, TargetSocket>>,
}

impl TargetSockets {
    pub fn take(&self, target: &str) -> Option<TargetSocket> {
        self.cached.lock().remove(target)
    }

    pub fn put(&self, target: String, mut socket: TargetSocket) {
        socket.last_used = Instant::now();
        let mut cached = self.cached.lock();
        if cached.len() >= CACHED_SOCKETS_MAX && !cached.contains_key(&target) {
            // Full: the least recently used goes (Redis drops one at random).
            let oldest = cached
                .iter()
                .min_by_key(|(_, s)| s.last_used)
                .map(|(name, _)| name.clone());
            if let Some(oldest) = oldest {
                cached.remove(&oldest);
            }
        }
        cached.insert(target, socket);
    }

    /// Closes the sockets unused for longer than [`CACHED_SOCKET_IDLE_MAX`] (the cron).
    pub fn close_idle(&self, now: Instant) {
        self.cached
            .lock()
            .retain(|_, s| now.saturating_duration_since(s.last_used) <= CACHED_SOCKET_IDLE_MAX);
    }

    pub fn len(&self) -> usize {
        self.cached.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
