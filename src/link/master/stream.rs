//! Streaming the log to a replica from its cursor, and reading its ACKs.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncReadExt;

use super::{ReplicaConn, ReplicaEnd};
use crate::resp::parse::{ParseLimits, RequestParser};
use crate::server::{Server, unix_time_ms};

/// Bytes of log handed to a replica socket per lock acquisition.
const STREAM_READ_BYTES: usize = 1 << 20;

/// Where the next bytes for a replica are.
enum Source {
    /// In the in-memory log: these.
    Memory(Vec<Bytes>),
    /// Trimmed from memory: read the durable log, up to this offset.
    Durable(u64),
}

impl ReplicaConn<'_> {
    /// Streams the log from `cursor` and reads ACKs, until the replica goes away or falls
    /// too far behind.
    pub(super) async fn stream(&mut self, mut cursor: u64) -> ReplicaEnd {
        let server = self.server.clone();
        let mut offsets = server.repl_offset.subscribe();
        let durable = server.state.lock().repl.durable.clone();
        let mut durable_offsets = durable.as_ref().map(|d| d.subscribe_durable());
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            // A script holds the lock: waiting for it here would stall this thread.
            server.script_ended().await;
            if let Err(end) = self.send_available(&mut cursor).await {
                return end;
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
                read = self.reader.read_buf(self.input) => match read {
                    Ok(0) => return ReplicaEnd::Closed,
                    Ok(_) => {
                        server.script_ended().await;
                        if let Err(end) = process_acks(&server, self.id, self.input) {
                            return end;
                        }
                    }
                    Err(source) => return ReplicaEnd::Io { context: "read error", source },
                },
                _ = tick.tick() => {
                    server.script_ended().await;
                    if let Some(seconds) = ack_overdue(&server, self.id) {
                        return ReplicaEnd::AckTimeout(seconds);
                    }
                }
                reason = self.kill_switch.tripped() => return ReplicaEnd::Killed(reason),
            }
        }
    }

    /// Sends everything the log holds past `cursor`, moving it.
    async fn send_available(&mut self, cursor: &mut u64) -> Result<(), ReplicaEnd> {
        loop {
            let chunks = match self.next_source(*cursor)? {
                Source::Memory(chunks) => chunks,
                Source::Durable(until) => {
                    let durable = self.server.state.lock().repl.durable.clone();
                    match durable {
                        Some(d) => read_durable(&d, *cursor, until).await?,
                        None => return Err(ReplicaEnd::Log("log trimmed".into())),
                    }
                }
            };
            if chunks.is_empty() {
                return Ok(());
            }
            for chunk in coalesce(chunks) {
                self.write(&chunk).await?;
                *cursor += chunk.len() as u64;
            }
        }
    }

    /// Under the lock: checks the replica's lag and reads what follows `cursor`.
    fn next_source(&self, cursor: u64) -> Result<Source, ReplicaEnd> {
        let mut state = self.server.state.lock();
        let end = state.repl.log.end_offset();
        let limit = state.config.output_limit_replica.hard_bytes;
        if limit > 0 && end.saturating_sub(cursor) > limit {
            return Err(ReplicaEnd::TooFarBehind {
                behind: end - cursor,
                limit,
            });
        }
        // repl-ship-durable: only what survives our own crash, so that every replica can
        // continue from a restarted us.
        let until = match (&state.repl.durable, state.config.repl_ship_durable) {
            (Some(d), true) => d.durable_end(),
            _ => u64::MAX,
        };
        if let Some(info) = state.repl.replicas.get_mut(&self.id) {
            info.cursor = cursor;
        }
        match state.repl.log.read_until(cursor, until, STREAM_READ_BYTES) {
            Ok(chunks) => Ok(Source::Memory(chunks)),
            Err(crate::log::repl_log::LogError::Trimmed { .. }) if state.repl.durable.is_some() => {
                Ok(Source::Durable(until))
            }
            Err(e) => Err(ReplicaEnd::Log(e.to_string())),
        }
    }

    /// Reads replica input until the first REPLCONF ACK.
    pub(super) async fn wait_first_ack(&mut self) -> Result<(), ReplicaEnd> {
        let seconds = self.server.state.lock().config.repl_timeout_seconds.max(1);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
        loop {
            if process_acks(self.server, self.id, self.input)? {
                return Ok(());
            }
            tokio::select! {
                read = self.reader.read_buf(self.input) => match read {
                    Ok(0) => return Err(ReplicaEnd::Closed),
                    Ok(_) => {}
                    Err(source) => return Err(ReplicaEnd::Io { context: "read error", source }),
                },
                _ = tokio::time::sleep_until(deadline) => return Err(ReplicaEnd::FirstAckTimeout),
                reason = self.kill_switch.tripped() => return Err(ReplicaEnd::Killed(reason)),
            }
        }
    }
}

/// Seconds without an ACK, if that is more than `repl-timeout`.
fn ack_overdue(server: &Server, client_id: u64) -> Option<u64> {
    let state = server.state.lock();
    let timeout_s = state.config.repl_timeout_seconds;
    let info = state.repl.replicas.get(&client_id)?;
    (unix_time_ms().saturating_sub(info.ack_unix_ms) > timeout_s * 1000).then_some(timeout_s)
}

/// Applies every complete REPLCONF ACK in `input`; true if at least one was seen.
fn process_acks(server: &Server, client_id: u64, input: &mut BytesMut) -> Result<bool, ReplicaEnd> {
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
            Err(e) => return Err(ReplicaEnd::Protocol(e.to_string())),
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
        let keep = crate::util::num::usize_from(until - at).min(chunk.len());
        at += keep as u64;
        out.push(chunk.slice(..keep));
    }
    Ok(out)
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
