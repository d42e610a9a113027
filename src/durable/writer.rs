//! The log writer thread: drains what the server sends, packs records into chunks, applies
//! them with the metadata as one batch, and flushes on the configured schedule. A batch the
//! store refuses (a full disk) is kept and retried, in order, so the log never has a hole;
//! meanwhile the error is published and the server refuses writes.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};

use super::chunk::{ChunkBuilder, split_records};
use super::meta::LogMeta;
use super::store::{ChunkId, HistoryCut, LogStore, StoreBatch, StoreError};
use super::{FsyncPolicy, Msg, Shared};

/// Messages taken per batch at most, so that a flush request is never starved.
const MESSAGES_PER_BATCH_MAX: usize = 8192;
const EVERYSEC: Duration = Duration::from_secs(1);
const RETRY_INTERVAL: Duration = Duration::from_millis(500);
const GROUP_COMMIT_WAIT: Duration = Duration::from_millis(10);
/// An open chunk is closed (written) at the latest this long after its first record, so
/// that lagging replicas reading the store and the memory tail's trimming follow closely.
const CHUNK_AGE_MAX: Duration = Duration::from_millis(50);

pub(super) fn spawn(
    store: Arc<dyn LogStore>,
    shared: Arc<Shared>,
    rx: Receiver<Msg>,
    meta: LogMeta,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("repl-log-writer".into())
        .spawn(move || {
            Writer {
                store,
                shared,
                meta,
                meta_dirty: false,
                builder: ChunkBuilder::default(),
                chunk_opened: None,
                queue: VecDeque::new(),
                last_flush: Instant::now(),
                unflushed: false,
            }
            .run(rx)
        })
}

/// Changes not applied yet, with what they do to the index once they are.
#[derive(Default)]
struct Staged {
    batch: StoreBatch,
    /// New chunks, for the index once applied.
    chunks: Vec<ChunkId>,
}

impl Staged {
    fn put(&mut self, (id, value): (ChunkId, bytes::Bytes)) {
        self.batch.puts.push((id, value));
        self.chunks.push(id);
    }
}

fn ids(index: &super::ChunkIndex) -> impl Iterator<Item = ChunkId> + '_ {
    index.iter().map(|(start, end)| ChunkId {
        start: *start,
        end: *end,
    })
}

struct Writer {
    store: Arc<dyn LogStore>,
    shared: Arc<Shared>,
    meta: LogMeta,
    meta_dirty: bool,
    /// The chunk records are being added to, and since when it holds any.
    builder: ChunkBuilder,
    chunk_opened: Option<Instant>,
    queue: VecDeque<Staged>,
    last_flush: Instant,
    unflushed: bool,
}

impl Writer {
    fn run(mut self, rx: Receiver<Msg>) {
        loop {
            let mut wait = if !self.queue.is_empty() {
                RETRY_INTERVAL
            } else if self.unflushed && self.policy() == FsyncPolicy::EverySec {
                EVERYSEC.saturating_sub(self.last_flush.elapsed())
            } else {
                EVERYSEC
            };
            if let Some(opened) = self.chunk_opened {
                wait = wait.min(CHUNK_AGE_MAX.saturating_sub(opened.elapsed()));
            }
            let mut messages = Vec::new();
            match rx.recv_timeout(wait) {
                Ok(msg) => messages.push(msg),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => messages.push(Msg::Stop),
            }
            // Group commit: records come one per client batch, thousands a second. Gathering
            // for a moment turns as many store batches (and wake-ups of this thread, each a
            // syscall for the appender) into a few hundred.
            // With `always` replies wait for the flush, so the flush itself is the gathering
            // moment: records arriving while one runs form the next group.
            if messages
                .first()
                .is_some_and(|m| matches!(m, Msg::Append(_)))
                && self.shared.waiting_appenders.load(Ordering::Acquire) == 0
                && self.policy() != FsyncPolicy::Always
            {
                std::thread::sleep(GROUP_COMMIT_WAIT);
            }
            while messages.len() < MESSAGES_PER_BATCH_MAX {
                match rx.try_recv() {
                    Ok(msg) => messages.push(msg),
                    Err(_) => break,
                }
            }
            let (mut staged, waiters, stop) = self.take(messages);
            let flush_due = match self.policy() {
                FsyncPolicy::Always => true,
                FsyncPolicy::EverySec => self.last_flush.elapsed() >= EVERYSEC,
                FsyncPolicy::No => false,
            };
            // The open chunk closes when it must reach the disk or has been open long
            // enough; otherwise it keeps growing, so that chunks are large (sled stores them
            // as blobs written once, instead of rewriting them inside its tree's nodes).
            let close = stop
                || !waiters.is_empty()
                || flush_due
                || self.shared.waiting_appenders.load(Ordering::Acquire) > 0
                || self
                    .chunk_opened
                    .is_some_and(|opened| opened.elapsed() >= CHUNK_AGE_MAX);
            if close && let Some(chunk) = self.builder.take() {
                staged.put(chunk);
                self.chunk_opened = None;
            }
            if !staged.batch.is_empty() {
                self.queue.push_back(staged);
            }
            self.apply_queue();
            let result = if self.queue.is_empty()
                && self.unflushed
                && (flush_due || stop || !waiters.is_empty())
            {
                self.flush()
            } else if let Some(error) = self.shared.error.lock().clone() {
                Err(error)
            } else {
                Ok(())
            };
            let durable = self.shared.durable_end.load(Ordering::Acquire);
            for waiter in waiters {
                let _ = waiter.send(result.clone().map(|()| durable));
            }
            if stop {
                if !self.queue.is_empty() {
                    tracing::error!(
                        "replication log writer stopping with {} batches the store refused",
                        self.queue.len()
                    );
                } else if let Err(e) = self.store.checkpoint() {
                    // Everything is durable already; only the next open does more work.
                    tracing::warn!("replication log checkpoint at stop failed: {e}");
                }
                return;
            }
        }
    }

    fn policy(&self) -> FsyncPolicy {
        super::fsync_from_u8(self.shared.fsync.load(Ordering::Relaxed))
    }

    /// Turns messages into a staged batch, returning it with the flush waiters and whether
    /// to stop. Records go into the open chunk; full chunks are staged.
    fn take(
        &mut self,
        messages: Vec<Msg>,
    ) -> (
        Staged,
        Vec<crossbeam_channel::Sender<Result<u64, StoreError>>>,
        bool,
    ) {
        let mut waiters = Vec::new();
        let mut stop = false;
        let mut staged = Staged::default();
        for msg in messages {
            match msg {
                Msg::Append(record) => match self.builder.push(&record) {
                    Some(chunk) => {
                        staged.put(chunk);
                        self.chunk_opened = None;
                    }
                    None => {
                        self.chunk_opened.get_or_insert_with(Instant::now);
                    }
                },
                Msg::Ids(ids) => {
                    self.meta.ids = ids;
                    self.meta_dirty = true;
                }
                Msg::Base(base) => {
                    self.meta.base = base;
                    self.meta_dirty = true;
                }
                Msg::Trim { below, force } => self.trim(below, force, &mut staged),
                Msg::Reset(meta) => {
                    self.builder = ChunkBuilder::default();
                    self.chunk_opened = None;
                    staged.batch.puts.clear();
                    staged.chunks.clear();
                    // Cuts of the batches dropped here are superseded by this reset.
                    staged.batch.cuts = vec![HistoryCut::Reset];
                    self.queue.clear();
                    let mut index = self.shared.index.lock();
                    staged.batch.removes.extend(ids(&index));
                    index.clear();
                    self.meta = *meta;
                    self.meta_dirty = true;
                    let start = self.meta.log_start;
                    self.shared.store_start.store(start, Ordering::Release);
                    self.shared.written_end.store(start, Ordering::Release);
                    // `appended_end` was moved by `DurableLog::reset` itself: appends after
                    // the reset may already have moved it further.
                    self.shared.durable_end.store(start, Ordering::Release);
                    self.shared
                        .base_offset
                        .store(self.meta.base.offset, Ordering::Release);
                    // Replies waiting for offsets of the forgotten history stop waiting.
                    self.shared.durable_watch.send_replace(start);
                    self.unflushed = true;
                }
                Msg::Truncate(keep_until) => {
                    if let Some(chunk) = self.builder.take() {
                        staged.put(chunk);
                        self.chunk_opened = None;
                    }
                    self.truncate(keep_until, &mut staged);
                }
                Msg::Flush(tx) => waiters.push(tx),
                Msg::Stop => stop = true,
            }
        }
        if self.meta_dirty {
            staged.batch.meta = Some(self.meta.encode());
            self.meta_dirty = false;
        }
        (staged, waiters, stop)
    }

    /// Drops chunks that end at or below `below`, never past the replay base.
    fn trim(&mut self, below: u64, force: bool, staged: &mut Staged) {
        let limit = if force {
            below
        } else {
            below.min(self.meta.base.offset)
        };
        let mut index = self.shared.index.lock();
        let doomed: Vec<ChunkId> = ids(&index).take_while(|id| id.end <= limit).collect();
        if doomed.is_empty() {
            return;
        }
        let mut new_start = 0;
        for id in &doomed {
            index.remove(&id.start);
            new_start = id.end;
        }
        staged.batch.removes.extend(doomed);
        let new_start = index.keys().next().copied().unwrap_or(new_start);
        self.shared.store_start.store(new_start, Ordering::Release);
        self.meta.log_start = new_start;
        self.meta_dirty = true;
    }

    /// Cuts the log after `keep_until`: later chunks go, the chunk across it is rewritten
    /// with its records that end at or before it.
    fn truncate(&mut self, keep_until: u64, staged: &mut Staged) {
        // Queued batches hold records beyond what was applied: they follow the cut.
        let queued_cuts: Vec<HistoryCut> =
            self.queue.drain(..).flat_map(|s| s.batch.cuts).collect();
        staged.batch.cuts.splice(0..0, queued_cuts);
        staged.batch.puts.clear();
        staged.chunks.clear();
        staged.batch.cuts.push(HistoryCut::Truncate { keep_until });
        let mut index = self.shared.index.lock();
        let doomed: Vec<ChunkId> = ids(&index).filter(|id| id.end > keep_until).collect();
        for id in &doomed {
            index.remove(&id.start);
            staged.batch.removes.push(*id);
        }
        // A damaged chunk still gives its records that pass their own CRCs.
        let straddling =
            doomed
                .first()
                .filter(|id| id.start < keep_until)
                .and_then(|id| match self.store.chunk(*id) {
                    Ok(value) => value,
                    Err(_) => self.store.chunk_unchecked(*id),
                });
        if let Some(value) = straddling {
            let (records, _) = split_records(&value);
            let mut builder = ChunkBuilder::default();
            for record in records.iter().filter(|r| r.end_offset() <= keep_until) {
                if let Some(chunk) = builder.push(record) {
                    index.insert(chunk.0.start, chunk.0.end);
                    staged.put(chunk);
                }
            }
            if let Some(chunk) = builder.take() {
                index.insert(chunk.0.start, chunk.0.end);
                staged.put(chunk);
            }
        }
        let end = index.values().next_back().copied().unwrap_or(keep_until);
        let start = index.keys().next().copied().unwrap_or(end);
        drop(index);
        // The rewritten chunks are already in the index: applying must not add them again.
        staged.chunks.clear();
        self.shared.written_end.store(end, Ordering::Release);
        let durable = self.shared.durable_end.load(Ordering::Acquire).min(end);
        self.shared.durable_end.store(durable, Ordering::Release);
        // `appended_end` was cut by `DurableLog::truncate` itself.
        self.shared.durable_watch.send_replace(durable);
        self.shared.store_start.store(start, Ordering::Release);
        self.meta.log_start = start;
        self.meta_dirty = true;
        self.unflushed = true;
    }

    fn apply_queue(&mut self) {
        while let Some(staged) = self.queue.front() {
            match self.store.apply(staged.batch.clone()) {
                Ok(()) => {
                    let staged = self.queue.pop_front().unwrap_or_default();
                    let mut index = self.shared.index.lock();
                    for id in &staged.chunks {
                        // Chunks extend the index at its end: it never has a hole.
                        debug_assert!(
                            index
                                .values()
                                .next_back()
                                .is_none_or(|&end| end == id.start),
                            "chunk {}..{} does not follow the index's end",
                            id.start,
                            id.end
                        );
                        index.insert(id.start, id.end);
                    }
                    if let Some(id) = staged.chunks.last() {
                        self.shared.written_end.store(id.end, Ordering::Release);
                    }
                    drop(index);
                    let _guard = self.shared.progress_lock.lock();
                    self.shared.progress.notify_all();
                    self.unflushed = true;
                    self.clear_error();
                }
                Err(e) => {
                    let mut error = self.shared.error.lock();
                    if error.is_none() {
                        tracing::error!(
                            "cannot write the replication log: {e}; writes are refused until it can"
                        );
                    }
                    *error = Some(e.clone());
                    self.shared.failed.store(true, Ordering::Relaxed);
                    return;
                }
            }
        }
    }

    fn clear_error(&self) {
        if self.shared.error.lock().take().is_some() {
            self.shared.failed.store(false, Ordering::Relaxed);
            tracing::info!("replication log store writable again: writes are accepted");
        }
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        let end = self.shared.written_end.load(Ordering::Acquire);
        match self.store.flush() {
            Ok(()) => {
                self.last_flush = Instant::now();
                self.unflushed = false;
                self.shared.durable_end.store(end, Ordering::Release);
                self.shared.durable_watch.send_replace(end);
                self.store.note_durable_end(end);
                self.clear_error();
                Ok(())
            }
            Err(e) => {
                let mut error = self.shared.error.lock();
                if error.is_none() {
                    tracing::error!(
                        "cannot flush the replication log: {e}; writes are refused until it can"
                    );
                }
                *error = Some(e.clone());
                self.shared.failed.store(true, Ordering::Relaxed);
                Err(e)
            }
        }
    }
}
