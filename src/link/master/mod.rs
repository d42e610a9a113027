//! The master side: a connection that sent PSYNC or SYNC becomes a replica stream.
//!
//! Full syncs are jobs: replicas that arrive during `repl-diskless-sync-delay` join the
//! waiting job and share one snapshot, encoded once on its own thread and fanned out to
//! every member ([`diskless`]). With `repl-diskless-sync no` the job writes one RDB file that
//! each member reads as it grows ([`disk`]). After the payload each replica streams the log
//! from the snapshot's offset; a PSYNC that the log can satisfy streams from the replica's
//! offset ([`stream`]).

mod disk;
mod diskless;
mod stream;

use std::sync::Arc;
use std::time::Instant;

use bytes::BytesMut;
use thiserror::Error;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use crate::log::ReplId;
use crate::log::psync::{self, FullResyncReason, PsyncDecision};
use crate::repl::payload_format::PayloadFormat;
use crate::server::clients::KillSwitch;
use crate::server::replication::{ReplicaInfo, ReplicaPhase};
use crate::server::session::{PsyncRequest, ReplicaHandshake};
use crate::server::{Server, unix_time_ms};

/// Why a replica's stream ended.
#[derive(Debug, Error)]
pub enum ReplicaEnd {
    #[error("replica closed the connection")]
    Closed,
    #[error("{context}: {source}")]
    Io {
        context: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// CLIENT KILL, the lag limit, shutdown: the kill switch's reason.
    #[error("{0}")]
    Killed(String),
    #[error("snapshot failed: {0}")]
    SnapshotFailed(String),
    /// The full sync could not be carried out (its job or sender ended).
    #[error("full sync: {0}")]
    Sync(String),
    #[error("replica is {behind} bytes behind, over client-output-buffer-limit replica ({limit})")]
    TooFarBehind { behind: u64, limit: u64 },
    #[error("no ACK for {0} seconds (repl-timeout)")]
    AckTimeout(u64),
    #[error("timeout waiting for the replica's first ACK")]
    FirstAckTimeout,
    #[error("protocol error from replica: {0}")]
    Protocol(String),
    #[error("cannot stream: {0}")]
    Log(String),
    #[error("cannot stream from the durable log: {0}")]
    Durable(#[from] crate::durable::DurableError),
    /// `REPLCONF rdb-only 1` (redis-cli --rdb): the snapshot was all it wanted.
    #[error("rdb-only replica: snapshot sent")]
    RdbOnly,
}

impl ReplicaEnd {
    fn write(source: std::io::Error) -> ReplicaEnd {
        ReplicaEnd::Io {
            context: "write error",
            source,
        }
    }
}

/// One replica connection, from its PSYNC to the end of its stream.
struct ReplicaConn<'a> {
    server: &'a Arc<Server>,
    id: u64,
    reader: &'a mut OwnedReadHalf,
    writer: &'a mut OwnedWriteHalf,
    input: &'a mut BytesMut,
    handshake: &'a ReplicaHandshake,
    /// Old-style SYNC: no +FULLRESYNC line, just the payload.
    legacy_sync: bool,
    kill_switch: &'a KillSwitch,
}

/// Serves one replica connection until it closes; returns why it ended.
pub async fn serve_replica(
    server: Arc<Server>,
    client_id: u64,
    peer_ip: String,
    (reader, writer, input): (&mut OwnedReadHalf, &mut OwnedWriteHalf, &mut BytesMut),
    handshake: ReplicaHandshake,
    request: PsyncRequest,
    kill_switch: Arc<KillSwitch>,
) -> ReplicaEnd {
    let decision = register(&server, client_id, peer_ip, &handshake, &request);
    let mut conn = ReplicaConn {
        server: &server,
        id: client_id,
        reader,
        writer,
        input,
        handshake: &handshake,
        legacy_sync: request.legacy_sync,
        kill_switch: &kill_switch,
    };
    let end = match decision {
        PsyncDecision::Continue { from } => conn.continue_stream(from).await,
        PsyncDecision::FullResync(reason) => {
            tracing::info!(replica = client_id, ?reason, "full resynchronization");
            conn.full_sync().await
        }
    };
    server.state.lock().repl.replicas.remove(&client_id);
    tracing::info!(replica = client_id, "replica stream closed: {end}");
    end
}

/// Decides the PSYNC and records the replica (its phase, where its stream starts, the
/// sync counters of INFO).
fn register(
    server: &Server,
    client_id: u64,
    peer_ip: String,
    handshake: &ReplicaHandshake,
    request: &PsyncRequest,
) -> PsyncDecision {
    let mut state = server.state.lock();
    state.seal_log();
    let decision = if request.legacy_sync {
        PsyncDecision::FullResync(FullResyncReason::Requested)
    } else {
        psync::decide(
            &request.replid,
            &request.offset,
            &state.repl.ids,
            state.repl.log_start(),
            state.repl.log.end_offset(),
        )
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
}

impl ReplicaConn<'_> {
    /// `+CONTINUE`, then the stream from the replica's offset.
    async fn continue_stream(&mut self, from: u64) -> ReplicaEnd {
        tracing::info!(
            replica = self.id,
            offset = from,
            "partial resynchronization accepted (+CONTINUE)"
        );
        let replid = self.server.state.lock().repl.ids.replid;
        let line = if self.handshake.capa_psync2 {
            format!("+CONTINUE {replid}\r\n")
        } else {
            "+CONTINUE\r\n".to_string()
        };
        if let Err(end) = self.write(line.as_bytes()).await {
            return end;
        }
        self.stream(from).await
    }

    /// The payload (diskless or from the disk snapshot), then the stream from the
    /// snapshot's offset.
    async fn full_sync(&mut self) -> ReplicaEnd {
        let format = PayloadFormat::for_replica(
            self.handshake.announced_version,
            self.handshake.capa_size_hint,
        );
        // A replica of another format than the disk snapshot's (the RDB file, Redis's
        // format) gets a diskless payload of its own, as it can take one.
        let diskless = (self.server.state.lock().config.repl_diskless_sync
            || format != PayloadFormat::Redis)
            && self.handshake.capa_eof;
        let sent = if diskless {
            self.diskless_payload(format).await
        } else {
            self.disk_payload().await
        };
        let Payload {
            offset,
            eof_framing,
            bytes,
            started,
        } = match sent {
            Ok(payload) => payload,
            Err(end) => return end,
        };
        log_sent(self.id, bytes, started, offset);
        if self.handshake.rdb_only {
            return ReplicaEnd::RdbOnly;
        }
        if eof_framing {
            // A replica detects the end of an $EOF payload by its last bytes, so nothing
            // may follow until it acknowledged (as Redis 7.0 does).
            self.set_phase(ReplicaPhase::WaitAck);
            if let Err(end) = self.wait_first_ack().await {
                return end;
            }
        }
        self.set_phase(ReplicaPhase::Online);
        self.stream(offset).await
    }

    /// Writes to the replica; a kill ends the wait (a replica that stopped reading would
    /// block the write for ever).
    async fn write(&mut self, bytes: &[u8]) -> Result<(), ReplicaEnd> {
        tokio::select! {
            written = self.writer.write_all(bytes) => written.map_err(ReplicaEnd::write),
            reason = self.kill_switch.tripped() => Err(ReplicaEnd::Killed(reason)),
        }
    }

    fn set_phase(&self, phase: ReplicaPhase) {
        if let Some(info) = self.server.state.lock().repl.replicas.get_mut(&self.id) {
            info.phase = phase;
        }
    }

    /// `+FULLRESYNC`, unless the replica sent the old SYNC, which expects none.
    fn fullresync_line(&self, replid: ReplId, offset: u64, size_hint: Option<u64>) -> String {
        if self.legacy_sync {
            return String::new();
        }
        fullresync_line(
            replid,
            offset,
            size_hint.filter(|_| self.handshake.capa_size_hint),
        )
    }
}

/// What a full sync's payload was.
struct Payload {
    /// The snapshot's log offset: the stream continues from here.
    offset: u64,
    /// Sent with `$EOF:` framing (its end is known only from its last bytes).
    eof_framing: bool,
    bytes: u64,
    started: Instant,
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
