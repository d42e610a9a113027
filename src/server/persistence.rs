//! What the server knows about saving and loading RDB files: the save in progress, the
//! outcome of the last one, the start-up load's progress (INFO persistence, the save rules).
//! Data only: `snapshot/` does the work.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveKind {
    /// SAVE: its caller waits for the reply.
    Foreground,
    /// BGSAVE, the save rules, a replica's copy of a full sync.
    Background,
}

/// A save whose thread is running.
#[derive(Debug)]
pub struct ActiveSave {
    pub kind: SaveKind,
    /// Tells the completion of this save from that of one that was cancelled.
    pub generation: u64,
    pub started: Instant,
    /// `state.dirty` when the snapshot was taken: what a successful save accounts for.
    pub dirty_at_start: u64,
    pub cancel: Arc<AtomicBool>,
    /// The client whose SAVE waits for this one.
    pub waiter: Option<u64>,
}

/// Start-up load in progress, read by INFO without stopping the loader.
#[derive(Debug)]
pub struct LoadingProgress {
    pub started_unix: u64,
    pub started: Instant,
    pub total_bytes: u64,
    pub loaded_bytes: AtomicU64,
}

/// Persistence state for INFO and the save rules (part of the server state).
#[derive(Debug)]
pub struct Persistence {
    pub active: Option<ActiveSave>,
    /// Saves started so far: a save's completion names its generation, so that one that was
    /// cancelled (superseded) is told apart.
    pub generation: u64,
    /// BGSAVE inside a transaction: started by the cron once nothing else runs.
    pub bgsave_scheduled: bool,
    /// Successful saves (INFO `rdb_saves`).
    pub saves: u64,
    pub last_status_ok: bool,
    pub last_bgsave_seconds: i64,
    /// Size of the newest snapshot file written (any kind), for the automatic snapshot
    /// threshold of the durable log.
    pub last_snapshot_bytes: u64,
    /// Unix seconds of the last save attempt, for the retry delay after a failure.
    pub last_try_unix: u64,
    pub last_load_keys_loaded: u64,
    pub last_load_keys_expired: u64,
    pub loading: Option<Arc<LoadingProgress>>,
    /// False in unit tests: States built by the hundred in the source tree must not write
    /// dump.rdb there (FLUSHALL saves when save points are configured, as by default).
    pub disk_enabled: bool,
}

impl Default for Persistence {
    fn default() -> Self {
        Persistence {
            active: None,
            generation: 0,
            bgsave_scheduled: false,
            saves: 0,
            last_status_ok: true,
            last_bgsave_seconds: -1,
            last_snapshot_bytes: 0,
            last_try_unix: 0,
            last_load_keys_loaded: 0,
            last_load_keys_expired: 0,
            loading: None,
            disk_enabled: !cfg!(test),
        }
    }
}
