//! One client connection: read, parse (outside the lock), execute a batch under the lock,
//! write the replies. Messages from other clients (pub/sub, MONITOR, unblocking, kills)
//! arrive on the connection's channel.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;

use crate::cmd::{self, dispatch};
use crate::durable::{DurableLog, FsyncPolicy};
use crate::resp::Reply;
use crate::resp::parse::{ParseLimits, ProtocolError, RequestParser};
use crate::server::clients::{ClientHandle, KillSwitch, Outbound, sync_session};
use crate::server::migrate::MigrateJob;
use crate::server::{Server, Session, State, unix_time_ms};

/// Commands executed per lock acquisition at most, so one pipelining client cannot hold the
/// server for long.
const BATCH_COMMANDS_MAX: usize = 1024;
/// Replies buffered before the batch stops to flush them, so a pipeline of large reads
/// cannot grow the output buffer without bound.
const BATCH_OUTPUT_BYTES_MAX: usize = 1 << 20;
const READ_CHUNK_BYTES: usize = 64 * 1024;
/// Argument slots a connection keeps allocated between batches.
const ARGS_CAPACITY_KEPT: usize = 16 * 1024;

const DENIED: &str = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// The configuration the parser needs, cached per connection.
#[derive(Debug, Clone, Copy)]
struct InputLimits {
    bulk_len_max: usize,
    requirepass_set: bool,
    query_limit: usize,
    idle_timeout_seconds: u64,
}

impl InputLimits {
    fn from_config(config: &crate::config::Config) -> InputLimits {
        InputLimits {
            bulk_len_max: crate::util::num::usize_from(config.proto_max_bulk_len),
            requirepass_set: config.requirepass.is_some(),
            query_limit: crate::util::num::usize_from(config.client_query_buffer_limit),
            idle_timeout_seconds: config.timeout_seconds,
        }
    }
}

/// Replies held until the durable log reaches `offset` (`repl-log-fsync always`).
struct ReplyGate {
    durable: Arc<DurableLog>,
    offset: u64,
    /// Some held reply acknowledges a write of this client's. Replies that only read wait
    /// too (so that nobody sees a write that a crash could still take back) but not for a
    /// store that has failed: reads go on while the disk is full, the writes' own replies
    /// wait for it.
    acknowledges_write: bool,
}

/// A parsed request waiting to run: its arguments in `Connection::args`, and its bytes as
/// received when it came as a multibulk.
struct PendingRequest {
    args: std::ops::Range<usize>,
    frame: Option<Bytes>,
}

enum Step {
    Continue,
    Close(String),
}

struct Connection {
    server: Arc<Server>,
    session: Session,
    reader: OwnedReadHalf,
    writer: OwnedWriteHalf,
    rx: mpsc::UnboundedReceiver<Outbound>,
    queued: Arc<AtomicUsize>,
    input: BytesMut,
    output: BytesMut,
    parser: RequestParser,
    /// Arguments of the parsed requests, back to back; `pending` holds each request's range.
    /// Cleared once every request in it has run, so its allocation is reused.
    args: Vec<Bytes>,
    pending: VecDeque<PendingRequest>,
    protocol_error: Option<ProtocolError>,
    last_active_ms: u64,
    blocked: bool,
    /// A write is waiting for a FAILOVER to end (it is first in `pending`).
    paused: bool,
    /// Requests are left to run once the output is flushed.
    has_more: bool,
    /// A script holds the server lock: requests wait (or are answered BUSY) without it.
    script_running: bool,
    input_limits: InputLimits,
    /// With `repl-log-fsync always`: the durable log, and the offset it must be durable up to
    /// before the buffered replies may go out (they may depend on any record up to it).
    reply_gate: Option<ReplyGate>,
}

/// Serves one accepted socket until it closes.
pub async fn serve(server: Arc<Server>, stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let local = stream
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let id = server.next_client_id.fetch_add(1, Ordering::Relaxed);
    let (tx, rx) = mpsc::unbounded_channel();
    let queued = Arc::new(AtomicUsize::new(0));
    let kill_switch = Arc::new(KillSwitch::default());
    // A running script holds the lock: wait for it without stalling this thread (a client
    // connecting meanwhile is admitted once it ends).
    server.script_ended().await;
    let admission = {
        let mut state = server.state.lock();
        state.stats.total_connections_received += 1;
        let config = &state.config;
        let open_bind = config
            .bind
            .iter()
            .any(|b| b == "*" || b == "0.0.0.0" || b == "::" || b == "-::*" || b == "::*");
        if config.protected_mode
            && config.requirepass.is_none()
            && open_bind
            && !peer.ip().is_loopback()
        {
            state.stats.rejected_connections += 1;
            Err(DENIED.to_string())
        } else if state.clients.len() >= state.config.maxclients {
            state.stats.rejected_connections += 1;
            Err("-ERR max number of clients reached\r\n".to_string())
        } else {
            state.clients.by_id.insert(
                id,
                ClientHandle::new(
                    id,
                    peer.to_string(),
                    local,
                    tx,
                    queued.clone(),
                    kill_switch.clone(),
                ),
            );
            Ok((
                state.config.requirepass.is_none(),
                InputLimits::from_config(&state.config),
            ))
        }
    };
    let (reader, mut writer) = stream.into_split();
    let (authenticated, input_limits) = match admission {
        Ok(admitted) => admitted,
        Err(message) => {
            tracing::info!(%peer, "connection refused: {}", message.trim_end().chars().take(60).collect::<String>());
            let _ = writer.write_all(message.as_bytes()).await;
            return;
        }
    };
    tracing::debug!(client = id, %peer, "accepted");
    let mut conn = Connection {
        server: server.clone(),
        session: Session::new(id, authenticated),
        reader,
        writer,
        rx,
        queued,
        input: BytesMut::with_capacity(16 * 1024),
        output: BytesMut::with_capacity(16 * 1024),
        parser: RequestParser::default(),
        args: Vec::new(),
        pending: VecDeque::new(),
        protocol_error: None,
        last_active_ms: unix_time_ms(),
        blocked: false,
        paused: false,
        has_more: false,
        script_running: false,
        input_limits,
        reply_gate: None,
    };
    let mut reason = tokio::select! {
        reason = conn.run() => reason,
        reason = kill_switch.tripped() => {
            tracing::info!(client = id, %peer, "client killed: {reason}");
            reason
        }
    };
    if let Some(request) = conn.session.psync_request.take() {
        // A kill (lag limit, CLIENT KILL) must interrupt a write to a replica that stopped
        // reading, so the stream runs under the kill switch as a whole.
        let stream = crate::link::master::serve_replica(
            server.clone(),
            id,
            peer.ip().to_string(),
            (&mut conn.reader, &mut conn.writer, &mut conn.input),
            conn.session.replica_handshake.clone(),
            request,
            kill_switch.clone(),
        );
        reason = tokio::select! {
            end = stream => end.to_string(),
            reason = kill_switch.tripped() => {
                server.state.lock().repl.replicas.remove(&id);
                tracing::warn!(replica = id, %peer, "replica dropped: {reason}");
                reason
            }
        };
    }
    tracing::debug!(client = id, %peer, reason, "closed");
    conn.unregister();
}

impl Connection {
    async fn run(&mut self) -> String {
        loop {
            match self.process_input() {
                Step::Continue => {}
                Step::Close(reason) => {
                    let _ = self.flush().await;
                    return reason;
                }
            }
            if let Err(e) = self.flush().await {
                return format!("write error: {e}");
            }
            if self.session.psync_request.is_some() {
                return "became a replica".into();
            }
            if let Some(job) = self.session.pending_migrate.take() {
                self.run_migration(job).await;
                continue;
            }
            if self.paused {
                let step = self.wait_unpaused().await;
                self.paused = false;
                match step {
                    Step::Continue => continue,
                    Step::Close(reason) => return reason,
                }
            }
            if std::mem::take(&mut self.script_running) {
                match self.wait_for_script().await {
                    Step::Continue => continue,
                    Step::Close(reason) => return reason,
                }
            }
            if self.blocked {
                let step = self.wait_unblocked().await;
                self.blocked = false;
                match step {
                    Step::Continue => continue,
                    Step::Close(reason) => return reason,
                }
            }
            if std::mem::take(&mut self.has_more) {
                continue;
            }
            match self.wait_for_input().await {
                Step::Continue => {}
                Step::Close(reason) => return reason,
            }
        }
    }

    /// Parses what is buffered and executes it; one lock acquisition per batch.
    fn process_input(&mut self) -> Step {
        let InputLimits {
            bulk_len_max,
            requirepass_set,
            query_limit,
            ..
        } = self.input_limits;
        loop {
            let authenticated = self.session.authenticated || !requirepass_set;
            let limits = ParseLimits {
                bulk_len_max,
                authenticated,
                ..ParseLimits::default()
            };
            while self.protocol_error.is_none() && self.pending.len() < BATCH_COMMANDS_MAX {
                let start = self.args.len();
                match self
                    .parser
                    .parse_into(&mut self.input, &limits, &mut self.args)
                {
                    Ok(Some(0)) => continue,
                    Ok(Some(count)) => {
                        self.pending.push_back(PendingRequest {
                            args: start..start + count,
                            frame: self.parser.take_frame(),
                        });
                        // Until AUTH succeeds each request is parsed with the small
                        // unauthenticated caps, one at a time, so an AUTH early in a
                        // pipeline lifts them for the requests after it.
                        if !authenticated {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => self.protocol_error = Some(e),
                }
            }
            if self.input.len() > query_limit {
                self.server.state.lock().stats.client_query_buffer_kills += 1;
                tracing::warn!(
                    client = self.session.id,
                    bytes = self.input.len(),
                    "closing client: query buffer over client-query-buffer-limit"
                );
                return Step::Close("query buffer limit".into());
            }
            if self.pending.is_empty() {
                break;
            }
            if self.server.script_watch.running().is_some() {
                // Waiting for the lock here would stall this thread for the whole script.
                self.script_running = true;
                return Step::Continue;
            }
            if let Step::Close(reason) = self.execute_pending() {
                return Step::Close(reason);
            }
            if self.blocked || self.paused {
                return Step::Continue;
            }
            if !self.pending.is_empty() || self.output.len() > BATCH_OUTPUT_BYTES_MAX {
                // Flush before running more; the run loop comes straight back.
                self.has_more = true;
                return Step::Continue;
            }
        }
        if self.pending.is_empty()
            && let Some(e) = self.protocol_error.take()
        {
            tracing::info!(client = self.session.id, "protocol error: {e}");
            Reply::error(format!("ERR Protocol error: {e}"))
                .encode(self.session.protocol, &mut self.output);
            return Step::Close(format!("protocol error: {e}"));
        }
        Step::Continue
    }

    /// Executes queued requests under one lock acquisition until done, blocked, or at a limit.
    fn execute_pending(&mut self) -> Step {
        let server = self.server.clone();
        let mut state = server.state.lock();
        let log_end_before = state.repl.durable.as_ref().map(|d| d.appended_end());
        state.batch_clock = Some(std::time::Instant::now());
        warm_keys(&state, self.session.db, &self.pending, &self.args);
        let mut close = None;
        while let Some(request) = self.pending.pop_front() {
            let argv = &self.args[request.args.clone()];
            if dispatch::must_wait(&mut state, &self.session, argv) {
                self.pending.push_front(request);
                self.paused = true;
                state.pauses.postponed += 1;
                break;
            }
            let reply = dispatch::execute_request(
                &server,
                &mut state,
                &mut self.session,
                argv,
                request.frame,
            );
            if let Some(reply) = reply {
                reply.encode(self.session.protocol, &mut self.output);
            }
            if let Some(request) = self.session.pending_block.take() {
                state
                    .blocking
                    .block(self.session.id, self.session.db, request);
                self.blocked = true;
                break;
            }
            if self.session.psync_request.is_some() || self.session.pending_migrate.is_some() {
                // What follows belongs to the replication stream, or waits for the MIGRATE.
                break;
            }
            if self.session.close_after_reply {
                close = Some("closed by the client or CLIENT KILL".to_string());
                self.pending.clear();
                break;
            }
            if self.output.len() > BATCH_OUTPUT_BYTES_MAX {
                break;
            }
        }
        state.batch_clock = None;
        if self.pending.is_empty() {
            self.args.clear();
            if self.args.capacity() > ARGS_CAPACITY_KEPT {
                // A request with very many arguments does not keep its vector forever.
                self.args = Vec::new();
            }
        }
        self.end_batch(&server, &mut state, log_end_before);
        match close {
            Some(reason) => Step::Close(reason),
            None => Step::Continue,
        }
    }

    /// Seals the batch's effects into the log, gates the replies on their durability, and
    /// refreshes what the connection keeps from the shared state.
    fn end_batch(&mut self, server: &Server, state: &mut State, log_end_before: Option<u64>) {
        server.seal_log(state);
        if let Some(durable) = &state.repl.durable {
            // Only this batch ran under the lock: if the log grew, it holds our effects.
            let wrote = log_end_before.is_some_and(|before| durable.appended_end() > before);
            self.gate_replies(durable, wrote);
        }
        sync_session(state, &self.session, self.session.last_cmd);
        // Refreshed here, under the lock already held, so parsing never takes it.
        self.input_limits = InputLimits::from_config(&state.config);
        self.last_active_ms = unix_time_ms();
    }

    /// With `always`, the replies buffered now may go out only once the log is durable up to
    /// its current end: that covers the effects of this client's writes and of every write
    /// its replies may have observed. Every client whose records one flush covers is then
    /// answered by that flush (a group commit).
    fn gate_replies(&mut self, durable: &Arc<DurableLog>, wrote: bool) {
        if durable.fsync() != FsyncPolicy::Always {
            return;
        }
        let end = durable.appended_end();
        if end <= durable.durable_end() {
            return;
        }
        match &mut self.reply_gate {
            Some(gate) => {
                gate.offset = gate.offset.max(end);
                gate.acknowledges_write |= wrote;
            }
            None => {
                self.reply_gate = Some(ReplyGate {
                    durable: durable.clone(),
                    offset: end,
                    acknowledges_write: wrote,
                })
            }
        }
    }

    /// The durable log, for replies that arrive outside a batch (served pops, pushes).
    fn gate_outbound(&mut self) {
        let durable = self.server.state.lock().repl.durable.clone();
        if let Some(durable) = durable {
            self.gate_replies(&durable, false);
        }
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        if self.output.is_empty() {
            return Ok(());
        }
        if let Some(gate) = self.reply_gate.take() {
            gate.durable
                .wait_durable(gate.offset, !gate.acknowledges_write)
                .await;
        }
        let len = self.output.len();
        let result = self.writer.write_all(&self.output).await;
        self.output.clear();
        if self.output.capacity() > 4 * READ_CHUNK_BYTES {
            // Give back memory a large reply took.
            self.output = BytesMut::with_capacity(16 * 1024);
        }
        self.server
            .net_output_bytes
            .fetch_add(len as u64, Ordering::Relaxed);
        result
    }

    fn handle_outbound(&mut self, message: Outbound) -> Step {
        match message {
            Outbound::Push(reply) => {
                let size = reply.encoded_len_hint();
                reply.encode(self.session.protocol, &mut self.output);
                self.queued.fetch_sub(
                    size.min(self.queued.load(Ordering::Relaxed)),
                    Ordering::Relaxed,
                );
                Step::Continue
            }
            // A late unblock for a command that already timed out: nothing to answer.
            Outbound::Unblocked(_) | Outbound::Unblock(_) => Step::Continue,
        }
    }

    fn after_read(&mut self, result: std::io::Result<usize>) -> Step {
        match result {
            Ok(0) => Step::Close("client closed connection".into()),
            Ok(n) => {
                self.server
                    .net_input_bytes
                    .fetch_add(n as u64, Ordering::Relaxed);
                Step::Continue
            }
            Err(e) => Step::Close(format!("read error: {e}")),
        }
    }

    fn reserve_input(&mut self) {
        if self.input.capacity() - self.input.len() < READ_CHUNK_BYTES / 4 {
            self.input.reserve(READ_CHUNK_BYTES);
        }
    }

    async fn wait_for_input(&mut self) -> Step {
        // Read from the cached limits: taking the server lock here would cost every
        // connection a lock per wait.
        let idle_timeout = {
            let seconds = self.input_limits.idle_timeout_seconds;
            let exempt = self.session.total_subscription_count() > 0
                || self.session.is_monitor
                || self.session.source.from_master();
            if seconds == 0 || exempt {
                None
            } else {
                Some(Duration::from_secs(seconds))
            }
        };
        let idle = async {
            match idle_timeout {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        self.reserve_input();
        // No shutdown branch: on shutdown the process exits, and polling a shared Notify
        // here would take its internal mutex on every wait of every connection.
        tokio::select! {
            biased;
            message = self.rx.recv() => match message {
                Some(m) => {
                    let step = self.handle_outbound(m);
                    while let Ok(m) = self.rx.try_recv() {
                        if let Step::Close(r) = self.handle_outbound(m) {
                            return Step::Close(r);
                        }
                    }
                    step
                }
                None => Step::Close("server dropped the client".into()),
            },
            result = self.reader.read_buf(&mut self.input) => self.after_read(result),
            _ = idle => Step::Close("idle timeout".into()),
        }
    }

    /// Waits until a write serves the blocked command, its timeout passes, or the client
    /// goes away (then it must stop being a candidate for served pops).
    async fn wait_unblocked(&mut self) -> Step {
        let deadline_ms = self
            .server
            .state
            .lock()
            .blocking
            .clients
            .get(&self.session.id)
            .and_then(|b| b.request.deadline_ms);
        loop {
            let sleep = async {
                match deadline_ms {
                    Some(at) => {
                        tokio::time::sleep(Duration::from_millis(at.saturating_sub(unix_time_ms())))
                            .await
                    }
                    None => std::future::pending().await,
                }
            };
            self.reserve_input();
            tokio::select! {
                biased;
                message = self.rx.recv() => match message {
                    Some(Outbound::Unblocked(reply)) => {
                        // Served by another client's write, whose record this reply follows.
                        self.gate_outbound();
                        reply.encode(self.session.protocol, &mut self.output);
                        return Step::Continue;
                    }
                    Some(other) => {
                        if let Step::Close(r) = self.handle_outbound(other) {
                            return Step::Close(r);
                        }
                        let _ = self.flush().await;
                    }
                    None => return Step::Close("server dropped the client".into()),
                },
                _ = sleep => {
                    let timed_out = {
                        let mut state = self.server.state.lock();
                        state.blocking.unblock(self.session.id).map(|blocked| match blocked.request.wait {
                            // WAIT answers how many replicas made it in time.
                            Some((offset, _)) => Reply::integer(crate::repl::wait::count_acked(&state, offset)),
                            None => blocked.request.timeout_reply,
                        })
                    };
                    if let Some(reply) = timed_out {
                        reply.encode(self.session.protocol, &mut self.output);
                        return Step::Continue;
                    }
                    // Served just before the timeout: the reply is already in the channel.
                }
                result = self.reader.read_buf(&mut self.input) => {
                    if let Step::Close(reason) = self.after_read(result) {
                        return Step::Close(reason);
                    }
                }
            }
        }
    }

    /// Carries out a MIGRATE's transfer off the runtime and without the lock, then completes
    /// the command under it. The client's next requests wait meanwhile, as in Redis.
    async fn run_migration(&mut self, job: Box<MigrateJob>) {
        let server = self.server.clone();
        let (source_db, keys) = (job.source_db, job.keys.clone());
        let transfer = tokio::task::spawn_blocking(move || {
            let outcome = cmd::keys::migrate::transfer::transfer(&server.migrate_sockets, &job);
            (job, outcome)
        })
        .await;
        let server = self.server.clone();
        let mut state = server.state.lock();
        let log_end_before = state.repl.durable.as_ref().map(|d| d.appended_end());
        let reply = match transfer {
            Ok((job, outcome)) => {
                dispatch::complete_migration(&server, &mut state, &mut self.session, job, outcome)
            }
            Err(e) => {
                // The transfer thread panicked: the keys stay, and are let go.
                tracing::error!(client = self.session.id, "MIGRATE transfer failed: {e}");
                state.pauses.release_keys(source_db, &keys);
                Some(Reply::error(
                    "IOERR error or timeout reading to target instance",
                ))
            }
        };
        if let Some(reply) = reply {
            reply.encode(self.session.protocol, &mut self.output);
        }
        self.end_batch(&server, &mut state, log_end_before);
    }

    /// Waits while a script runs. Once it has run past `busy-reply-threshold`, requests are
    /// answered without the lock: BUSY, or SCRIPT KILL / FUNCTION KILL / FUNCTION STATS,
    /// as Redis answers them meanwhile; commands Redis allows while busy wait for the lock.
    async fn wait_for_script(&mut self) -> Step {
        loop {
            let watch = Arc::clone(&self.server.script_watch);
            if watch.running().is_none() {
                return Step::Continue;
            }
            watch.tick();
            // A client that has not authenticated is answered nothing (and may kill
            // nothing) before the script ends.
            let may_answer = self.session.authenticated || !self.input_limits.requirepass_set;
            if let Some(kind) = watch.busy(unix_time_ms()).filter(|_| may_answer) {
                while let Some(request) = self.pending.front() {
                    let argv = &self.args[request.args.clone()];
                    let Some(reply) = crate::cmd::scripting::busy_reply(&watch, kind, argv) else {
                        break;
                    };
                    reply.encode(self.session.protocol, &mut self.output);
                    self.pending.pop_front();
                }
                if self.pending.is_empty() {
                    self.args.clear();
                }
                if let Err(e) = self.flush().await {
                    return Step::Close(format!("write error: {e}"));
                }
                if self.pending.is_empty() {
                    return Step::Continue;
                }
            }
            tokio::time::sleep(crate::server::SCRIPT_POLL).await;
        }
    }

    /// Waits until the request at the head of the queue may run (see
    /// `dispatch::must_wait`): a pause ended or a MIGRATE let its keys go. Input keeps
    /// being read (so a client that leaves is noticed) and pushed messages keep flowing.
    async fn wait_unpaused(&mut self) -> Step {
        let step = self.wait_while_paused().await;
        let mut state = self.server.state.lock();
        state.pauses.postponed = state.pauses.postponed.saturating_sub(1);
        step
    }

    async fn wait_while_paused(&mut self) -> Step {
        loop {
            let (mut released, next_end_ms) = {
                let mut state = self.server.state.lock();
                let waits = self.pending.front().is_some_and(|request| {
                    let argv = &self.args[request.args.clone()];
                    dispatch::must_wait(&mut state, &self.session, argv)
                });
                if !waits {
                    return Step::Continue;
                }
                (state.pauses.subscribe(), state.pauses.next_end_ms())
            };
            let pause_ends = async {
                match next_end_ms {
                    // The pause is over once its end has passed: wake just after it.
                    Some(at) if at < u64::MAX => {
                        let wait_ms = at.saturating_sub(unix_time_ms()) + 1;
                        tokio::time::sleep(Duration::from_millis(wait_ms)).await
                    }
                    _ => std::future::pending().await,
                }
            };
            self.reserve_input();
            tokio::select! {
                biased;
                changed = released.changed() => {
                    if changed.is_err() {
                        return Step::Close("server dropped the client".into());
                    }
                }
                _ = pause_ends => {}
                message = self.rx.recv() => match message {
                    Some(m) => {
                        if let Step::Close(r) = self.handle_outbound(m) {
                            return Step::Close(r);
                        }
                        if let Err(e) = self.flush().await {
                            return Step::Close(format!("write error: {e}"));
                        }
                    }
                    None => return Step::Close("server dropped the client".into()),
                },
                result = self.reader.read_buf(&mut self.input) => {
                    if let Step::Close(reason) = self.after_read(result) {
                        return Step::Close(reason);
                    }
                    // Nothing is parsed meanwhile: the query buffer limit applies here too.
                    if self.input.len() > self.input_limits.query_limit {
                        self.server.state.lock().stats.client_query_buffer_kills += 1;
                        return Step::Close("query buffer limit while paused".into());
                    }
                }
            }
        }
    }

    /// Removes every trace of the client from the shared state.
    fn unregister(&mut self) {
        let server = self.server.clone();
        let mut state = server.state.lock();
        let id = self.session.id;
        state.blocking.unblock(id);
        let watched = std::mem::take(&mut self.session.watched);
        state.watches.unwatch_all(id, &watched);
        crate::cmd::pubsub::forget_subscriptions(&mut state.pubsub, &mut self.session);
        state.tracking.disable(id);
        state.clients.monitors.retain(|&m| m != id);
        state.clients.by_id.remove(&id);
    }
}

/// Looks up the first argument of each pending request (the key of nearly every command)
/// before any runs, so that their cache misses overlap ([`crate::store::Db::warm`]). An
/// argument that is not a key costs one wasted probe and changes nothing.
fn warm_keys(
    state: &crate::server::State,
    db: usize,
    pending: &VecDeque<PendingRequest>,
    args: &[Bytes],
) {
    if pending.len() < 2 {
        return;
    }
    if let Some(keyspace) = state.dbs.get(db) {
        keyspace.warm(pending.iter().filter_map(|request| {
            args.get(request.args.start + 1)
                .filter(|_| request.args.len() > 1)
                .map(|key| key.as_ref())
        }));
    }
}
