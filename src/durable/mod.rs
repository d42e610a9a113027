//! The durable replication log: the records of the in-memory log (`log::repl_log`), written to a
//! [`store::LogStore`] (sled) by a thread of its own, in batches, with the replication ids
//! and the replay base in the same atomic batch. The in-memory log is a hot tail; replicas
//! behind it read from here, and a restart replays from the newest snapshot to the durable
//! end (see `recovery` and ARCHITECTURE.md, "Durability").
//!
//! Nothing here takes the server lock: the lock holder may wait for a flush.

// Bytes read back from disk index nothing unchecked.
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

pub mod chunk;
pub mod journal;
pub mod meta;
mod open_check;
pub mod recovery;
pub mod segments;
pub mod sled_store;
pub mod store;
mod writer;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use thiserror::Error;

use crate::log::ReplIds;
use crate::log::record::{Record, RecordError};
use chunk::split_records;
use meta::{LogBase, LogMeta};
use open_check::{Checked, keep_salvageable};
use store::{ChunkId, LogStore, StoreError};

pub use crate::config::FsyncPolicy;

fn fsync_to_u8(policy: FsyncPolicy) -> u8 {
    match policy {
        FsyncPolicy::Always => 0,
        FsyncPolicy::EverySec => 1,
        FsyncPolicy::No => 2,
    }
}

pub(crate) fn fsync_from_u8(v: u8) -> FsyncPolicy {
    match v {
        0 => FsyncPolicy::Always,
        1 => FsyncPolicy::EverySec,
        _ => FsyncPolicy::No,
    }
}

#[derive(Debug, Error, Clone)]
pub enum DurableError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("offset {requested} is no longer in the durable log (it starts at {start})")]
    Trimmed { requested: u64, start: u64 },
    #[error("offset {requested} is beyond the durable log's end ({end})")]
    Beyond { requested: u64, end: u64 },
    #[error("the durable log is damaged at offset {offset}: {reason}")]
    Damaged { offset: u64, reason: String },
    #[error("the log writer has stopped")]
    Stopped,
}

impl From<RecordError> for DurableError {
    fn from(e: RecordError) -> Self {
        let offset = match &e {
            RecordError::Truncated { offset, .. } | RecordError::Crc { offset, .. } => *offset,
            RecordError::BadReplid | RecordError::Damaged(_) => 0,
        };
        DurableError::Damaged {
            offset,
            reason: e.to_string(),
        }
    }
}

/// Which chunks the store holds: start offset → end offset.
pub(crate) type ChunkIndex = BTreeMap<u64, u64>;

/// State shared by the writer thread and readers.
#[derive(Debug)]
pub(crate) struct Shared {
    /// Records up to here are in the store (readable; durable once flushed).
    written_end: AtomicU64,
    /// End of the last record handed to the writer.
    appended_end: AtomicU64,
    /// The writer announces progress here, for appenders waiting for room.
    progress: parking_lot::Condvar,
    progress_lock: Mutex<()>,
    /// Appenders waiting for room: the writer writes its open chunk at once for them.
    waiting_appenders: std::sync::atomic::AtomicUsize,
    durable_end: AtomicU64,
    /// Offset before the first byte the store holds.
    store_start: AtomicU64,
    base_offset: AtomicU64,
    fsync: AtomicU8,
    /// Why the store last failed; writes are refused while set.
    error: Mutex<Option<StoreError>>,
    /// `error.is_some()`, read on every write command without a lock.
    failed: std::sync::atomic::AtomicBool,
    index: Mutex<ChunkIndex>,
    durable_watch: tokio::sync::watch::Sender<u64>,
}

pub(crate) enum Msg {
    Append(Record),
    Ids(ReplIds),
    Base(LogBase),
    /// Chunks wholly below `below` may go; never past the base unless `force` (damage).
    Trim {
        below: u64,
        force: bool,
    },
    /// Forget everything: the log restarts at `meta.log_start` (a replica's full sync).
    Reset(Box<LogMeta>),
    /// Keep only what ends at or before this offset (damage found there).
    Truncate(u64),
    Flush(crossbeam_channel::Sender<Result<u64, StoreError>>),
    Stop,
}

/// What opening the store found.
#[derive(Debug)]
pub struct Opened {
    pub meta: Option<LogMeta>,
    pub start: u64,
    pub end: u64,
    /// Problems found and repaired while opening (logged already).
    pub damage: Vec<String>,
}

/// The handle the server keeps (in `ReplState`).
#[derive(Debug)]
pub struct DurableLog {
    store: Arc<dyn LogStore>,
    shared: Arc<Shared>,
    tx: crossbeam_channel::Sender<Msg>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl DurableLog {
    /// Opens the log on `store` and starts its writer. Damage at the tail (a chunk that does
    /// not decode) is cut off here, so that what the log reports as its end is all readable.
    pub fn open(
        store: Arc<dyn LogStore>,
        fsync: FsyncPolicy,
    ) -> Result<(DurableLog, Opened), StoreError> {
        let Checked {
            meta,
            index,
            start,
            end,
            damage,
            repair,
        } = open_check::check(&*store)?;
        for d in &damage {
            tracing::error!("replication log store: {d}");
        }
        if !repair.is_empty() {
            store.apply(repair)?;
            store.flush()?;
        }
        // Reported once: from here the log's durable end is what survived.
        store.note_durable_end(end);
        let shared = Arc::new(Shared {
            written_end: AtomicU64::new(end),
            appended_end: AtomicU64::new(end),
            progress: parking_lot::Condvar::new(),
            progress_lock: Mutex::new(()),
            waiting_appenders: Default::default(),
            durable_end: AtomicU64::new(end),
            store_start: AtomicU64::new(start),
            base_offset: AtomicU64::new(meta.as_ref().map_or(start, |m| m.base.offset)),
            fsync: AtomicU8::new(fsync_to_u8(fsync)),
            error: Mutex::new(None),
            failed: Default::default(),
            index: Mutex::new(index),
            durable_watch: tokio::sync::watch::Sender::new(end),
        });
        let (tx, rx) = crossbeam_channel::unbounded();
        let writer_meta = meta.clone().unwrap_or_else(|| LogMeta {
            ids: ReplIds::new_random(),
            log_start: start,
            base: LogBase {
                offset: start,
                replid: crate::log::ReplId::ZERO,
                empty: true,
            },
        });
        let thread = writer::spawn(store.clone(), shared.clone(), rx, writer_meta)
            .map_err(|e| StoreError::Refused(format!("cannot start the log writer thread: {e}")))?;
        let log = DurableLog {
            store,
            shared,
            tx,
            thread: Mutex::new(Some(thread)),
        };

        Ok((
            log,
            Opened {
                meta,
                start,
                end,
                damage,
            },
        ))
    }

    /// Hands a record to the writer. When the writer is more than `lag_bytes_max` behind,
    /// waits for it to catch up: the caller holds the server lock, so writes slow down to
    /// what the disk takes instead of the unwritten part growing without bound in memory.
    pub fn append(&self, record: Record, lag_bytes_max: u64) {
        // The writer stores what it is given in order: a record that does not follow the
        // last one would put a hole in the log.
        debug_assert_eq!(
            record.start_offset,
            self.appended_end(),
            "record appended out of order"
        );
        let end = record.end_offset();
        self.shared.appended_end.store(end, Ordering::Release);
        let _ = self.tx.send(Msg::Append(record));
        if self.lag_bytes() <= lag_bytes_max || self.has_error() || self.is_stopped() {
            return;
        }
        let started = std::time::Instant::now();
        self.shared.waiting_appenders.fetch_add(1, Ordering::AcqRel);
        let mut guard = self.shared.progress_lock.lock();
        while self.lag_bytes() > lag_bytes_max && !self.has_error() {
            // Bounded waits: a writer that stopped must not hang the server.
            let timed_out = self
                .shared
                .progress
                .wait_for(&mut guard, Duration::from_millis(100))
                .timed_out();
            if timed_out && self.is_stopped() {
                break;
            }
        }
        drop(guard);
        self.shared.waiting_appenders.fetch_sub(1, Ordering::AcqRel);
        let waited = started.elapsed();
        if waited >= Duration::from_millis(100) {
            tracing::warn!(
                waited_ms = crate::util::num::u64_saturating(waited.as_millis()),
                "writes waited for the replication log to reach the disk (it is {} bytes behind at most)",
                lag_bytes_max
            );
        }
    }

    /// The writer thread is gone (stopped at exit, or ended).
    fn is_stopped(&self) -> bool {
        self.thread.lock().as_ref().is_none_or(|t| t.is_finished())
    }

    /// Bytes handed to the writer and not yet in the store.
    pub fn lag_bytes(&self) -> u64 {
        self.shared
            .appended_end
            .load(Ordering::Acquire)
            .saturating_sub(self.written_end())
    }

    /// Records new ids; they reach the store before any record appended after this call.
    pub fn set_ids(&self, ids: &ReplIds) {
        let _ = self.tx.send(Msg::Ids(ids.clone()));
    }

    /// A snapshot at `base.offset` is complete: the log need not be kept below it for
    /// recovery any more, and a restart replays from it.
    pub fn set_base(&self, base: LogBase) {
        self.shared
            .base_offset
            .store(base.offset, Ordering::Release);
        let _ = self.tx.send(Msg::Base(base));
    }

    pub fn trim(&self, below: u64) {
        let _ = self.tx.send(Msg::Trim {
            below,
            force: false,
        });
    }

    /// A chunk that does not read back (found by a replica stream): everything up to its end
    /// goes, so that the next PSYNC from there gets a full sync instead of the same error.
    pub fn discard_damaged(&self, offset: u64) {
        let end = {
            let index = self.shared.index.lock();
            index.range(..=offset).next_back().map(|(_, end)| *end)
        };
        if let Some(end) = end {
            tracing::error!(
                "replication log damaged at offset {offset}: discarding the log up to {end}"
            );
            let _ = self.tx.send(Msg::Trim {
                below: end,
                force: true,
            });
        }
    }

    pub fn reset(&self, meta: LogMeta) {
        // Appends that follow continue the new log at once, before the writer gets to it.
        self.shared
            .appended_end
            .store(meta.log_start, Ordering::Release);
        let _ = self.tx.send(Msg::Reset(Box::new(meta)));
    }

    pub fn truncate(&self, keep_until: u64) {
        self.shared
            .appended_end
            .fetch_min(keep_until, Ordering::AcqRel);
        let _ = self.tx.send(Msg::Truncate(keep_until));
    }

    /// Flushes everything appended before this call; returns the durable end.
    pub fn flush(&self, timeout: Duration) -> Result<u64, DurableError> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.tx
            .send(Msg::Flush(tx))
            .map_err(|_| DurableError::Stopped)?;
        match rx.recv_timeout(timeout) {
            Ok(result) => Ok(result?),
            Err(_) => Err(DurableError::Stopped),
        }
    }

    /// Stops the writer after it wrote and flushed everything sent before.
    pub fn stop(&self) {
        let _ = self.tx.send(Msg::Stop);
        if let Some(thread) = self.thread.lock().take() {
            let _ = thread.join();
        }
    }

    pub fn set_fsync(&self, policy: FsyncPolicy) {
        self.shared
            .fsync
            .store(fsync_to_u8(policy), Ordering::Relaxed);
    }

    pub fn fsync(&self) -> FsyncPolicy {
        fsync_from_u8(self.shared.fsync.load(Ordering::Relaxed))
    }

    pub fn written_end(&self) -> u64 {
        self.shared.written_end.load(Ordering::Acquire)
    }

    pub fn durable_end(&self) -> u64 {
        self.shared.durable_end.load(Ordering::Acquire)
    }

    pub fn start(&self) -> u64 {
        self.shared.store_start.load(Ordering::Acquire)
    }

    pub fn base_offset(&self) -> u64 {
        self.shared.base_offset.load(Ordering::Acquire)
    }

    /// Why the store last failed, while writes are refused.
    pub fn error(&self) -> Option<StoreError> {
        self.shared.error.lock().clone()
    }

    pub fn has_error(&self) -> bool {
        self.shared.failed.load(Ordering::Relaxed)
    }

    /// End of the last record handed to the writer: what a reply sent now may depend on.
    pub fn appended_end(&self) -> u64 {
        self.shared.appended_end.load(Ordering::Acquire)
    }

    /// Waits until the log is durable up to `offset`: the group commit of `always`, where a
    /// reply waits for the flush that covers the records it depends on. Also returns when
    /// the log no longer reaches `offset` (reset by a full sync, or cut at damage): there is
    /// then nothing left to wait for. With `until_error`, also returns once the store has
    /// failed (a reply that only read: see `net::connection`).
    pub async fn wait_durable(&self, offset: u64, until_error: bool) {
        /// How often a wait that ends on an error looks for one.
        const ERROR_CHECK_INTERVAL: Duration = Duration::from_millis(100);
        let mut durable = self.shared.durable_watch.subscribe();
        loop {
            let done = |end: &u64| *end >= offset || self.appended_end() < offset;
            if done(&durable.borrow_and_update()) || (until_error && self.has_error()) {
                return;
            }
            if !until_error {
                let _ = durable.wait_for(done).await;
                return;
            }
            let _ = tokio::time::timeout(ERROR_CHECK_INTERVAL, durable.changed()).await;
        }
    }

    pub fn subscribe_durable(&self) -> tokio::sync::watch::Receiver<u64> {
        self.shared.durable_watch.subscribe()
    }

    pub fn size_on_disk_bytes(&self) -> u64 {
        self.store.size_on_disk_bytes()
    }

    /// Records from the one containing `from`, about `bytes_max` bytes of them, each checked.
    /// Damage ends the read exactly at the first record that is not intact: the records
    /// before it are returned, and the next read (from the damage) reports it, so that the
    /// log is cut there and not a chunk or a read earlier.
    pub fn read_records(&self, from: u64, bytes_max: usize) -> Result<Vec<Record>, DurableError> {
        let start = self.start();
        let end = self.written_end();
        if from < start {
            return Err(DurableError::Trimmed {
                requested: from,
                start,
            });
        }
        if from > end {
            return Err(DurableError::Beyond {
                requested: from,
                end,
            });
        }
        let keys: Vec<ChunkId> = {
            let index = self.shared.index.lock();
            let first = index.range(..=from).next_back().map(|(k, _)| *k);
            match first {
                None => return Ok(Vec::new()),
                Some(first) => index
                    .range(first..)
                    .map(|(start, end)| ChunkId {
                        start: *start,
                        end: *end,
                    })
                    .take(64)
                    .collect(),
            }
        };
        let mut out: Vec<Record> = Vec::new();
        let mut taken = 0usize;
        let mut failure = None;
        'chunks: for key in keys {
            if taken >= bytes_max {
                break;
            }
            let (records, damage) = match self.chunk_records(key, from) {
                Ok(read) => read,
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            };
            for record in records {
                let expected = out.last().map_or(record.start_offset, Record::end_offset);
                if record.start_offset != expected {
                    failure = Some(DurableError::Damaged {
                        offset: expected,
                        reason: format!(
                            "record at {} follows offset {expected}",
                            record.start_offset
                        ),
                    });
                    break 'chunks;
                }
                taken += record.payload.len();
                out.push(record);
            }
            if let Some(e) = damage {
                failure = Some(e);
                break;
            }
        }
        if let Some(first) = out.first()
            && first.start_offset > from
        {
            return Err(DurableError::Damaged {
                offset: from,
                reason: format!(
                    "the log holds nothing between {from} and {}",
                    first.start_offset
                ),
            });
        }
        match failure {
            Some(e) if out.is_empty() => Err(e),
            _ => Ok(out),
        }
    }

    /// The intact records of chunk `key` that end after `from`, and the damage that ended
    /// them early, if any. A chunk that fails the store's own check (its CRC) still gives
    /// its records that pass their own CRCs, up to the first that does not.
    fn chunk_records(
        &self,
        key: ChunkId,
        from: u64,
    ) -> Result<(Vec<Record>, Option<DurableError>), DurableError> {
        let (value, chunk_damage) = match self.store.chunk(key) {
            Ok(Some(value)) => (value, None),
            // Trimmed meanwhile.
            Ok(None) => {
                return Err(DurableError::Trimmed {
                    requested: from,
                    start: self.start(),
                });
            }
            Err(StoreError::Corrupt(reason)) => match self.store.chunk_unchecked(key) {
                Some(raw) => (raw, Some(reason)),
                None => {
                    return Err(DurableError::Damaged {
                        offset: key.start,
                        reason,
                    });
                }
            },
            Err(e) => return Err(e.into()),
        };
        let (mut records, error) = split_records(&value);
        let mut damage = error.map(|e| e.to_string());
        if let Some(reason) = chunk_damage {
            keep_salvageable(&mut records);
            tracing::error!(
                "replication log chunk {}..{} failed its check ({reason}): {} records before the damage kept",
                key.start,
                key.end,
                records.len()
            );
            damage = Some(damage.unwrap_or(reason));
        }
        let damage = damage.map(|reason| DurableError::Damaged {
            offset: records.last().map_or(key.start, Record::end_offset),
            reason,
        });
        records.retain(|r| r.end_offset() > from);
        Ok((records, damage))
    }

    /// Stream bytes from `from` (as ReplLog::read), read from the store.
    pub fn read(&self, from: u64, bytes_max: usize) -> Result<Vec<Bytes>, DurableError> {
        let records = self.read_records(from, bytes_max)?;
        Ok(records
            .into_iter()
            .map(|r| {
                let skip = crate::util::num::usize_from(from.saturating_sub(r.start_offset));
                r.payload.slice(skip..)
            })
            .collect())
    }
}

impl Drop for DurableLog {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests;
