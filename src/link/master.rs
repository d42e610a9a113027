//! The master side: a connection that sent PSYNC or SYNC becomes a replica stream.
//!
//! Full syncs are jobs: replicas that arrive during `repl-diskless-sync-delay` join the
//! waiting job and share one snapshot, encoded once on its own thread and fanned out to
//! every member. With `repl-diskless-sync no` the job writes one RDB file that each member
//! then sends with `$<len>` framing. After the payload each replica streams the log from the
//! snapshot's offset; a PSYNC that the log can satisfy streams from the replica's offset.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use sluice_rdb::EncoderOptions;
use sluice_rdb::framing::{EofMark, length_header};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;

use crate::config::ReplCompression;
use crate::fanout;
use crate::log::ReplId;
use crate::log::psync::{self, FullResyncReason, PsyncDecision};
use crate::resp::parse::{ParseLimits, RequestParser};
use crate::server::clients::KillSwitch;
use crate::server::replication::{
    DiskJob, DiskProgress, ReplicaInfo, ReplicaPhase, SyncFeed, WaitingSync,
};
use crate::server::session::{PsyncRequest, ReplicaHandshake};
use crate::server::{Server, unix_time_ms};
use crate::snapshot::view as snapshot;

/// Bytes of log handed to a replica socket per lock acquisition.
const STREAM_READ_BYTES: usize = 1 << 20;
/// Chunks buffered per member between the encoder thread and the member's socket.
const FEED_CHUNKS: usize = 16;
const RDB_CHUNK_BYTES: usize = 1 << 20;
/// Serves one replica connection until it closes; returns the reason.
#[allow(clippy::too_many_arguments)]
pub async fn serve_replica(
    server: Arc<Server>,
    client_id: u64,
    peer_ip: String,
    reader: &mut OwnedReadHalf,
    writer: &mut OwnedWriteHalf,
    input: &mut BytesMut,
    handshake: ReplicaHandshake,
    request: PsyncRequest,
    kill_switch: Arc<KillSwitch>,
) -> String {
    let decision = {
        let mut state = server.state.lock();
        state.seal_log();
        let decision = psync::decide(
            &request.replid,
            &request.offset,
            &state.repl.ids,
            state.repl.log_start(),
            state.repl.log.end_offset(),
        );
        let decision = if request.legacy_sync {
            PsyncDecision::FullResync(FullResyncReason::Requested)
        } else {
            decision
        };
        let ip = handshake.announced_ip.clone().unwrap_or(peer_ip);
        let (phase, cursor) = match decision {
            PsyncDecision::Continue { from } => (ReplicaPhase::Online, from),
            PsyncDecision::FullResync(_) => (ReplicaPhase::WaitBgsave, state.repl.log.end_offset()),
        };
        state.repl.replicas.insert(
            client_id,
            ReplicaInfo {
                client_id,
                ip,
                listening_port: handshake.listening_port,
                phase,
                cursor,
                ack_offset: 0,
                ack_unix_ms: unix_time_ms(),
                capa_eof: handshake.capa_eof,
                capa_psync2: handshake.capa_psync2,
                capa_zstd: handshake.capa_zstd,
                over_soft_limit_since_ms: None,
            },
        );
        if let Some(c) = state.clients.get_mut(client_id) {
            c.flags = "S".into();
        }
        match &decision {
            PsyncDecision::Continue { .. } => state.repl.sync_partial_ok += 1,
            PsyncDecision::FullResync(reason) => {
                state.repl.sync_full += 1;
                if *reason != FullResyncReason::Requested {
                    state.repl.sync_partial_err += 1;
                }
            }
        }
        decision
    };
    let result = match decision {
        PsyncDecision::Continue { from } => {
            tracing::info!(
                replica = client_id,
                offset = from,
                "partial resynchronization accepted (+CONTINUE)"
            );
            let replid = server.state.lock().repl.ids.replid;
            let line = if handshake.capa_psync2 {
                format!("+CONTINUE {replid}\r\n")
            } else {
                "+CONTINUE\r\n".to_string()
            };
            match writer.write_all(line.as_bytes()).await {
                Ok(()) => {
                    stream(
                        &server,
                        client_id,
                        reader,
                        writer,
                        input,
                        from,
                        &kill_switch,
                    )
                    .await
                }
                Err(e) => format!("write error: {e}"),
            }
        }
        PsyncDecision::FullResync(reason) => {
            tracing::info!(replica = client_id, ?reason, "full resynchronization");
            full_sync(
                &server,
                client_id,
                &handshake,
                &request,
                reader,
                writer,
                input,
                &kill_switch,
            )
            .await
        }
    };
    server.state.lock().repl.replicas.remove(&client_id);
    tracing::info!(replica = client_id, "replica stream closed: {result}");
    result
}

#[allow(clippy::too_many_arguments)]
async fn full_sync(
    server: &Arc<Server>,
    client_id: u64,
    handshake: &ReplicaHandshake,
    request: &PsyncRequest,
    reader: &mut OwnedReadHalf,
    writer: &mut OwnedWriteHalf,
    input: &mut BytesMut,
    kill_switch: &Arc<KillSwitch>,
) -> String {
    let diskless = server.state.lock().config.repl_diskless_sync && handshake.capa_eof;
    if !diskless {
        return disk_sync(
            server,
            client_id,
            handshake,
            request,
            reader,
            writer,
            input,
            kill_switch,
        )
        .await;
    }
    let (tx, mut rx) = mpsc::channel(FEED_CHUNKS);
    join_sync(server, client_id, tx);
    let mut keepalive = tokio::time::interval(Duration::from_secs(1));
    keepalive.tick().await;
    // Until the snapshot is taken, newlines keep the link alive (replicas skip them).
    let start = loop {
        tokio::select! {
            feed = rx.recv() => break feed,
            _ = keepalive.tick() => {
                if let Err(e) = writer.write_all(b"\n").await {
                    return format!("write error: {e}");
                }
            }
            reason = kill_switch.tripped() => return reason,
        }
    };
    let (replid, offset, size_hint, registrar) = match start {
        Some(SyncFeed::Start {
            replid,
            offset,
            size_hint,
            fanout,
        }) => (replid, offset, Some(size_hint), fanout),
        Some(SyncFeed::Failed(reason)) => return format!("snapshot failed: {reason}"),
        None => return "full sync job ended before its snapshot".into(),
    };
    let fullresync = if request.legacy_sync {
        String::new()
    } else {
        fullresync_line(
            replid,
            offset,
            size_hint.filter(|_| handshake.capa_size_hint),
        )
    };
    // The sender thread writes everything from here: +FULLRESYNC, the framing and the
    // payload, then gives the socket back.
    set_phase(server, client_id, ReplicaPhase::SendBulk);
    let started = Instant::now();
    let sent = match send_through_fanout(
        server,
        client_id,
        writer,
        registrar,
        fullresync,
        handshake.capa_zstd,
        kill_switch,
    )
    .await
    {
        Ok(sent) => sent,
        Err(reason) => return reason,
    };
    log_sent(client_id, sent, started, offset);
    if handshake.rdb_only {
        // `REPLCONF rdb-only 1` (redis-cli --rdb): the snapshot is all it wants.
        return "rdb-only replica: snapshot sent".into();
    }
    // A replica detects the end of an $EOF payload by its last bytes, so nothing may
    // follow until it acknowledged (as Redis 7.0 does).
    set_phase(server, client_id, ReplicaPhase::WaitAck);
    if let Err(reason) = wait_first_ack(server, client_id, reader, input, kill_switch).await {
        return reason;
    }
    set_phase(server, client_id, ReplicaPhase::Online);
    stream(
        server,
        client_id,
        reader,
        writer,
        input,
        offset,
        kill_switch,
    )
    .await
}

/// `+FULLRESYNC <replid> <offset>`, with the payload's expected size after it for replicas
/// that announced `capa size-hint` (a stock Redis would ignore it too, but is never sent it).
fn fullresync_line(replid: ReplId, offset: u64, size_hint: Option<u64>) -> String {
    match size_hint {
        Some(hint) => format!("+FULLRESYNC {replid} {offset} {hint}\r\n"),
        None => format!("+FULLRESYNC {replid} {offset}\r\n"),
    }
}

fn log_sent(client_id: u64, sent: u64, started: Instant, offset: u64) {
    let seconds = started.elapsed().as_secs_f64();
    tracing::info!(
        replica = client_id,
        bytes = sent,
        seconds,
        mb_per_s = sent as f64 / 1e6 / seconds.max(1e-9),
        "full sync payload sent; streaming from offset {offset}"
    );
}

/// Disk mode: joins the file being written (or starts one) and sends it while it grows:
/// `$EOF:` framing to replicas that take it (the length is not known yet), `$<len>` once
/// the file is complete to those that do not.
#[allow(clippy::too_many_arguments)]
async fn disk_sync(
    server: &Arc<Server>,
    client_id: u64,
    handshake: &ReplicaHandshake,
    request: &PsyncRequest,
    reader: &mut OwnedReadHalf,
    writer: &mut OwnedWriteHalf,
    input: &mut BytesMut,
    kill_switch: &Arc<KillSwitch>,
) -> String {
    let job = match join_disk_job(server, client_id) {
        Ok(job) => job,
        Err(reason) => return reason,
    };
    if !request.legacy_sync {
        let hint = job.size_hint.get().copied();
        let line = fullresync_line(
            job.replid,
            job.offset,
            hint.filter(|_| handshake.capa_size_hint && handshake.capa_eof),
        );
        if let Err(e) = writer.write_all(line.as_bytes()).await {
            return format!("write error: {e}");
        }
    }
    let mut progress = job.progress.subscribe();
    let mut keepalive = tokio::time::interval(Duration::from_secs(1));
    keepalive.tick().await;
    let eof_framing = handshake.capa_eof;
    let mark = EofMark::from_random_bytes(rand::random());
    let total = if eof_framing {
        None
    } else {
        // The length goes first: wait for the file, with newlines as keepalives (as Redis
        // sends them during its BGSAVE).
        loop {
            let outcome = progress.borrow_and_update().outcome.clone();
            match outcome {
                Some(Ok(total)) => break Some(total),
                Some(Err(reason)) => return format!("snapshot failed: {reason}"),
                None => {}
            }
            tokio::select! {
                changed = progress.changed() => if changed.is_err() {
                    return "the snapshot job ended".into();
                },
                _ = keepalive.tick() => {
                    if let Err(e) = writer.write_all(b"\n").await {
                        return format!("write error: {e}");
                    }
                }
                reason = kill_switch.tripped() => return reason,
            }
        }
    };
    let header = match total {
        Some(total) => length_header(total).to_vec(),
        None => mark.header().to_vec(),
    };
    if let Err(e) = writer.write_all(&header).await {
        return format!("write error: {e}");
    }
    set_phase(server, client_id, ReplicaPhase::SendBulk);
    let started = Instant::now();
    let mut buf = vec![0u8; RDB_CHUNK_BYTES];
    let mut sent = 0u64;
    loop {
        let now = progress.borrow_and_update().clone();
        if sent < now.written {
            let want = ((now.written - sent) as usize).min(buf.len());
            let Some(file) = job.file.get() else {
                return "snapshot file missing".into();
            };
            let n = match std::os::unix::fs::FileExt::read_at(file, &mut buf[..want], sent) {
                Ok(0) => return "snapshot file shorter than written".into(),
                Ok(n) => n,
                Err(e) => return format!("reading the snapshot file: {e}"),
            };
            tokio::select! {
                written = writer.write_all(&buf[..n]) => if let Err(e) = written {
                    return format!("write error during full sync: {e}");
                },
                reason = kill_switch.tripped() => return reason,
            }
            sent += n as u64;
            log_progress(client_id, sent, total, started);
            continue;
        }
        match now.outcome {
            Some(Ok(_)) => break,
            Some(Err(reason)) => return format!("snapshot failed: {reason}"),
            None => {}
        }
        tokio::select! {
            changed = progress.changed() => if changed.is_err() {
                return "the snapshot job ended".into();
            },
            reason = kill_switch.tripped() => return reason,
        }
    }
    if eof_framing {
        if let Err(e) = writer.write_all(&mark.trailer()).await {
            return format!("write error: {e}");
        }
        log_sent(client_id, sent, started, job.offset);
        if handshake.rdb_only {
            return "rdb-only replica: snapshot sent".into();
        }
        set_phase(server, client_id, ReplicaPhase::WaitAck);
        if let Err(reason) = wait_first_ack(server, client_id, reader, input, kill_switch).await {
            return reason;
        }
    } else {
        log_sent(client_id, sent, started, job.offset);
        if handshake.rdb_only {
            return "rdb-only replica: snapshot sent".into();
        }
    }
    set_phase(server, client_id, ReplicaPhase::Online);
    stream(
        server,
        client_id,
        reader,
        writer,
        input,
        job.offset,
        kill_switch,
    )
    .await
}

/// The disk snapshot being written, joined; or a new one. The replica's cursor is set to
/// the snapshot's offset, so the log keeps what it will stream after the file.
fn join_disk_job(server: &Arc<Server>, client_id: u64) -> Result<Arc<DiskJob>, String> {
    let mut state = server.state.lock();
    if let Some(job) = state.repl.disk_job.clone()
        && job.in_progress()
    {
        if let Some(info) = state.repl.replicas.get_mut(&client_id) {
            info.cursor = job.offset;
        }
        tracing::info!(
            replica = client_id,
            offset = job.offset,
            written = job.progress.borrow().written,
            "joining the disk snapshot being written: reading it from byte 0"
        );
        return Ok(job);
    }
    let snap = snapshot::take(&mut state);
    state.repl.log.force_select();
    state.repl.sync_snapshots += 1;
    if let Some(info) = state.repl.replicas.get_mut(&client_id) {
        info.cursor = snap.offset;
    }
    let job = Arc::new(DiskJob {
        replid: snap.replid,
        offset: snap.offset,
        size_hint: std::sync::OnceLock::new(),
        file: std::sync::OnceLock::new(),
        progress: tokio::sync::watch::Sender::new(DiskProgress::default()),
    });
    state.repl.disk_job = Some(job.clone());
    let path = crate::snapshot::save::rdb_path(&state.config);
    let through_ring = state.repl.io_engine == fanout::Engine::IoUring;
    drop(state);
    let size_hint = estimate(&snap);
    let _ = job.size_hint.set(size_hint);
    tracing::info!(
        keys = snap.keys,
        offset = snap.offset,
        through_ring,
        size_hint,
        "starting a disk snapshot for full syncs"
    );
    let writer_job = job.clone();
    let server = server.clone();
    let spawned = std::thread::Builder::new()
        .name("sync-rdb-file".into())
        .spawn(move || {
            let options = EncoderOptions {
                chunk_size_bytes: RDB_CHUNK_BYTES,
                ..EncoderOptions::default()
            };
            // The file goes through a ring of its own when the sender uses io_uring.
            let mut ring = through_ring
                .then(|| fanout::RingWriter::new().ok())
                .flatten();
            let result = crate::snapshot::save::write_observed(
                &snap,
                options,
                &path,
                None,
                ring.as_mut(),
                |file| {
                    let handle = file
                        .try_clone()
                        .map_err(|e| format!("a handle on the snapshot file: {e}"))?;
                    let _ = writer_job.file.set(handle);
                    Ok(())
                },
                |written| {
                    writer_job.progress.send_modify(|p| p.written = written);
                },
            );
            let written = result.as_ref().ok().copied();
            writer_job
                .progress
                .send_modify(|p| p.outcome = Some(result));
            let mut state = server.state.lock();
            if let Some(bytes) = written {
                state.persistence.last_snapshot_bytes = bytes;
            }
            if state
                .repl
                .disk_job
                .as_ref()
                .is_some_and(|j| Arc::ptr_eq(j, &writer_job))
            {
                state.repl.disk_job = None;
            }
        });
    if let Err(e) = spawned {
        let reason = format!("cannot start the snapshot thread: {e}");
        job.progress
            .send_modify(|p| p.outcome = Some(Err(reason.clone())));
        return Err(reason);
    }
    Ok(job)
}

fn log_progress(client_id: u64, sent: u64, total: Option<u64>, started: Instant) {
    const EVERY_BYTES: u64 = 64 << 20;
    if sent / EVERY_BYTES == (sent.saturating_sub(RDB_CHUNK_BYTES as u64)) / EVERY_BYTES {
        return;
    }
    let seconds = started.elapsed().as_secs_f64().max(1e-9);
    match total {
        Some(total) if total > 0 => tracing::info!(
            replica = client_id,
            bytes = sent,
            mb_per_s = sent as f64 / 1e6 / seconds,
            percent = sent as f64 * 100.0 / total as f64,
            "full sync progress"
        ),
        _ => tracing::info!(
            replica = client_id,
            bytes = sent,
            mb_per_s = sent as f64 / 1e6 / seconds,
            "full sync progress"
        ),
    }
}

fn set_phase(server: &Server, client_id: u64, phase: ReplicaPhase) {
    if let Some(info) = server.state.lock().repl.replicas.get_mut(&client_id) {
        info.phase = phase;
    }
}

/// Adds the replica to a diskless full-sync job: the one gathering members, or a new one.
fn join_sync(server: &Arc<Server>, client_id: u64, tx: mpsc::Sender<SyncFeed>) {
    let mut state = server.state.lock();
    if let Some(waiting) = state.repl.waiting_sync.as_mut() {
        waiting.members.push((client_id, tx));
        return;
    }
    state.repl.waiting_sync = Some(WaitingSync {
        members: vec![(client_id, tx)],
        created: Instant::now(),
    });
    let delay = Duration::from_secs(state.config.repl_diskless_sync_delay_seconds);
    drop(state);
    let server = server.clone();
    tokio::spawn(async move {
        // Wait for more replicas to share the snapshot, unless enough already came.
        loop {
            let ready = {
                let state = server.state.lock();
                let max = state.config.repl_diskless_sync_max_replicas as usize;
                match &state.repl.waiting_sync {
                    Some(w) => w.created.elapsed() >= delay || (max > 0 && w.members.len() >= max),
                    None => return,
                }
            };
            if ready {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let members = server
            .state
            .lock()
            .repl
            .waiting_sync
            .take()
            .map(|w| w.members)
            .unwrap_or_default();
        start_job(server, members);
    });
}

/// The payload's expected size. Encodes a bounded sample of keys (a few MB at most), so it
/// runs before the encoding starts without holding the lock.
fn estimate(snap: &snapshot::Snapshot) -> u64 {
    let started = Instant::now();
    let bytes = snapshot::estimate_encoded_bytes(snap, EncoderOptions::default());
    tracing::debug!(
        bytes,
        micros = started.elapsed().as_micros() as u64,
        "estimated the full-sync payload"
    );
    bytes
}

/// Takes the snapshot for the members and encodes it on its own thread, fanned out to
/// every member by the sender.
fn start_job(server: Arc<Server>, members: Vec<(u64, mpsc::Sender<SyncFeed>)>) {
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

/// Reads replica input until the first REPLCONF ACK.
async fn wait_first_ack(
    server: &Server,
    client_id: u64,
    reader: &mut OwnedReadHalf,
    input: &mut BytesMut,
    kill_switch: &KillSwitch,
) -> Result<(), String> {
    let timeout = Duration::from_secs(server.state.lock().config.repl_timeout_seconds.max(1));
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if process_acks(server, client_id, input)? {
            return Ok(());
        }
        tokio::select! {
            read = reader.read_buf(input) => match read {
                Ok(0) => return Err("replica closed the connection".into()),
                Ok(_) => {}
                Err(e) => return Err(format!("read error: {e}")),
            },
            _ = tokio::time::sleep_until(deadline) => return Err("timeout waiting for the replica's first ACK".into()),
            reason = kill_switch.tripped() => return Err(reason),
        }
    }
}

/// Applies every complete REPLCONF ACK in `input`; true if at least one was seen.
fn process_acks(server: &Server, client_id: u64, input: &mut BytesMut) -> Result<bool, String> {
    let mut parser = RequestParser::default();
    let limits = ParseLimits {
        bulk_len_max: 1024,
        ..ParseLimits::default()
    };
    let mut acked = false;
    loop {
        let argv = match parser.parse(input, &limits) {
            Ok(Some(argv)) => argv,
            Ok(None) => break,
            Err(e) => return Err(format!("protocol error from replica: {e}")),
        };
        if argv.len() >= 3
            && argv[0].eq_ignore_ascii_case(b"replconf")
            && argv[1].eq_ignore_ascii_case(b"ack")
        {
            let Some(offset) = std::str::from_utf8(&argv[2])
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
            else {
                continue;
            };
            let mut state = server.state.lock();
            if let Some(info) = state.repl.replicas.get_mut(&client_id) {
                info.ack_offset = info.ack_offset.max(offset);
                info.ack_unix_ms = unix_time_ms();
            }
            crate::repl::wait::serve_waiters(&mut state);
            acked = true;
        }
        // Anything else from a replica (PING, REPLCONF options) needs no answer.
    }
    Ok(acked)
}

/// Streams the log from `cursor` and reads ACKs, until the replica goes away or falls too
/// far behind.
async fn stream(
    server: &Arc<Server>,
    client_id: u64,
    reader: &mut OwnedReadHalf,
    writer: &mut OwnedWriteHalf,
    input: &mut BytesMut,
    mut cursor: u64,
    kill_switch: &KillSwitch,
) -> String {
    let mut offsets = server.repl_offset.subscribe();
    let durable = server.state.lock().repl.durable.clone();
    let mut durable_offsets = durable.as_ref().map(|d| d.subscribe_durable());
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        // Send everything available.
        loop {
            let read = {
                let mut state = server.state.lock();
                let end = state.repl.log.end_offset();
                let hard = state.config.output_limit_replica.hard_bytes;
                if hard > 0 && end.saturating_sub(cursor) > hard {
                    return format!(
                        "replica is {} bytes behind, over client-output-buffer-limit replica ({hard})",
                        end - cursor
                    );
                }
                // repl-ship-durable: only what survives our own crash, so that every replica
                // can continue from a restarted us.
                let until = match (&state.repl.durable, state.config.repl_ship_durable) {
                    (Some(d), true) => d.durable_end(),
                    _ => u64::MAX,
                };
                if let Some(info) = state.repl.replicas.get_mut(&client_id) {
                    info.cursor = cursor;
                }
                match state.repl.log.read_until(cursor, until, STREAM_READ_BYTES) {
                    Ok(chunks) => Ok(chunks),
                    Err(crate::log::repl_log::LogError::Trimmed { .. }) if durable.is_some() => {
                        Err(until)
                    }
                    Err(e) => return format!("cannot stream: {e}"),
                }
            };
            let chunks = match (read, &durable) {
                (Ok(chunks), _) => chunks,
                (Err(until), Some(d)) => match read_durable(d, cursor, until).await {
                    Ok(chunks) => chunks,
                    Err(e) => return format!("cannot stream from the durable log: {e}"),
                },
                (Err(_), None) => return "cannot stream: log trimmed".into(),
            };
            if chunks.is_empty() {
                break;
            }
            for chunk in coalesce(chunks) {
                // A replica that stopped reading blocks this write: a kill (CLIENT KILL, the
                // lag limit) must still end the stream, or its cursor pins the log.
                tokio::select! {
                    written = writer.write_all(&chunk) => {
                        if let Err(e) = written {
                            return format!("write error: {e}");
                        }
                    }
                    reason = kill_switch.tripped() => return reason,
                }
                cursor += chunk.len() as u64;
            }
        }
        tokio::select! {
            _ = offsets.changed() => {
                // Let the other clients that are ready run their batches first, so that
                // their writes go out in one send, as Redis writes a replica's buffer once
                // per event-loop turn; waking per client batch costs a send here and a
                // wake-up on the replica for every few hundred bytes.
                tokio::task::yield_now().await;
            }
            Some(_) = async {
                match durable_offsets.as_mut() {
                    Some(rx) => rx.changed().await.ok(),
                    None => std::future::pending().await,
                }
            } => {}
            read = reader.read_buf(input) => match read {
                Ok(0) => return "replica closed the connection".into(),
                Ok(_) => {
                    if let Err(reason) = process_acks(server, client_id, input) {
                        return reason;
                    }
                }
                Err(e) => return format!("read error: {e}"),
            },
            _ = tick.tick() => {
                let state = server.state.lock();
                let timeout_ms = state.config.repl_timeout_seconds * 1000;
                if let Some(info) = state.repl.replicas.get(&client_id)
                    && unix_time_ms().saturating_sub(info.ack_unix_ms) > timeout_ms
                {
                    return format!("no ACK for {} seconds (repl-timeout)", state.config.repl_timeout_seconds);
                }
            }
            reason = kill_switch.tripped() => return reason,
        }
    }
}

/// Joins the small records of a read into one buffer, so that a send carries them all;
/// large ones go out as they are (copying them would cost more than the extra send).
fn coalesce(chunks: Vec<Bytes>) -> Vec<Bytes> {
    const COALESCE_BYTES_MAX: usize = 64 * 1024;
    if chunks.len() < 2 {
        return chunks;
    }
    let mut out = Vec::new();
    let mut joined = BytesMut::new();
    for chunk in chunks {
        if chunk.len() >= COALESCE_BYTES_MAX {
            if !joined.is_empty() {
                out.push(joined.split().freeze());
            }
            out.push(chunk);
            continue;
        }
        if joined.len() + chunk.len() > COALESCE_BYTES_MAX {
            out.push(joined.split().freeze());
        }
        joined.extend_from_slice(&chunk);
    }
    if !joined.is_empty() {
        out.push(joined.freeze());
    }
    out
}

/// A replica behind the in-memory log reads from the durable one, off the runtime's threads
/// (a read may go to disk). Damage found there cuts the log, so the replica's next PSYNC
/// gets a full sync instead of the same error again.
async fn read_durable(
    durable: &std::sync::Arc<crate::durable::DurableLog>,
    cursor: u64,
    until: u64,
) -> Result<Vec<Bytes>, crate::durable::DurableError> {
    let d = durable.clone();
    let result = tokio::task::spawn_blocking(move || d.read(cursor, STREAM_READ_BYTES))
        .await
        .unwrap_or(Err(crate::durable::DurableError::Stopped));
    if let Err(crate::durable::DurableError::Damaged { offset, .. }) = &result {
        durable.discard_damaged(*offset);
    }
    let result = result?;
    let mut out = Vec::with_capacity(result.len());
    let mut at = cursor;
    for chunk in result {
        if at >= until {
            break;
        }
        let keep = ((until - at) as usize).min(chunk.len());
        at += keep as u64;
        out.push(chunk.slice(..keep));
    }
    Ok(out)
}

/// Hands the replica's socket to the fan-out sender for the payload (+FULLRESYNC line,
/// `$EOF:` framing, the RDB) and waits for it to give the socket back. Returns the bytes
/// sent. A kill while the sender holds the socket shuts the socket down, which ends the
/// member there too.
async fn send_through_fanout(
    server: &Server,
    client_id: u64,
    writer: &mut OwnedWriteHalf,
    registrar: fanout::Registrar,
    fullresync: String,
    capa_zstd: bool,
    kill_switch: &KillSwitch,
) -> Result<u64, String> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let raw = writer.as_ref().as_raw_fd();
    // SAFETY: dup of a descriptor we own; the copy is owned by the OwnedFd.
    let dup = unsafe { libc::dup(raw) };
    if dup < 0 {
        return Err(format!(
            "dup of the replica socket: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: `dup` is a fresh descriptor nobody else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(dup) };
    let mark = EofMark::from_random_bytes(rand::random());
    let mut header = BytesMut::from(fullresync.as_bytes());
    let (window_bytes, framing) = {
        let state = server.state.lock();
        // Compressed framing only to replicas that said they take it: stock Redis never does.
        let framing = match state.config.repl_compression {
            ReplCompression::No => fanout::Framing::Plain,
            _ if !capa_zstd => fanout::Framing::Plain,
            ReplCompression::Zstd => fanout::Framing::Frames { always: true },
            ReplCompression::Auto => fanout::Framing::Frames { always: false },
        };
        (state.config.output_limit_replica.hard_bytes, framing)
    };
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
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let registered = registrar.register(fanout::Member {
        id: client_id,
        framing,
        fd,
        header: header.freeze(),
        trailer,
        window_bytes,
        done: done_tx,
    });
    if !registered {
        return Err("the full sync's sender ended before this replica joined".into());
    }
    tokio::select! {
        result = done_rx => match result {
            Ok(Ok(sent)) => Ok(sent),
            Ok(Err(reason)) => Err(reason),
            Err(_) => Err("the full sync's sender ended without a result".into()),
        },
        reason = kill_switch.tripped() => {
            // SAFETY: shutting down a socket we own; the sender's copy then fails.
            unsafe { libc::shutdown(raw, libc::SHUT_RDWR) };
            Err(reason)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coalesce_joins_small_records_in_order_and_keeps_large_ones_apart() {
        let small = |c: u8, n: usize| Bytes::from(vec![c; n]);
        let large = Bytes::from(vec![b'L'; 70 * 1024]);
        let input = vec![
            small(b'a', 10),
            small(b'b', 20),
            large.clone(),
            small(b'c', 5),
        ];
        let out = coalesce(input.clone());
        assert_eq!(out.len(), 3);
        assert_eq!(out[0].len(), 30);
        assert_eq!(out[1], large);
        assert_eq!(out[2].len(), 5);
        assert_eq!(out.concat(), input.concat(), "same bytes, same order");

        let many: Vec<Bytes> = (0..100).map(|_| small(b'x', 1000)).collect();
        let out = coalesce(many.clone());
        assert!(out.iter().all(|c| c.len() <= 64 * 1024));
        assert_eq!(out.len(), 2);
        assert_eq!(out.concat(), many.concat());
    }
}
