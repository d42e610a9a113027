//! Replication state, part of the server state: the ids and the log, the replicas attached
//! to us, our link to a master, full-sync jobs, a failover under way. Data and the small
//! rules that only read or change it; `repl/` holds the transitions, `link/` the tasks.

use std::collections::BTreeMap;
use std::time::Instant;

use tokio::sync::mpsc;

use crate::log::{ReplId, ReplIds, ReplLog};

/// Where an attached replica is in its life cycle, with Redis's INFO names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaPhase {
    /// Waiting for its snapshot to start (diskless delay, or another sync in progress).
    WaitBgsave,
    /// Receiving the snapshot.
    SendBulk,
    /// Snapshot sent; waiting for its first ACK before streaming (diskless framing).
    WaitAck,
    /// Streaming the log.
    Online,
}

impl ReplicaPhase {
    /// Past its snapshot: what INFO calls `online`, and what FAILOVER may hand over to.
    pub fn is_online(self) -> bool {
        matches!(self, ReplicaPhase::WaitAck | ReplicaPhase::Online)
    }

    pub fn info_name(self) -> &'static str {
        match self {
            ReplicaPhase::WaitBgsave => "wait_bgsave",
            ReplicaPhase::SendBulk => "send_bulk",
            ReplicaPhase::WaitAck | ReplicaPhase::Online => "online",
        }
    }
}

/// What the master knows about one attached replica.
#[derive(Debug, Clone)]
pub struct ReplicaInfo {
    pub client_id: u64,
    pub ip: String,
    pub listening_port: u16,
    pub phase: ReplicaPhase,
    /// Next log offset this replica's stream will send (bytes already sent up to here).
    pub cursor: u64,
    /// Last offset the replica acknowledged.
    pub ack_offset: u64,
    pub ack_unix_ms: u64,
    pub capa_eof: bool,
    pub capa_psync2: bool,
    pub capa_zstd: bool,
    /// Unix ms since when the replica has been over the soft lag limit.
    pub over_soft_limit_since_ms: Option<u64>,
}

/// The state of our link to a master, when we are a replica.
#[derive(Debug, Clone, Default)]
pub struct MasterLink {
    pub host: String,
    pub port: u16,
    pub status: LinkStatus,
    /// Unix ms of the last byte received from the master.
    pub last_io_unix_ms: u64,
    pub link_down_since_unix_ms: Option<u64>,
    pub sync_in_progress: bool,
    pub sync_total_bytes: i64,
    pub sync_read_bytes: u64,
    pub sync_started_unix_ms: u64,
    /// Why the link last stopped, for INFO and logs.
    pub last_error: Option<String>,
    /// Bytes of the master's stream we have read (may be ahead of what was applied).
    pub read_offset: u64,
    /// PSYNC asks to continue our history (replid and log offset) instead of `PSYNC ? -1`:
    /// false only after a fresh start, until the first sync.
    pub continue_history: bool,
    /// FAILOVER: our PSYNC carries `FAILOVER`, which asks this master (our replica until
    /// now) to promote itself first.
    pub failover: bool,
    /// The link stopped on something continuing cannot get past (a command sluice does not
    /// implement): it waits for a back-off, then asks for a full sync. REPLICAOF to the
    /// same master starts it again at once.
    pub halted: bool,
    /// Halts since the link last streamed for a long while: the back-off grows with them.
    pub consecutive_halts: u32,
    /// When the link last came up (streaming).
    pub up_since_unix_ms: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LinkStatus {
    #[default]
    Down,
    Connecting,
    Handshake,
    Syncing,
    Up,
}

/// Replication state, part of the server state (under its lock).
#[derive(Debug)]
pub struct ReplState {
    pub ids: ReplIds,
    pub log: ReplLog,
    pub replicas: BTreeMap<u64, ReplicaInfo>,
    /// Set when we replicate from a master.
    pub master: Option<MasterLink>,
    /// Bumped on every REPLICAOF so that a link task from an older configuration stops.
    pub master_epoch: u64,
    pub sync_full: u64,
    pub sync_partial_ok: u64,
    pub sync_partial_err: u64,
    /// Snapshots produced for replication (INFO `sync_snapshots`).
    pub sync_snapshots: u64,
    /// A WAIT is pending: the cron sends REPLCONF GETACK to every replica.
    pub getack_requested: bool,
    /// Unix ms of the last PING appended for replicas.
    pub last_ping_unix_ms: u64,
    /// Full syncs gathering replicas (diskless delay) before their snapshot is taken: at
    /// most one per payload format, as one payload serves replicas that load the same one.
    pub waiting_syncs: Vec<WaitingSync>,
    /// The disk-mode snapshot being written, which arriving replicas join.
    pub disk_job: Option<std::sync::Arc<DiskJob>>,
    /// The log on disk; None when it could not be opened (then the log lives in memory only)
    /// and in unit tests.
    pub durable: Option<std::sync::Arc<crate::durable::DurableLog>>,
    /// In-memory part of the log when `durable` holds the rest (`repl-log-hot-size`).
    pub hot_bytes_max: u64,
    /// What moves full-sync payloads (`repl-io-engine`, probed at start-up).
    pub io_engine: crate::fanout::Engine,
    /// FAILOVER under way on this master.
    pub failover: Option<Failover>,
}

impl ReplState {
    pub fn new(backlog_bytes_max: u64) -> ReplState {
        ReplState {
            ids: ReplIds::new_random(),
            log: ReplLog::new(0, backlog_bytes_max),
            replicas: BTreeMap::new(),
            master: None,
            master_epoch: 0,
            sync_full: 0,
            sync_partial_ok: 0,
            sync_partial_err: 0,
            sync_snapshots: 0,
            getack_requested: false,
            last_ping_unix_ms: 0,
            waiting_syncs: Vec::new(),
            disk_job: None,
            durable: None,
            hot_bytes_max: 64 << 20,
            io_engine: crate::fanout::Engine::Poll,
            failover: None,
        }
    }

    /// A FAILOVER is under way (its pause of writes is in `State::pauses`).
    pub fn failing_over(&self) -> bool {
        self.failover.is_some()
    }

    pub fn is_replica(&self) -> bool {
        self.master.is_some()
    }

    /// Offset up to which the log must keep its bytes for attached replicas.
    pub fn lowest_replica_cursor(&self) -> Option<u64> {
        self.replicas.values().map(|r| r.cursor).min()
    }

    /// Offset before the first byte PSYNC and replica streams can still get, from memory or
    /// from the durable log (which holds everything the memory part dropped).
    pub fn log_start(&self) -> u64 {
        let hot = self.log.start_offset();
        match &self.durable {
            Some(d) => hot.min(d.start()),
            None => hot,
        }
    }

    /// Drops what the in-memory log need not keep: with a durable log, everything already
    /// written to it beyond the hot size; without, everything beyond the backlog size that
    /// no attached replica still needs.
    pub fn trim_memory(&mut self) {
        match &self.durable {
            Some(d) => {
                let written = d.written_end();
                self.log.trim(self.hot_bytes_max, Some(written));
                self.log.trim_before(d.start().min(written));
            }
            None => {
                let keep_from = self.lowest_replica_cursor();
                let max = self.log.backlog_bytes_max();
                self.log.trim(max, keep_from);
            }
        }
    }

    /// The ids changed: the durable log records them before anything written after.
    pub fn persist_ids(&self) {
        if let Some(d) = &self.durable {
            d.set_ids(&self.ids);
        }
    }

    /// We stop following a master (REPLICAOF NO ONE): a new history starts at the end of
    /// the log; replicas of the old one continue through replid2.
    pub fn promote(&mut self) {
        let end = self.log.end_offset();
        self.ids.shift(end);
        self.log.set_replid(self.ids.replid);
        self.persist_ids();
    }

    /// Nothing was written since the last ID shift (a restart or a promotion): our data is
    /// exactly replid2's history, which is what we offer a master we follow.
    pub fn history_empty_since_shift(&self) -> bool {
        let end = self.log.end_offset();
        self.ids.offered_history(end).0 != self.ids.replid
    }

    /// Our master continued the history we offered from before our last shift
    /// ([`ids::ReplIds::offered_history`]): that history is ours again.
    #[must_use]
    pub fn resume_previous_history(&mut self, offered: ReplId, offset: u64) -> bool {
        if !self.ids.resume_previous(offered, offset) {
            return false;
        }
        self.log.set_replid(self.ids.replid);
        self.persist_ids();
        true
    }

    /// Our master continued us under a new history (`+CONTINUE <new id>`).
    pub fn adopt_continued(&mut self, new_replid: ReplId, offset: u64) {
        self.ids.adopt_continued(new_replid, offset);
        self.log.set_replid(new_replid);
        self.persist_ids();
    }

    /// A full sync (or a start without usable history): the log restarts at `offset` under
    /// `replid`, with nothing before it. The durable log forgets its records; until the new
    /// data is saved as a snapshot, a restart cannot replay onto anything (`base` says so).
    pub fn restart_history(&mut self, replid: ReplId, offset: u64, stream_db: Option<u32>) {
        self.ids.adopt_full(replid);
        self.log.set_replid(replid);
        self.log.reset(offset);
        self.log.set_stream_db(stream_db);
        if let Some(d) = &self.durable {
            d.reset(crate::durable::meta::LogMeta {
                ids: self.ids.clone(),
                log_start: offset,
                base: crate::durable::meta::LogBase {
                    offset,
                    replid,
                    empty: false,
                },
            });
        }
    }
}

/// What a diskless full-sync job sends each member.
#[derive(Debug)]
pub enum SyncFeed {
    /// The snapshot was taken: the member hands its socket to the fan-out sender, which
    /// writes +FULLRESYNC with these, the framing and the payload.
    Start {
        replid: ReplId,
        offset: u64,
        /// The payload's expected size (see `snapshot::estimate_encoded_bytes`).
        size_hint: u64,
        fanout: crate::fanout::Registrar,
    },
    Failed(String),
}

/// A disk-mode full sync: one RDB file, written once; every replica that waits for it or
/// arrives while it is written reads it at its own cursor, while it grows.
#[derive(Debug)]
pub struct DiskJob {
    pub replid: ReplId,
    pub offset: u64,
    /// The file's expected size, set once estimated (outside the lock, after the job is
    /// created): for `master_sync_perc` on replicas reading it with `$EOF:` framing.
    pub(crate) size_hint: std::sync::OnceLock<u64>,
    /// A handle on the file being written (positional reads: each reader has its cursor).
    pub(crate) file: std::sync::OnceLock<std::fs::File>,
    pub(crate) progress: tokio::sync::watch::Sender<DiskProgress>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct DiskProgress {
    pub(crate) written: u64,
    /// Set once the file is complete (its size) or failed.
    pub(crate) outcome: Option<Result<u64, String>>,
}

impl DiskJob {
    pub fn in_progress(&self) -> bool {
        self.progress.borrow().outcome.is_none()
    }
}

/// A diskless full sync gathering members during the delay.
#[derive(Debug)]
pub struct WaitingSync {
    pub(crate) members: Vec<(u64, mpsc::Sender<SyncFeed>)>,
    pub(crate) created: Instant,
    pub(crate) format: crate::repl::payload_format::PayloadFormat,
}

/// INFO `master_failover_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailoverPhase {
    /// Writes are paused; waiting for the target (or any replica) to catch up.
    WaitingForSync,
    /// We follow the target and sent it `PSYNC … FAILOVER`; waiting for its answer.
    InProgress,
}

impl FailoverPhase {
    pub fn info_name(phase: Option<FailoverPhase>) -> &'static str {
        match phase {
            None => "no-failover",
            Some(FailoverPhase::WaitingForSync) => "waiting-for-sync",
            Some(FailoverPhase::InProgress) => "failover-in-progress",
        }
    }
}

/// A failover under way on this master.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failover {
    /// `TO host port`; otherwise the first replica to catch up is chosen.
    pub requested_target: Option<(String, u16)>,
    pub force: bool,
    pub deadline_unix_ms: Option<u64>,
    pub phase: FailoverPhase,
    /// The replica we hand over to, once chosen.
    pub target: Option<(String, u16)>,
    pub started_unix_ms: u64,
}
