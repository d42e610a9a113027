//! Start-up replay: the durable log's commands from the base offset to the end, executed
//! onto the loaded snapshot as a master link would (no propagation, no expiry of our own),
//! a batch per lock acquisition so INFO and PING stay answered meanwhile.

use std::time::{Duration, Instant};

use bytes::BytesMut;

use crate::durable::DurableLog;
use crate::link::apply::{BATCH_COMMANDS_MAX, StreamApplier};
use crate::log::repl_log::DB_UNKNOWN;
use crate::server::Server;

const READ_BYTES: usize = 4 << 20;
const PROGRESS_LOG_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
pub struct ReplayOutcome {
    /// Offset after the last command applied: the data now corresponds to this offset.
    pub end: u64,
    /// Db the stream has selected at `end`, if known.
    pub stream_db: Option<u32>,
    /// History of the last record replayed.
    pub replid: Option<crate::log::ReplId>,
    pub commands: u64,
    pub bytes: u64,
    /// Why replay stopped before the log's end (the log was cut there).
    pub stopped: Option<String>,
}

/// Replays `log` from `from` (the base's offset; `db` is the stream's db there if known).
/// On damage or a command that fails, the log is truncated where replay stopped: what
/// follows cannot be trusted to apply to this data.
pub fn replay(server: &Server, log: &DurableLog, from: u64, db: Option<u32>) -> ReplayOutcome {
    let target = log.written_end();
    let started = Instant::now();
    let mut last_log = started;
    let mut outcome = ReplayOutcome {
        end: from,
        stream_db: db,
        ..ReplayOutcome::default()
    };
    if target <= from {
        return outcome;
    }
    tracing::info!(
        from,
        to = target,
        bytes = target - from,
        "replaying the replication log"
    );
    let mut applier: Option<StreamApplier> = None;
    let mut input = BytesMut::new();
    'read: while outcome.end < target {
        let records = match log.read_records(outcome.end, READ_BYTES) {
            Ok(records) if records.is_empty() => break,
            Ok(records) => records,
            Err(e) => {
                outcome.stopped = Some(e.to_string());
                break;
            }
        };
        for record in records {
            if record.start_offset >= target {
                break 'read;
            }
            let skip =
                crate::util::num::usize_from(outcome.end.saturating_sub(record.start_offset));
            let applier = applier.get_or_insert_with(|| {
                let first_db = (skip == 0 && record.db != DB_UNKNOWN)
                    .then_some(record.db)
                    .or(db);
                StreamApplier::for_replay(first_db)
            });
            input.extend_from_slice(&record.payload[skip..]);
            loop {
                let requests = match applier.parse_batch(&mut input, BATCH_COMMANDS_MAX) {
                    Ok(requests) if requests.is_empty() => break,
                    Ok(requests) => requests,
                    Err(e) => {
                        outcome.stopped = Some(e.to_string());
                        break 'read;
                    }
                };
                let result = {
                    let mut state = server.state.lock();
                    applier.execute_replay(server, &mut state, &requests)
                };
                let done = match &result {
                    Ok(n) => *n,
                    Err((n, _)) => *n,
                };
                let bytes: u64 = requests[..done].iter().map(|r| r.raw.len() as u64).sum();
                outcome.end += bytes;
                outcome.bytes += bytes;
                outcome.commands += done as u64;
                if let Err((_, e)) = result {
                    outcome.stopped = Some(e.to_string());
                    break 'read;
                }
            }
            outcome.replid = Some(record.replid);
            outcome.stream_db = applier.stream_db();
            if last_log.elapsed() >= PROGRESS_LOG_INTERVAL {
                last_log = Instant::now();
                let seconds = started.elapsed().as_secs_f64().max(1e-9);
                tracing::info!(
                    offset = outcome.end,
                    bytes = outcome.bytes,
                    percent = format!(
                        "{:.1}",
                        outcome.bytes as f64 * 100.0 / (target - from) as f64
                    ),
                    mb_per_s = format!("{:.1}", outcome.bytes as f64 / 1e6 / seconds),
                    "replaying the replication log"
                );
            }
        }
    }
    if outcome.stopped.is_none() && !input.is_empty() {
        outcome.stopped = Some(format!(
            "{} bytes of an incomplete command at the end of the log",
            input.len()
        ));
    }
    if let Some(reason) = &outcome.stopped {
        tracing::error!(
            "replication log replay stopped at offset {} of {target}: {reason}; the log is cut there",
            outcome.end
        );
        log.truncate(outcome.end);
    }
    tracing::info!(
        commands = outcome.commands,
        bytes = outcome.bytes,
        seconds = format!("{:.3}", started.elapsed().as_secs_f64()),
        "replication log replayed up to offset {}",
        outcome.end
    );
    forget_replayed_commands(server, outcome.commands);
    outcome
}

/// Replaying is loading, not serving: what it ran stays out of the command statistics, the
/// slow log and the latency monitor, as Redis keeps an AOF load out of them.
fn forget_replayed_commands(server: &Server, commands: u64) {
    let mut state = server.state.lock();
    state.stats.commands.clear();
    state.stats.total_commands_processed = state
        .stats
        .total_commands_processed
        .saturating_sub(commands);
    state.slowlog.reset();
    state.latency.reset(None);
}
