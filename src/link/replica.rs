//! The replica side: the task that follows a master.
//!
//! One task per REPLICAOF configuration (identified by `master_epoch`): connect, handshake,
//! PSYNC, then either a full sync (the RDB is decoded on a thread of its own while it
//! streams in, into new databases swapped in only once complete) or a continuation, then
//! the command stream. The old data is served until a load succeeds; a failed, cut or
//! corrupt load leaves it in place and the link retries. Every state under the lock is
//! checked against the epoch first, so a task from an older configuration never applies
//! anything.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use sluice_rdb::framing::{EOF_MARK_BYTES, PayloadHeader, parse_payload_header};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, oneshot};

use super::apply::{self, ApplyError, StreamApplier};
use super::payload::PayloadReader;
use crate::log::ReplId;
use crate::server::clients::{ClientHandle, KillSwitch};
use crate::server::replication::{LinkStatus, MasterLink};
use crate::server::{Server, unix_time_ms};
use crate::snapshot::load::{LoadError, LoadOptions, Loaded, Loader};

/// The version announced with `REPLCONF version`: the first Valkey release whose format
/// (80) a Valkey master sends, which sluice loads. Not sluice's own version (INFO's
/// `redis_version`), which Redis and Valkey do not compare.
const VALKEY_FORMAT_VERSION: &str = "9.0.0";
/// Longest wait for a TCP connection to the master (shorter if `repl-timeout` is).
const CONNECT_TIMEOUT_MAX: Duration = Duration::from_secs(10);
/// Pause between attempts while the master is unreachable or not ready.
const RETRY_DELAY: Duration = Duration::from_secs(1);
const RETRY_SOON_DELAY: Duration = Duration::from_millis(100);
/// Pause after the master's dataset was refused (a type sluice does not serve, too many
/// databases): it will not change soon, and each try costs the master a snapshot.
const REFUSED_RETRY_DELAY: Duration = Duration::from_secs(30);
/// ACKs, liveness checks and progress lines happen on this beat.
const TICK: Duration = Duration::from_secs(1);
const READ_CHUNK_BYTES: usize = 256 * 1024;
/// Stream bytes a replica buffers while CLIENT PAUSE holds its master's stream.
const HELD_STREAM_BYTES_MAX: usize = 64 << 20;
/// RDB chunks queued between the socket and the loader thread (memory bound of the queue).
const LOADER_QUEUE_CHUNKS: usize = 64;
/// How often INFO's sync progress fields are refreshed during a transfer.
const PROGRESS_PUBLISH_INTERVAL: Duration = Duration::from_millis(100);
const PROGRESS_LOG_INTERVAL: Duration = Duration::from_secs(1);

/// Why one connection to the master ended.
#[derive(Debug)]
enum LinkEnd {
    /// REPLICAOF changed the configuration: this task stops.
    Stale,
    /// Try again after `pause`: none after a streaming link dropped, [`RETRY_DELAY`]
    /// usually, longer when the master's dataset was refused (each try costs it a snapshot).
    Retry { reason: String, pause: Duration },
    /// The stream holds something we cannot apply: continuing would meet it again, so the
    /// next try is a full sync, after a growing back-off; the data is served meanwhile.
    Halt(String),
}

/// A master that is starting (refused connection, -LOADING): it will be ready soon, and a
/// replica that waits a whole second more than needed is a second further behind.
fn retry_soon(reason: impl Into<String>) -> LinkEnd {
    LinkEnd::Retry {
        reason: reason.into(),
        pause: RETRY_SOON_DELAY,
    }
}

fn retry(reason: impl Into<String>) -> LinkEnd {
    LinkEnd::Retry {
        reason: reason.into(),
        pause: RETRY_DELAY,
    }
}

// ---------------------------------------------------------------------------------------
// The link task
// ---------------------------------------------------------------------------------------

/// Starts the supervisor of link tasks: whenever a role change sets a new replication
/// epoch (`Server::link_epoch`), it starts the task that follows that configuration's
/// master. A task from an older epoch notices and ends by itself.
pub fn supervise(server: &Arc<Server>) {
    let server = server.clone();
    let mut epochs = server.link_epoch.subscribe();
    tokio::spawn(async move {
        let mut started = 0;
        loop {
            let epoch = *epochs.borrow_and_update();
            if epoch != started && server.state.lock().repl.master_epoch == epoch {
                started = epoch;
                tokio::spawn(run_link(server.clone(), epoch));
            }
            if epochs.changed().await.is_err() {
                return;
            }
        }
    });
}

/// Follows the master configured at `epoch` until REPLICAOF changes it.
pub async fn run_link(server: Arc<Server>, epoch: u64) {
    // Halts repeat while the master keeps sending what we cannot apply: logged once a minute.
    let mut last_halt_logged: Option<Instant> = None;
    loop {
        let Some((host, port)) = target(&server, epoch) else {
            return;
        };
        let end = connect_and_follow(&server, epoch, &host, port).await;
        let (reason, pause) = match end {
            LinkEnd::Stale => {
                tracing::info!("replication link to {host}:{port} closed: configuration changed");
                return;
            }
            LinkEnd::Halt(reason) => {
                // Continuing would resend what failed: the next try is a full sync, after a
                // back-off that grows while halts repeat. The data stays served meanwhile.
                let mut halts = 1;
                let current = update_link(&server, epoch, |link| {
                    let now = unix_time_ms();
                    let streamed_long = link.up_since_unix_ms.is_some_and(|t| {
                        now.saturating_sub(t)
                            >= crate::util::num::u64_saturating(HALT_STREAK_RESET.as_millis())
                    });
                    link.consecutive_halts = if streamed_long {
                        1
                    } else {
                        link.consecutive_halts.saturating_add(1)
                    };
                    halts = link.consecutive_halts;
                    link.status = LinkStatus::Down;
                    link.sync_in_progress = false;
                    link.halted = true;
                    link.continue_history = false;
                    link.link_down_since_unix_ms.get_or_insert(now);
                    link.last_error = Some(reason.clone());
                });
                if !current {
                    return;
                }
                let pause = halt_backoff(halts);
                if last_halt_logged.is_none_or(|at| at.elapsed() >= HALT_LOG_INTERVAL) {
                    last_halt_logged = Some(Instant::now());
                    tracing::error!(
                        "replication link to {host}:{port} stopped: {reason}; the data is kept and a full sync is tried in {}s (halt {halts} in a row)",
                        pause.as_secs()
                    );
                }
                sleep_unless_stale(&server, epoch, pause).await;
                if target(&server, epoch).is_none() {
                    return;
                }
                continue;
            }
            LinkEnd::Retry { reason, pause } => (reason, pause),
        };
        {
            // Redis would keep a failover that cannot reach its target waiting, with writes
            // paused, until FAILOVER ABORT; serving writes again as a master is safer.
            let mut state = server.state.lock();
            if state.repl.master_epoch == epoch
                && state.repl.master.as_ref().is_some_and(|m| m.failover)
            {
                let why = format!("Failover target unreachable: {reason}");
                crate::repl::failover::abort(&mut state, &why);
                return;
            }
        }
        tracing::warn!("replication link to {host}:{port} lost: {reason}");
        let current = update_link(&server, epoch, |link| {
            link.status = LinkStatus::Down;
            link.sync_in_progress = false;
            link.link_down_since_unix_ms.get_or_insert(unix_time_ms());
            link.last_error = Some(reason);
        });
        if !current {
            return;
        }
        sleep_unless_stale(&server, epoch, pause).await;
    }
}

/// Sleeps `pause`, or less if REPLICAOF changes the configuration meanwhile.
async fn sleep_unless_stale(server: &Server, epoch: u64, pause: Duration) {
    let resume = Instant::now() + pause;
    while Instant::now() < resume {
        tokio::time::sleep(resume.saturating_duration_since(Instant::now()).min(TICK)).await;
        if target(server, epoch).is_none() {
            return;
        }
    }
}

/// The first retry after a halt (a command or type we cannot apply) waits this long...
const HALT_BACKOFF_FIRST: Duration = Duration::from_secs(5);
/// ...and each further one in a row twice as long, up to this.
const HALT_BACKOFF_MAX: Duration = Duration::from_secs(300);
/// A link that streamed this long before halting starts the back-off over.
const HALT_STREAK_RESET: Duration = Duration::from_secs(600);
const HALT_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// The pause before the full sync that follows the `halts`-th halt in a row (from 1).
fn halt_backoff(halts: u32) -> Duration {
    let doublings = halts.saturating_sub(1).min(16);
    HALT_BACKOFF_FIRST
        .saturating_mul(1 << doublings)
        .min(HALT_BACKOFF_MAX)
}

/// The master to connect to, if `epoch` is still the configuration.
fn target(server: &Server, epoch: u64) -> Option<(String, u16)> {
    let state = server.state.lock();
    if state.repl.master_epoch != epoch {
        return None;
    }
    state
        .repl
        .master
        .as_ref()
        .map(|link| (link.host.clone(), link.port))
}

/// Changes our MasterLink if `epoch` is still current; false otherwise.
fn update_link(server: &Server, epoch: u64, change: impl FnOnce(&mut MasterLink)) -> bool {
    let mut state = server.state.lock();
    if state.repl.master_epoch != epoch {
        return false;
    }
    match state.repl.master.as_mut() {
        Some(link) => {
            change(link);
            true
        }
        None => false,
    }
}

/// One connection to the master: handshake, sync, stream, until it ends.
async fn connect_and_follow(server: &Arc<Server>, epoch: u64, host: &str, port: u16) -> LinkEnd {
    if !update_link(server, epoch, |link| link.status = LinkStatus::Connecting) {
        return LinkEnd::Stale;
    }
    let repl_timeout = repl_timeout(server);
    tracing::info!("connecting to MASTER {host}:{port}");
    let stream = match tokio::time::timeout(
        repl_timeout.min(CONNECT_TIMEOUT_MAX),
        TcpStream::connect((host, port)),
    )
    .await
    {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => return retry_soon(format!("cannot connect to {host}:{port}: {e}")),
        Err(_) => return retry(format!("timeout connecting to {host}:{port}")),
    };
    let _ = stream.set_nodelay(true);
    let peer = stream
        .peer_addr()
        .map_or_else(|_| format!("{host}:{port}"), |a| a.to_string());
    let local = stream
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let (reader, writer) = stream.into_split();
    let mut link = Link {
        server: server.clone(),
        epoch,
        reader,
        writer,
        input: BytesMut::with_capacity(READ_CHUNK_BYTES),
        last_io: Instant::now(),
        repl_timeout,
    };
    match link.follow(&peer, &local).await {
        Ok(never) => match never {},
        Err(end) => end,
    }
}

fn repl_timeout(server: &Server) -> Duration {
    Duration::from_secs(server.state.lock().config.repl_timeout_seconds.max(1))
}

/// What PSYNC answered.
enum Psync {
    Full {
        replid: ReplId,
        offset: u64,
        /// The payload's size as the master estimated it (`capa size-hint`), for progress
        /// of `$EOF:` and compressed payloads, which carry no length.
        size_hint: Option<u64>,
    },
    Continue {
        /// The id the master named, if any (old masters name none).
        replid: Option<ReplId>,
        /// The id we asked to continue (ours, or the one before it: `offered_history`).
        offered: ReplId,
    },
}

struct Link {
    server: Arc<Server>,
    epoch: u64,
    reader: OwnedReadHalf,
    writer: OwnedWriteHalf,
    /// Bytes read from the master and not consumed yet.
    input: BytesMut,
    last_io: Instant,
    repl_timeout: Duration,
}

impl Link {
    async fn follow(&mut self, peer: &str, local: &str) -> Result<Infallible, LinkEnd> {
        if !update_link(&self.server, self.epoch, |link| {
            link.status = LinkStatus::Handshake
        }) {
            return Err(LinkEnd::Stale);
        }
        tracing::info!("MASTER <-> REPLICA handshake with {peer}");
        self.handshake().await?;
        match self.psync().await? {
            Psync::Full {
                replid,
                offset,
                size_hint,
            } => self.full_sync(replid, offset, size_hint).await?,
            Psync::Continue { replid, offered } => self.continued(offered, replid)?,
        }
        self.stream(peer, local).await
    }

    fn is_current(&self) -> bool {
        let state = self.server.state.lock();
        state.repl.master_epoch == self.epoch && state.repl.master.is_some()
    }

    async fn send(&mut self, bytes: &[u8]) -> Result<(), LinkEnd> {
        match tokio::time::timeout(self.repl_timeout, self.writer.write_all(bytes)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(retry(format!("write error: {e}"))),
            Err(_) => Err(retry("timeout writing to the master")),
        }
    }

    /// Reads more input, checking every beat that the configuration still holds and that
    /// the master is not silent for longer than `repl-timeout`.
    async fn fill(&mut self) -> Result<usize, LinkEnd> {
        loop {
            if self.input.capacity() - self.input.len() < READ_CHUNK_BYTES / 4 {
                self.input.reserve(READ_CHUNK_BYTES);
            }
            tokio::select! {
                result = self.reader.read_buf(&mut self.input) => {
                    return self.after_read(result);
                }
                _ = tokio::time::sleep(TICK) => {
                    if !self.is_current() {
                        return Err(LinkEnd::Stale);
                    }
                    self.check_timeout()?;
                }
            }
        }
    }

    fn after_read(&mut self, result: std::io::Result<usize>) -> Result<usize, LinkEnd> {
        match result {
            Ok(0) => Err(retry("connection closed by the master")),
            Ok(n) => {
                self.last_io = Instant::now();
                self.server
                    .net_input_bytes
                    .fetch_add(n as u64, Ordering::Relaxed);
                Ok(n)
            }
            Err(e) => Err(retry(format!("read error: {e}"))),
        }
    }

    fn check_timeout(&self) -> Result<(), LinkEnd> {
        if self.last_io.elapsed() > self.repl_timeout {
            return Err(retry(format!(
                "timeout: nothing received from the master for {} s (repl-timeout)",
                self.repl_timeout.as_secs()
            )));
        }
        Ok(())
    }

    /// One reply line (without CRLF); bare `\n` keepalives before it are skipped.
    async fn read_line(&mut self) -> Result<String, LinkEnd> {
        loop {
            let skip = self.input.iter().take_while(|&&b| b == b'\n').count();
            let _ = self.input.split_to(skip);
            if let Some(end) = self.input.iter().position(|&b| b == b'\n') {
                let line = self.input.split_to(end + 1);
                let text = String::from_utf8_lossy(&line[..end]);
                return Ok(text.trim_end_matches('\r').to_string());
            }
            if self.input.len() > 64 * 1024 {
                return Err(retry("reply line from the master is too long"));
            }
            self.fill().await?;
        }
    }

    async fn command(&mut self, argv: &[&[u8]]) -> Result<String, LinkEnd> {
        let mut out = BytesMut::new();
        crate::log::repl_log::encode_command(&mut out, argv);
        self.send(&out).await?;
        self.read_line().await
    }

    async fn handshake(&mut self) -> Result<(), LinkEnd> {
        let pong = self.command(&[b"PING"]).await?;
        let auth_error = ["-NOAUTH", "-NOPERM", "-ERR operation not permitted"]
            .iter()
            .any(|p| pong.starts_with(p));
        if pong.starts_with("-LOADING") {
            return Err(retry_soon(format!(
                "the master is loading its data: '{pong}'"
            )));
        }
        if pong.starts_with('-') && !auth_error {
            return Err(retry(format!(
                "error reply to PING from the master: '{pong}'"
            )));
        }
        let (auth, announce_ip, announce_port) = {
            let state = self.server.state.lock();
            let config = &state.config;
            let auth = config
                .masterauth
                .clone()
                .map(|pass| (config.masteruser.clone().unwrap_or_default(), pass));
            let ip = config.replica_announce_ip.clone().unwrap_or_default();
            (auth, ip, config.replica_announce_port)
        };
        if let Some((user, pass)) = auth {
            let reply = if user.is_empty() {
                self.command(&[b"AUTH", pass.as_bytes()]).await?
            } else {
                self.command(&[b"AUTH", user.as_bytes(), pass.as_bytes()])
                    .await?
            };
            if reply.starts_with('-') {
                return Err(retry(format!("unable to AUTH to MASTER: '{reply}'")));
            }
        }
        let port = if announce_port > 0 {
            u64::from(announce_port)
        } else {
            self.server.bound_port.load(Ordering::Relaxed)
        };
        let mut digits = itoa::Buffer::new();
        let reply = self
            .command(&[
                b"REPLCONF",
                b"listening-port",
                digits.format(port).as_bytes(),
            ])
            .await?;
        if reply.starts_with('-') {
            tracing::info!(
                "(non critical) master does not understand REPLCONF listening-port: {reply}"
            );
        }
        if !announce_ip.is_empty() {
            let reply = self
                .command(&[b"REPLCONF", b"ip-address", announce_ip.as_bytes()])
                .await?;
            if reply.starts_with('-') {
                tracing::info!(
                    "(non critical) master does not understand REPLCONF ip-address: {reply}"
                );
            }
        }
        // `capa zstd`: sluice's compressed full sync (repl::compressed); `capa size-hint`:
        // the payload's expected size after +FULLRESYNC, for progress of `$EOF:` payloads.
        // Masters ignore capabilities they do not know, so stock Redis is unaffected.
        let reply = self
            .command(&[
                b"REPLCONF",
                b"capa",
                b"eof",
                b"capa",
                b"psync2",
                b"capa",
                b"zstd",
                b"capa",
                b"size-hint",
            ])
            .await?;
        if reply.starts_with('-') {
            tracing::info!("(non critical) master does not understand REPLCONF capa: {reply}");
        }
        // Valkey masters choose the payload's format by the version a replica announces:
        // from 9.0 they send their own format 80, which keeps hash field expiry times (a
        // Redis-format payload cannot, and a Valkey master holding such hashes then fails
        // the sync). sluice reads it, so it announces the first version that gets it. Redis
        // masters answer with an error, as Valkey replicas meet it, and go on.
        let reply = self
            .command(&[b"REPLCONF", b"version", VALKEY_FORMAT_VERSION.as_bytes()])
            .await?;
        if reply.starts_with('-') {
            tracing::debug!("(non critical) master does not understand REPLCONF version: {reply}");
        }
        Ok(())
    }

    async fn psync(&mut self) -> Result<Psync, LinkEnd> {
        // `offered` is the history we ask to continue; None asks for a full sync.
        let (offered, next, failover) = {
            let state = self.server.state.lock();
            let link = state.repl.master.as_ref();
            let history = link.is_some_and(|m| m.continue_history);
            let failover = link.is_some_and(|m| m.failover);
            let end = state.repl.log.end_offset();
            if failover {
                // The target checks this is its own (our) current ID.
                (Some(state.repl.ids.replid), (end + 1).to_string(), true)
            } else if history {
                let (replid, next) = state.repl.ids.offered_history(end);
                (Some(replid), next.to_string(), false)
            } else {
                (None, "-1".to_string(), false)
            }
        };
        let replid = offered.map_or_else(|| "?".to_string(), |id| id.to_string());
        let reply = if failover {
            tracing::info!(
                "FAILOVER: asking our replica to take over (PSYNC {replid} {next} FAILOVER)"
            );
            self.command(&[b"PSYNC", replid.as_bytes(), next.as_bytes(), b"FAILOVER"])
                .await?
        } else {
            tracing::info!("trying a partial resynchronization (request {replid}:{next})");
            self.command(&[b"PSYNC", replid.as_bytes(), next.as_bytes()])
                .await?
        };
        if failover {
            self.failover_answered(&reply)?;
        }
        if let Some(rest) = reply.strip_prefix("+FULLRESYNC") {
            let mut words = rest.split_whitespace();
            let replid = words.next().and_then(ReplId::parse_str);
            let offset = words.next().and_then(|o| o.parse::<u64>().ok());
            // A sluice master adds the payload size it expects (we announced `capa
            // size-hint`); anything else there is ignored, as Redis ignores it.
            let size_hint = words.next().and_then(|h| h.parse::<u64>().ok());
            return match (replid, offset) {
                (Some(replid), Some(offset)) => Ok(Psync::Full {
                    replid,
                    offset,
                    size_hint,
                }),
                _ => Err(retry(format!(
                    "master replied with a malformed +FULLRESYNC: '{reply}'"
                ))),
            };
        }
        if let Some(rest) = reply.strip_prefix("+CONTINUE") {
            let named = rest.split_whitespace().next();
            let replid = named.map(ReplId::parse_str);
            return match (replid, offered) {
                (Some(None), _) => Err(retry(format!(
                    "master replied with a malformed +CONTINUE: '{reply}'"
                ))),
                (_, None) => Err(retry(format!(
                    "master answered +CONTINUE to a request for a full sync: '{reply}'"
                ))),
                (replid, Some(offered)) => Ok(Psync::Continue {
                    replid: replid.flatten(),
                    offered,
                }),
            };
        }
        if reply.starts_with("-NOMASTERLINK") || reply.starts_with("-LOADING") {
            return Err(retry_soon(format!(
                "master is currently unable to PSYNC but should be in the future: '{reply}'"
            )));
        }
        Err(retry(format!(
            "unexpected reply to PSYNC from the master: '{reply}'"
        )))
    }

    /// The FAILOVER target answered: a sync means it took over; anything else ends the
    /// failover and we are a master again.
    fn failover_answered(&mut self, reply: &str) -> Result<(), LinkEnd> {
        let mut state = self.server.state.lock();
        if state.repl.master_epoch != self.epoch {
            return Err(LinkEnd::Stale);
        }
        if reply.starts_with("+FULLRESYNC") || reply.starts_with("+CONTINUE") {
            crate::repl::failover::completed(&mut state);
            if let Some(link) = state.repl.master.as_mut() {
                link.failover = false;
            }
            return Ok(());
        }
        tracing::warn!("FAILOVER target refused PSYNC FAILOVER: '{reply}'");
        crate::repl::failover::abort(&mut state, "Failover target rejected psync request");
        Err(LinkEnd::Stale)
    }

    /// `+CONTINUE`: the stream goes on from our offset, maybe under a new replid.
    fn continued(&mut self, offered: ReplId, new_replid: Option<ReplId>) -> Result<(), LinkEnd> {
        let mut state = self.server.state.lock();
        if state.repl.master_epoch != self.epoch || state.repl.master.is_none() {
            return Err(LinkEnd::Stale);
        }
        let offset = state.repl.log.end_offset();
        if offered != state.repl.ids.replid {
            if !state.repl.resume_previous_history(offered, offset) {
                return Err(retry(format!(
                    "our history changed while the master accepted {offered} at offset {offset}"
                )));
            }
            tracing::info!(
                "master continued the history we had before our last ID shift ({offered}); \
                 nothing was written under the newer ID, so it is ours again"
            );
        }
        if let Some(new) = new_replid
            && new != state.repl.ids.replid
        {
            state.repl.adopt_continued(new, offset);
            // They must learn the new id; they can continue from us.
            crate::repl::role::disconnect_replicas(&state, "master replication ID changed");
            tracing::info!(
                "master replication ID changed to {new}; previous one valid up to offset {offset}"
            );
        }
        if let Some(link) = state.repl.master.as_mut() {
            link.continue_history = true;
        }
        tracing::info!(
            "successful partial resynchronization with master, continuing from offset {offset}"
        );
        Ok(())
    }

    /// Receives the RDB and swaps it in. On return `self.input` holds the first bytes of the
    /// command stream, if any came with the payload.
    async fn full_sync(
        &mut self,
        replid: ReplId,
        offset: u64,
        size_hint: Option<u64>,
    ) -> Result<(), LinkEnd> {
        let options = {
            let mut state = self.server.state.lock();
            if state.repl.master_epoch != self.epoch {
                return Err(LinkEnd::Stale);
            }
            let options = LoadOptions::from_config(&state.config);
            let Some(link) = state.repl.master.as_mut() else {
                return Err(LinkEnd::Stale);
            };
            link.status = LinkStatus::Syncing;
            link.sync_in_progress = true;
            link.sync_started_unix_ms = unix_time_ms();
            link.last_io_unix_ms = link.sync_started_unix_ms;
            link.sync_read_bytes = 0;
            link.sync_total_bytes = -1;
            options
        };
        tracing::info!(
            "full resync from master: {replid}:{offset}; MASTER <-> REPLICA sync started"
        );
        let header = self.payload_header().await?;
        let total = match header {
            PayloadHeader::Length(n) => {
                tracing::info!(
                    "MASTER <-> REPLICA sync: receiving {n} bytes from master to memory"
                );
                Some(n)
            }
            PayloadHeader::Eof(_) => {
                tracing::info!(
                    size_hint,
                    "MASTER <-> REPLICA sync: receiving streamed RDB from master"
                );
                size_hint
            }
            PayloadHeader::Zstd(_) => {
                tracing::info!(
                    size_hint,
                    "MASTER <-> REPLICA sync: receiving streamed RDB from master, zstd-framed"
                );
                size_hint
            }
        };
        update_link(&self.server, self.epoch, |link| {
            link.sync_total_bytes = total.map_or(-1, |n| n.min(i64::MAX as u64) as i64);
        });
        let started = Instant::now();
        let (loaded, received) = self.receive_rdb(header, total, options).await?;
        let seconds = started.elapsed().as_secs_f64();
        self.install(replid, offset, loaded, received, seconds)?;
        // A Redis 7.0 master streams nothing after a diskless sync until this ACK.
        self.send(&apply::ack_command(offset)).await
    }

    async fn payload_header(&mut self) -> Result<PayloadHeader, LinkEnd> {
        loop {
            let skip = self.input.iter().take_while(|&&b| b == b'\n').count();
            let _ = self.input.split_to(skip);
            match parse_payload_header(&self.input) {
                Ok(Some((header, used))) => {
                    let _ = self.input.split_to(used);
                    return Ok(header);
                }
                Ok(None) => {
                    self.fill().await?;
                }
                Err(e) => return Err(retry(format!("bad full sync payload from the master: {e}"))),
            }
        }
    }

    /// Streams the payload into the loader thread. Returns the databases and the RDB size.
    async fn receive_rdb(
        &mut self,
        header: PayloadHeader,
        total: Option<u64>,
        options: LoadOptions,
    ) -> Result<(Loaded, u64), LinkEnd> {
        let mut loader = LoaderThread::spawn(options)?;
        let mut payload = PayloadReader::new(header);
        let mut progress = Progress::new(total);
        self.feed_loader(&mut payload, &mut loader, &mut progress)
            .await?;
        let (loaded, remainder) = loader.finish(progress.received).await?;
        match payload.eof_mark() {
            Some(mark) => self.check_eof_mark(&mark, remainder).await?,
            None if !remainder.is_empty() => tracing::warn!(
                bytes = remainder.len(),
                "ignoring bytes after the end of the RDB inside the payload"
            ),
            None => {}
        }
        Ok((loaded, progress.received))
    }

    /// Reads the payload and hands its RDB bytes to the loader until either ends, beating
    /// once a second meanwhile.
    async fn feed_loader(
        &mut self,
        payload: &mut PayloadReader,
        loader: &mut LoaderThread,
        progress: &mut Progress,
    ) -> Result<(), LinkEnd> {
        let mut loader_done = false;
        // Checked on every pass, so that a transfer keeping the socket always readable
        // cannot starve the beat.
        let mut next_beat = Instant::now() + TICK;
        loop {
            if Instant::now() >= next_beat {
                next_beat = Instant::now() + TICK;
                self.beat_while_loading(progress, loader.keys_loaded.load(Ordering::Relaxed))
                    .await?;
            }
            let pushed = payload.push(&mut self.input).map_err(|e| {
                retry(format!(
                    "compressed full sync from the master: {e}; the previous data is kept"
                ))
            })?;
            progress.wire += pushed.wire_bytes;
            for chunk in pushed.rdb {
                progress.received += chunk.len() as u64;
                if loader.chunks.send(chunk).await.is_err() {
                    // The loader stopped: it failed, and `finish` says why.
                    return Ok(());
                }
            }
            if payload.is_complete() {
                return Ok(());
            }
            if pushed.wire_bytes > 0 {
                self.publish_progress(progress)?;
            }
            if self.input.capacity() - self.input.len() < READ_CHUNK_BYTES / 4 {
                self.input.reserve(READ_CHUNK_BYTES);
            }
            tokio::select! {
                biased;
                done = &mut loader.done, if !loader_done => {
                    loader_done = true;
                    // Diskless: the RDB ended before the mark showed at the end of a read (the
                    // stream followed in the same read). Disk: read the rest of the length.
                    // Compressed: the end frame still follows the RDB's last bytes.
                    if !done.unwrap_or(false) || payload.ends_with_rdb() {
                        return Ok(());
                    }
                }
                result = self.reader.read_buf(&mut self.input) => {
                    self.after_read(result)?;
                }
                _ = tokio::time::sleep_until(next_beat.into()) => {}
            }
        }
    }

    /// Once a second while a payload loads: the configuration and the master are still
    /// there, the progress is logged and shown, and the master hears from us.
    async fn beat_while_loading(
        &mut self,
        progress: &mut Progress,
        keys_loaded: u64,
    ) -> Result<(), LinkEnd> {
        if !self.is_current() {
            return Err(LinkEnd::Stale);
        }
        self.check_timeout()?;
        progress.log(keys_loaded);
        // What arrived last may not have been published (it is at most every so often, on
        // arrival): a stalled transfer must still show it.
        self.publish_now(progress)?;
        // Liveness for the master while we load.
        self.send(b"\n").await
    }

    /// INFO's `master_sync_read_bytes`, refreshed at most every PROGRESS_PUBLISH_INTERVAL.
    fn publish_progress(&self, progress: &mut Progress) -> Result<(), LinkEnd> {
        if progress.publish_due() {
            self.publish_now(progress)?;
        }
        Ok(())
    }

    fn publish_now(&self, progress: &mut Progress) -> Result<(), LinkEnd> {
        progress.last_publish = Instant::now();
        let received = progress.received;
        if !update_link(&self.server, self.epoch, |link| {
            link.sync_read_bytes = received;
            link.last_io_unix_ms = unix_time_ms();
        }) {
            return Err(LinkEnd::Stale);
        }
        Ok(())
    }

    /// `remainder` is what followed the RDB: the mark, then possibly the command stream.
    async fn check_eof_mark(
        &mut self,
        mark: &[u8; EOF_MARK_BYTES],
        remainder: BytesMut,
    ) -> Result<(), LinkEnd> {
        let mut after = remainder;
        after.extend_from_slice(&self.input);
        self.input = after;
        while self.input.len() < EOF_MARK_BYTES {
            self.fill().await?;
        }
        if &self.input[..EOF_MARK_BYTES] != mark {
            return Err(retry(
                "the RDB from the master is not followed by its EOF mark; the previous data is kept",
            ));
        }
        let _ = self.input.split_to(EOF_MARK_BYTES);
        Ok(())
    }

    /// Swaps the loaded databases in and adopts the master's history at `offset`.
    fn install(
        &mut self,
        replid: ReplId,
        offset: u64,
        loaded: Loaded,
        rdb_bytes: u64,
        seconds: f64,
    ) -> Result<(), LinkEnd> {
        let Loaded {
            dbs,
            keys,
            keys_already_expired,
            empty_keys_skipped,
            stream_db,
            functions,
            ..
        } = loaded;
        // Compiled before the lock is taken: the master's libraries replace ours.
        let functions = crate::script::library::from_codes(&functions, &self.server.script_watch);
        let old = {
            let mut state = self.server.state.lock();
            if state.repl.master_epoch != self.epoch || state.repl.master.is_none() {
                drop(state);
                std::thread::spawn(move || drop(dbs));
                return Err(LinkEnd::Stale);
            }
            let old = std::mem::replace(&mut state.dbs, dbs);
            state.functions = functions;
            state.repl.restart_history(replid, offset, stream_db);
            // Every watched key may have changed.
            state.watches.touch_db(None, |_, _| true);
            crate::repl::role::disconnect_replicas(
                &state,
                "full resync with our master: replicas must resync",
            );
            state.expire_cursor = (0, 0);
            if let Some(link) = state.repl.master.as_mut() {
                link.sync_in_progress = false;
                link.sync_read_bytes = rdb_bytes;
                link.continue_history = true;
                link.last_io_unix_ms = unix_time_ms();
            }
            // Kept on disk, so that a restart can load it and continue with PSYNC.
            crate::snapshot::save::after_full_sync(&self.server, &mut state);
            old
        };
        // Freeing a large dataset takes a while: not under the lock, not on this task.
        std::thread::spawn(move || drop(old));
        let rate = rdb_bytes as f64 / seconds.max(1e-6) / 1e6;
        tracing::info!(
            keys,
            keys_already_expired,
            empty_keys_skipped,
            bytes = rdb_bytes,
            seconds = format!("{seconds:.3}"),
            "MASTER <-> REPLICA sync: finished with success ({rate:.1} MB/s), replication offset {offset}"
        );
        Ok(())
    }

    /// Applies the command stream until the link ends.
    async fn stream(&mut self, peer: &str, local: &str) -> Result<Infallible, LinkEnd> {
        let client = MasterClient::register(&self.server, peer, local);
        let (stream_db, start) = {
            let mut state = self.server.state.lock();
            if state.repl.master_epoch != self.epoch {
                return Err(LinkEnd::Stale);
            }
            let offset = state.repl.log.end_offset();
            let db = state.repl.log.stream_db();
            let Some(link) = state.repl.master.as_mut() else {
                return Err(LinkEnd::Stale);
            };
            link.status = LinkStatus::Up;
            link.sync_in_progress = false;
            link.link_down_since_unix_ms = None;
            link.up_since_unix_ms = Some(unix_time_ms());
            link.halted = false;
            link.read_offset = offset;
            link.last_io_unix_ms = unix_time_ms();
            (db, offset)
        };
        tracing::info!("MASTER <-> REPLICA link up: streaming from {peer} at offset {start}");
        let mut applier = StreamApplier::new(client.id, stream_db);
        let mut read_total = self.input.len() as u64;
        let mut next_beat = Instant::now() + TICK;
        // CLIENT PAUSE holds the master's stream too, as Redis postpones its master client:
        // what arrives is read (and counted in the read offset) but applied only after.
        let (paused, mut released) = {
            let state = self.server.state.lock();
            (state.pauses.in_force(), state.pauses.subscribe())
        };
        let end = loop {
            let held = paused.load(std::sync::atomic::Ordering::Relaxed);
            if held {
                if let Some(link) = self.server.state.lock().repl.master.as_mut() {
                    link.read_offset = start + read_total;
                }
            } else if let Err(end) = self.apply_input(&mut applier, start + read_total).await {
                break end;
            }
            // Checked on every pass: a master that keeps the socket readable must not
            // starve the ACKs and the configuration check.
            if Instant::now() >= next_beat {
                next_beat = Instant::now() + TICK;
                if let Err(end) = self.beat().await {
                    break end;
                }
            }
            if self.input.capacity() - self.input.len() < READ_CHUNK_BYTES / 4 {
                self.input.reserve(READ_CHUNK_BYTES);
            }
            // While held, reading stops once a pause's worth of stream is buffered: the
            // master then keeps the rest, as for any slow replica.
            let may_read = !held || self.input.len() < HELD_STREAM_BYTES_MAX;
            tokio::select! {
                biased;
                reason = client.kill_switch.tripped() => {
                    break retry(format!("master client killed: {reason}"));
                }
                _ = released.changed(), if held => {}
                result = self.reader.read_buf(&mut self.input), if may_read => {
                    match self.after_read(result) {
                        Ok(n) => read_total += n as u64,
                        Err(end) => break end,
                    }
                }
                _ = tokio::time::sleep_until(next_beat.into()) => {}
            }
        };
        drop(client);
        Err(match end {
            LinkEnd::Retry { reason, .. } => LinkEnd::Retry {
                reason,
                pause: Duration::ZERO,
            },
            other => other,
        })
    }

    /// Parses and executes what is buffered, a batch per lock, answering GETACKs.
    async fn apply_input(
        &mut self,
        applier: &mut StreamApplier,
        read_offset: u64,
    ) -> Result<(), LinkEnd> {
        loop {
            let requests = applier
                .parse_batch(&mut self.input, apply::BATCH_COMMANDS_MAX)
                .map_err(apply_error)?;
            if requests.is_empty() {
                return Ok(());
            }
            let outcome = {
                let server = self.server.clone();
                let mut state = server.state.lock();
                if let Some(link) = state.repl.master.as_mut() {
                    link.last_io_unix_ms = unix_time_ms();
                    link.read_offset = read_offset;
                }
                applier.execute_batch(&server, &mut state, self.epoch, &requests)
            };
            let outcome = match outcome {
                Ok(outcome) => outcome,
                Err(e) => {
                    if let ApplyError::Unimplemented { .. } | ApplyError::Fatal { .. } = e {
                        tracing::error!("{e}");
                    }
                    return Err(apply_error(e));
                }
            };
            for offset in outcome.acks {
                let offset = self.ackable(offset).await;
                self.send(&apply::ack_command(offset)).await?;
            }
        }
    }

    /// Once a second while streaming: configuration, liveness, ACK.
    async fn beat(&mut self) -> Result<(), LinkEnd> {
        let offset = {
            let state = self.server.state.lock();
            if state.repl.master_epoch != self.epoch || state.repl.master.is_none() {
                return Err(LinkEnd::Stale);
            }
            state.repl.log.end_offset()
        };
        self.check_timeout()?;
        let offset = self.ackable(offset).await;
        self.send(&apply::ack_command(offset)).await
    }

    /// The offset an ACK may report. With `repl-log-fsync always` an ACK promises what a
    /// reply promises: the stream up to it survives our kill -9. So it waits (briefly: a
    /// flush) for the log to be durable there, and never reports more than is.
    async fn ackable(&self, offset: u64) -> u64 {
        let durable = self.server.state.lock().repl.durable.clone();
        let Some(durable) = durable else {
            return offset;
        };
        if durable.fsync() != crate::durable::FsyncPolicy::Always {
            return offset;
        }
        let _ = tokio::time::timeout(ACK_DURABLE_WAIT, durable.wait_durable(offset, false)).await;
        offset.min(durable.durable_end())
    }
}

/// How long an ACK waits for its offset to become durable before it reports less.
const ACK_DURABLE_WAIT: Duration = Duration::from_secs(1);

fn apply_error(e: ApplyError) -> LinkEnd {
    match e {
        ApplyError::Stale => LinkEnd::Stale,
        ApplyError::Protocol(_) => retry(e.to_string()),
        ApplyError::NotCanonical { .. }
        | ApplyError::Unimplemented { .. }
        | ApplyError::Fatal { .. } => LinkEnd::Halt(e.to_string()),
    }
}

/// The thread that parses a full sync's RDB, as the link task sees it.
struct LoaderThread {
    /// RDB bytes in; dropping it tells the loader the payload ended.
    chunks: mpsc::Sender<Bytes>,
    /// `true` once the loader saw the RDB's end, `false` if it failed first.
    done: oneshot::Receiver<bool>,
    /// The databases and the bytes that followed the RDB, or why loading failed.
    result: oneshot::Receiver<Result<(Loaded, BytesMut), LoadError>>,
    keys_loaded: Arc<AtomicU64>,
}

impl LoaderThread {
    fn spawn(options: LoadOptions) -> Result<LoaderThread, LinkEnd> {
        let (chunk_tx, chunk_rx) = mpsc::channel::<Bytes>(LOADER_QUEUE_CHUNKS);
        let (done_tx, done_rx) = oneshot::channel::<bool>();
        let (result_tx, result_rx) = oneshot::channel();
        let keys_loaded = Arc::new(AtomicU64::new(0));
        let keys = keys_loaded.clone();
        std::thread::Builder::new()
            .name("repl-load".into())
            .spawn(move || load_thread(options, chunk_rx, done_tx, result_tx, &keys))
            .map_err(|e| retry(format!("cannot start the loader thread: {e}")))?;
        Ok(LoaderThread {
            chunks: chunk_tx,
            done: done_rx,
            result: result_rx,
            keys_loaded,
        })
    }

    /// Ends the input and waits for the loader's verdict. A payload the loader refuses
    /// outright (a type or db it cannot hold) is retried later than a damaged one.
    async fn finish(self, received: u64) -> Result<(Loaded, BytesMut), LinkEnd> {
        drop(self.chunks);
        let outcome = self
            .result
            .await
            .map_err(|_| retry("the loader thread ended without a result"))?;
        outcome.map_err(|e| {
            let refused = matches!(
                e,
                LoadError::UnsupportedType { .. } | LoadError::DbOutOfRange { .. }
            );
            LinkEnd::Retry {
                reason: format!(
                    "loading the master's RDB failed after {received} bytes: {e}; the previous data is kept"
                ),
                pause: if refused {
                    REFUSED_RETRY_DELAY
                } else {
                    RETRY_DELAY
                },
            }
        })
    }
}

/// Decodes the RDB as its chunks arrive. Signals `done` as soon as the RDB is complete (or
/// failed), keeps what follows it, and sends the outcome once the input is closed.
fn load_thread(
    options: LoadOptions,
    mut chunks: mpsc::Receiver<Bytes>,
    done: oneshot::Sender<bool>,
    result: oneshot::Sender<Result<(Loaded, BytesMut), LoadError>>,
    keys_loaded: &AtomicU64,
) {
    let mut loader = Loader::new(options);
    let mut done = Some(done);
    let mut remainder = BytesMut::new();
    while let Some(chunk) = chunks.blocking_recv() {
        if loader.is_done() {
            remainder.extend_from_slice(&chunk);
            continue;
        }
        if let Err(e) = loader.push(&chunk) {
            if let Some(done) = done.take() {
                let _ = done.send(false);
            }
            let _ = result.send(Err(e));
            return;
        }
        keys_loaded.store(loader.keys(), Ordering::Relaxed);
        if loader.is_done() {
            remainder.extend_from_slice(&loader.take_remainder());
            if let Some(done) = done.take() {
                let _ = done.send(true);
            }
        }
    }
    let _ = result.send(loader.finish().map(|loaded| (loaded, remainder)));
}

/// Transfer progress: INFO fields and a log line every second.
struct Progress {
    /// The payload's RDB size: exact with `$<len>`, the master's estimate otherwise.
    total: Option<u64>,
    /// RDB bytes received (decompressed, for a compressed payload).
    received: u64,
    /// Bytes off the socket.
    wire: u64,
    started: Instant,
    last_publish: Instant,
    last_log: Instant,
    last_log_bytes: u64,
}

impl Progress {
    fn new(total: Option<u64>) -> Progress {
        let now = Instant::now();
        Progress {
            total,
            received: 0,
            wire: 0,
            started: now,
            last_publish: now,
            last_log: now,
            last_log_bytes: 0,
        }
    }

    fn publish_due(&self) -> bool {
        self.last_publish.elapsed() >= PROGRESS_PUBLISH_INTERVAL
    }

    fn log(&mut self, keys: u64) {
        let since = self.last_log.elapsed();
        if since < PROGRESS_LOG_INTERVAL {
            return;
        }
        let rate = (self.received - self.last_log_bytes) as f64 / since.as_secs_f64() / 1e6;
        let elapsed = self.started.elapsed().as_secs_f64();
        match self.total {
            Some(total) if total > 0 => tracing::info!(
                wire_bytes = self.wire,
                "MASTER <-> REPLICA sync: {} of {total} bytes ({:.1}%), {rate:.1} MB/s, {keys} keys loaded, {elapsed:.1} s",
                self.received,
                crate::repl::role::sync_percent(self.received, total)
            ),
            _ => tracing::info!(
                "MASTER <-> REPLICA sync: {} bytes (streamed, size unknown), {rate:.1} MB/s, {keys} keys loaded, {elapsed:.1} s",
                self.received
            ),
        }
        self.last_log = Instant::now();
        self.last_log_bytes = self.received;
    }
}

/// The master link as a client of ours (CLIENT LIST shows it with flag M; CLIENT KILL TYPE
/// master ends it). Unregistered on drop.
struct MasterClient {
    server: Arc<Server>,
    id: u64,
    kill_switch: Arc<KillSwitch>,
    /// Nothing is ever sent to the master link through the registry; kept so sends succeed.
    _rx: mpsc::UnboundedReceiver<crate::server::clients::Outbound>,
}

impl MasterClient {
    fn register(server: &Arc<Server>, peer: &str, local: &str) -> MasterClient {
        let id = server.next_client_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::unbounded_channel();
        let kill_switch = Arc::new(KillSwitch::default());
        let mut handle = ClientHandle::new(
            id,
            peer.to_string(),
            local.to_string(),
            tx,
            Arc::new(std::sync::atomic::AtomicUsize::new(0)),
            kill_switch.clone(),
        );
        handle.flags = "M".into();
        handle.authenticated = true;
        server.state.lock().clients.by_id.insert(id, handle);
        MasterClient {
            server: server.clone(),
            id,
            kill_switch,
            _rx: rx,
        }
    }
}

impl Drop for MasterClient {
    fn drop(&mut self) {
        self.server.state.lock().clients.by_id.remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halt_backoff_doubles_from_five_seconds_to_five_minutes() {
        let pauses: Vec<u64> = (1..=9).map(|n| halt_backoff(n).as_secs()).collect();
        assert_eq!(pauses, vec![5, 10, 20, 40, 80, 160, 300, 300, 300]);
        assert_eq!(halt_backoff(0), HALT_BACKOFF_FIRST);
        assert_eq!(halt_backoff(u32::MAX), HALT_BACKOFF_MAX);
    }
}
