//! Per-connection state that only the connection itself reads and writes.

use crate::server::pubsub::Kind;
use std::collections::HashSet;

use bytes::Bytes;

use super::blocking::BlockRequest;
use crate::resp::Protocol;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReplyMode {
    #[default]
    On,
    Off,
    /// Skip the reply of the next command only.
    SkipNext,
    Skipping,
}

#[derive(Debug, Default)]
pub struct MultiState {
    pub queued: Vec<Vec<Bytes>>,
    /// A command failed to queue: EXEC answers EXECABORT.
    pub aborted: bool,
}

#[derive(Debug, Default)]
pub struct Session {
    pub id: u64,
    pub db: usize,
    pub protocol: Protocol,
    pub authenticated: bool,
    pub name: Option<Bytes>,
    pub multi: Option<MultiState>,
    pub watched: Vec<(usize, Bytes)>,
    pub channels: HashSet<Bytes>,
    pub patterns: HashSet<Bytes>,
    pub shard_channels: HashSet<Bytes>,
    pub reply_mode: ReplyMode,
    /// Set by a blocking command that found nothing to serve.
    pub pending_block: Option<BlockRequest>,
    /// Set by a MIGRATE whose transfer the connection carries out outside the lock.
    pub pending_migrate: Option<Box<super::migrate::MigrateJob>>,
    pub close_after_reply: bool,
    pub is_monitor: bool,
    /// Where its commands come from: a client, our master's stream (applied even on a
    /// read-only replica), or our own log replayed at start-up. Decides what the log takes
    /// of them (`server::propagate`).
    pub source: super::propagate::Source,
    pub lib_name: Option<Bytes>,
    pub lib_ver: Option<Bytes>,
    pub no_evict: bool,
    /// Name of the last command run, for CLIENT LIST's `cmd=`.
    pub last_cmd: &'static str,
    /// The subcommand of the last command, for containers (CLIENT LIST shows `client|list`).
    pub last_subcommand: Option<Bytes>,
    /// What a replica told us with REPLCONF before PSYNC.
    pub replica_handshake: ReplicaHandshake,
    /// Set by PSYNC/SYNC: the connection becomes a replica stream after this batch.
    pub psync_request: Option<PsyncRequest>,
    /// Log offset after this client's last write, for WAIT.
    pub last_write_offset: u64,
}

#[derive(Debug, Default, Clone)]
pub struct ReplicaHandshake {
    pub listening_port: u16,
    pub announced_ip: Option<String>,
    pub capa_eof: bool,
    pub capa_psync2: bool,
    pub capa_zstd: bool,
    /// The replica reads a payload size estimate after `+FULLRESYNC <replid> <offset>`.
    pub capa_size_hint: bool,
    pub rdb_only: bool,
    /// `REPLCONF version` (Valkey 8 and later announce theirs).
    pub announced_version: Option<crate::repl::payload_format::AnnouncedVersion>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PsyncRequest {
    /// As the replica sent it: `?`, or an id to be parsed by the PSYNC decision.
    pub replid: String,
    pub offset: String,
    /// Old-style SYNC: no +FULLRESYNC line, just the payload.
    pub legacy_sync: bool,
}

impl Session {
    pub fn new(id: u64, authenticated: bool) -> Session {
        Session {
            id,
            authenticated,
            ..Session::default()
        }
    }

    /// In RESP2, a client with subscriptions may only run pub/sub commands.
    pub fn in_pubsub_mode(&self) -> bool {
        self.protocol == Protocol::Resp2 && self.total_subscription_count() > 0
    }

    /// Channels and patterns: the count SUBSCRIBE and PSUBSCRIBE replies carry.
    pub fn subscription_count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    /// Every subscription, shard channels included.
    pub fn total_subscription_count(&self) -> usize {
        self.subscription_count() + self.shard_channels.len()
    }

    /// The session's names of one kind.
    pub fn subscriptions_mut(&mut self, kind: Kind) -> &mut HashSet<Bytes> {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard_channels,
        }
    }
}
