//! Diskless full syncs: replicas that arrive during `repl-diskless-sync-delay` join one job;
//! its snapshot is encoded once on a thread of its own and fanned out to every member by the
//! sender thread, which owns their sockets for the length of the payload.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use sluice_rdb::EncoderOptions;
use sluice_rdb::framing::EofMark;
use tokio::sync::mpsc;

use super::{Payload, ReplicaConn, ReplicaEnd};
use crate::config::ReplCompression;
use crate::fanout;
use crate::repl::payload_format::PayloadFormat;
use crate::server::Server;
use crate::server::replication::{ReplicaPhase, SyncFeed, WaitingSync};
use crate::snapshot::view as snapshot;

/// Chunks buffered per member between the encoder thread and the member's socket.
const FEED_CHUNKS: usize = 16;
pub(super) const RDB_CHUNK_BYTES: usize = 1 << 20;

impl ReplicaConn<'_> {
    /// Joins (or starts) the diskless job, keeps the link alive until its snapshot is
    /// taken, then lets the sender write the payload.
    pub(super) async fn diskless_payload(
        &mut self,
        format: PayloadFormat,
    ) -> Result<Payload, ReplicaEnd> {
        let (tx, mut rx) = mpsc::channel(FEED_CHUNKS);
        join_sync(self.server, self.id, tx, format);
        let mut keepalive = tokio::time::interval(Duration::from_secs(1));
        keepalive.tick().await;
        // Until the snapshot is taken, newlines keep the link alive (replicas skip them).
        let start = loop {
            tokio::select! {
                feed = rx.recv() => break feed,
                _ = keepalive.tick() => self.write(b"\n").await?,
                reason = self.kill_switch.tripped() => return Err(ReplicaEnd::Killed(reason)),
            }
        };
        let (replid, offset, size_hint, registrar) = match start {
            Some(SyncFeed::Start {
                replid,
                offset,
                size_hint,
                fanout,
            }) => (replid, offset, size_hint, fanout),
            Some(SyncFeed::Failed(reason)) => return Err(ReplicaEnd::SnapshotFailed(reason)),
            None => return Err(ReplicaEnd::Sync("the job ended before its snapshot".into())),
        };
        let fullresync = self.fullresync_line(replid, offset, Some(size_hint));
        // The sender thread writes everything from here: +FULLRESYNC, the framing and the
        // payload, then gives the socket back.
        self.set_phase(ReplicaPhase::SendBulk);
        let started = Instant::now();
        let bytes = self.send_through_fanout(registrar, fullresync).await?;
        Ok(Payload {
            offset,
            eof_framing: true,
            bytes,
            started,
        })
    }

    /// Hands the replica's socket to the fan-out sender for the payload (+FULLRESYNC line,
    /// `$EOF:` framing, the RDB) and waits for it to give the socket back. Returns the bytes
    /// sent. A kill while the sender holds the socket shuts the socket down, which ends the
    /// member there too.
    async fn send_through_fanout(
        &mut self,
        registrar: fanout::Registrar,
        fullresync: String,
    ) -> Result<u64, ReplicaEnd> {
        use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
        let raw = self.writer.as_ref().as_raw_fd();
        // SAFETY: dup of a descriptor we own; the copy is owned by the OwnedFd.
        let dup = unsafe { libc::dup(raw) };
        if dup < 0 {
            return Err(ReplicaEnd::Io {
                context: "dup of the replica socket",
                source: std::io::Error::last_os_error(),
            });
        }
        // SAFETY: `dup` is a fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(dup) };
        let (window_bytes, framing) = {
            let state = self.server.state.lock();
            // Compressed framing only to replicas that said they take it: stock Redis never
            // does.
            let framing = match state.config.repl_compression {
                ReplCompression::No => fanout::Framing::Plain,
                _ if !self.handshake.capa_zstd => fanout::Framing::Plain,
                ReplCompression::Zstd => fanout::Framing::Frames { always: true },
                ReplCompression::Auto => fanout::Framing::Frames { always: false },
            };
            (state.config.output_limit_replica.hard_bytes, framing)
        };
        let (header, trailer) = framing_around(framing, fullresync);
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        let registered = registrar.register(fanout::Member {
            id: self.id,
            framing,
            fd,
            header,
            trailer,
            window_bytes,
            done: done_tx,
        });
        if !registered {
            return Err(ReplicaEnd::Sync(
                "the sender ended before this replica joined".into(),
            ));
        }
        tokio::select! {
            result = done_rx => match result {
                Ok(Ok(sent)) => Ok(sent),
                Ok(Err(reason)) => Err(ReplicaEnd::Sync(reason)),
                Err(_) => Err(ReplicaEnd::Sync("the sender ended without a result".into())),
            },
            reason = self.kill_switch.tripped() => {
                // SAFETY: shutting down a socket we own; the sender's copy then fails.
                unsafe { libc::shutdown(raw, libc::SHUT_RDWR) };
                Err(ReplicaEnd::Killed(reason))
            }
        }
    }
}

/// What goes before and after the RDB: `+FULLRESYNC`, then `$EOF:<mark>` and the mark again
/// at the end, or the compressed framing's header and end frame.
fn framing_around(framing: fanout::Framing, fullresync: String) -> (Bytes, Bytes) {
    let mark = EofMark::from_random_bytes(rand::random());
    let mut header = BytesMut::from(fullresync.as_bytes());
    let trailer = match framing {
        fanout::Framing::Plain => {
            header.extend_from_slice(&mark.header());
            Bytes::copy_from_slice(&mark.trailer())
        }
        fanout::Framing::Frames { .. } => {
            header.extend_from_slice(&crate::fanout::compressed::header(&mark));
            crate::fanout::compressed::end_frame(&mark)
        }
    };
    (header.freeze(), trailer)
}

/// Adds the replica to a diskless full-sync job: the one gathering members for its payload
/// format, or a new one.
fn join_sync(
    server: &Arc<Server>,
    client_id: u64,
    tx: mpsc::Sender<SyncFeed>,
    format: PayloadFormat,
) {
    let mut state = server.state.lock();
    if let Some(waiting) = state
        .repl
        .waiting_syncs
        .iter_mut()
        .find(|w| w.format == format)
    {
        waiting.members.push((client_id, tx));
        return;
    }
    state.repl.waiting_syncs.push(WaitingSync {
        members: vec![(client_id, tx)],
        created: Instant::now(),
        format,
    });
    let delay = Duration::from_secs(state.config.repl_diskless_sync_delay_seconds);
    drop(state);
    let server = server.clone();
    tokio::spawn(async move {
        // Wait for more replicas to share the snapshot, unless enough already came.
        loop {
            let ready = {
                let state = server.state.lock();
                let max =
                    crate::util::num::usize_from(state.config.repl_diskless_sync_max_replicas);
                match state.repl.waiting_syncs.iter().find(|w| w.format == format) {
                    Some(w) => w.created.elapsed() >= delay || (max > 0 && w.members.len() >= max),
                    None => return,
                }
            };
            if ready {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let members = {
            let mut state = server.state.lock();
            let waiting = &mut state.repl.waiting_syncs;
            match waiting.iter().position(|w| w.format == format) {
                Some(at) => waiting.swap_remove(at).members,
                None => Vec::new(),
            }
        };
        start_job(server, members, format);
    });
}

/// The payload's expected size. Encodes a bounded sample of keys (a few MB at most), so it
/// runs before the encoding starts without holding the lock.
pub(super) fn estimate(snap: &snapshot::Snapshot) -> u64 {
    let started = Instant::now();
    let bytes = snapshot::estimate_encoded_bytes(snap, EncoderOptions::default());
    tracing::debug!(
        bytes,
        micros = crate::util::num::u64_saturating(started.elapsed().as_micros()),
        "estimated the full-sync payload"
    );
    bytes
}

/// Takes the snapshot for the members and encodes it on its own thread, fanned out to
/// every member by the sender.
fn start_job(
    server: Arc<Server>,
    members: Vec<(u64, mpsc::Sender<SyncFeed>)>,
    format: PayloadFormat,
) {
    let (snap, engine, level) = {
        let mut state = server.state.lock();
        let snap = snapshot::take(&mut state);
        // The new replicas do not know the stream's db: the next write selects it again.
        state.repl.log.force_select();
        state.repl.sync_snapshots += 1;
        for (id, _) in &members {
            if let Some(info) = state.repl.replicas.get_mut(id) {
                info.cursor = snap.offset;
            }
        }
        let level = state.config.repl_compression_level;
        (snap, state.repl.io_engine, level)
    };
    let size_hint = estimate(&snap);
    tracing::info!(
        replicas = members.len(),
        ?format,
        keys = snap.keys,
        offset = snap.offset,
        engine = engine.name(),
        size_hint,
        "starting a diskless full-sync snapshot"
    );
    let (mut fanout, registrar) = match fanout::FanOut::start(engine, members.len(), level) {
        Ok(pair) => pair,
        Err(e) => {
            for (_, tx) in &members {
                let _ = tx.try_send(SyncFeed::Failed(format!(
                    "cannot start the sender thread: {e}"
                )));
            }
            return;
        }
    };
    for (_, tx) in &members {
        // The first message into an empty channel always fits, so this never waits (and
        // must not: we are on the async runtime here).
        let _ = tx.try_send(SyncFeed::Start {
            replid: snap.replid,
            offset: snap.offset,
            size_hint,
            fanout: registrar.clone(),
        });
    }
    drop(registrar);
    std::thread::spawn(move || {
        let options = EncoderOptions {
            chunk_size_bytes: RDB_CHUNK_BYTES,
            rdb_version: format.rdb_version(),
            ..EncoderOptions::default()
        };
        // Encoded once; the sender fans each chunk out and paces us by the fastest
        // replica. Nothing left to send to stops the encoding.
        match snapshot::encode(&snap, options, |chunk| fanout.push(chunk)) {
            Ok(_) => fanout.finish(),
            Err(e) => fanout.abort(&e.to_string()),
        }
    });
}
