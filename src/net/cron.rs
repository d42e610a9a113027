//! Periodic work, `hz` times a second: active expiry, the ops/sec samples, and the `save`
//! rules.

use std::sync::Arc;
use std::time::Duration;

use crate::server::{Server, unix_time_ms};

pub async fn run(server: Arc<Server>) {
    loop {
        server.script_ended().await;
        let hz = server.state.lock().config.hz.max(1);
        let period = Duration::from_millis(1000 / hz);
        tokio::time::sleep(period).await;
        if server
            .shutdown_requested
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            return;
        }
        crate::server::clock::refresh();
        crate::alloc::note_peak();
        server.script_ended().await;
        server.migrate_sockets.close_idle(std::time::Instant::now());
        let mut state = server.state.lock();
        let now_ms = unix_time_ms();
        state.stats.sample_ops(now_ms);
        // A CLIENT PAUSE whose time is up ends here even if no client is waiting on it.
        state.pauses.refresh(now_ms);
        // A quarter of each period at most, as Redis's slow cycle does.
        let cycle_started = std::time::Instant::now();
        crate::expire::active_expire_cycle(&mut state, now_ms, period / 4);
        let cycle_ms = crate::util::num::u64_saturating(cycle_started.elapsed().as_millis());
        let threshold_ms = state.config.introspection.latency_threshold_ms;
        if threshold_ms > 0 && cycle_ms >= threshold_ms {
            state.latency.add("expire-cycle", now_ms / 1000, cycle_ms);
        }
        crate::expire::active_expire_fields(&mut state, now_ms, crate::expire::FIELD_KEYS_PER_RUN);
        // Keys the cycle expired under BCAST prefixes: no command will send them.
        state.send_tracking_broadcasts(None);
        if state.tracking.active() {
            state.limit_tracking_table();
        }
        replication_cron(&mut state, now_ms);
        crate::repl::failover::tick(&server, &mut state, now_ms);
        crate::snapshot::save::cron(&server, &mut state, now_ms / 1000);
        durable_log_cron(&server, &mut state);
        server.seal_log(&mut state);
    }
}

/// The durable log keeps what a restart replays (from the newest snapshot), the backlog size,
/// and what attached replicas still need; a snapshot is taken when the log since the last
/// one passes `repl-log-snapshot-size` and the last snapshot's size, so that replay stays
/// short and the log can shrink.
fn durable_log_cron(server: &Server, state: &mut crate::server::State) {
    let Some(durable) = state.repl.durable.clone() else {
        return;
    };
    if state.loading {
        return;
    }
    let end = state.repl.log.end_offset();
    let mut keep_from = end.saturating_sub(state.config.repl_backlog_size);
    if let Some(cursor) = state.repl.lowest_replica_cursor() {
        keep_from = keep_from.min(cursor);
    }
    if keep_from > durable.start() {
        durable.trim(keep_from);
    }
    // What the durable log dropped goes from memory too, even without new writes.
    state.repl.trim_memory();
    let since_snapshot = durable.written_end().saturating_sub(durable.base_offset());
    if auto_snapshot_due(
        since_snapshot,
        state.config.repl_log_snapshot_size,
        state.persistence.last_snapshot_bytes,
    ) && state.persistence.active.is_none()
        && !state
            .repl
            .disk_job
            .as_ref()
            .is_some_and(|j| j.in_progress())
    {
        let threshold = state
            .config
            .repl_log_snapshot_size
            .max(state.persistence.last_snapshot_bytes);
        tracing::info!(
            bytes = since_snapshot,
            threshold,
            "replication log grew past repl-log-snapshot-size since the last snapshot: saving one"
        );
        if let Err(reason) = crate::snapshot::save::start(
            server,
            state,
            crate::snapshot::save::SaveKind::Background,
            None,
        ) {
            tracing::warn!("automatic snapshot not started: {reason}");
        }
    }
}

/// Whether the log written since the last snapshot calls for a new one: past the configured
/// size, and at least as large as the last snapshot. A fixed size alone rewrote the whole
/// dataset every 128 MB of writes (1 GB of SETs loaded into an empty master wrote 4 GB of
/// RDB files meanwhile, and slowed a full sync running beside them); growing with the
/// dataset, as Redis's `auto-aof-rewrite-percentage 100` does, writes each byte a bounded
/// number of times, and replay after a crash stays within about one dataset's worth of log.
pub fn auto_snapshot_due(
    since_snapshot: u64,
    configured_bytes: u64,
    last_snapshot_bytes: u64,
) -> bool {
    configured_bytes > 0 && since_snapshot > configured_bytes.max(last_snapshot_bytes)
}

/// Keeps replica streams alive and measured: PING every `repl-ping-replica-period` (it counts
/// in the offsets, as in Redis), GETACK when a WAIT is pending.
fn replication_cron(state: &mut crate::server::State, now_ms: u64) {
    drop_lagging_replicas(state, now_ms);
    // A replica's own replicas get its master's PINGs through the proxied stream. During a
    // FAILOVER nothing may move the offset the target has to reach.
    if state.repl.replicas.is_empty() || state.repl.is_replica() || state.repl.failing_over() {
        state.repl.getack_requested = false;
        // The period runs from when there is someone to ping: a replica that attaches gets
        // its first PING a period later, not at once (Redis counts cron loops the same way;
        // its tests attach a raw SYNC client expecting the first command, not a PING).
        state.repl.last_ping_unix_ms = now_ms;
        return;
    }
    let period_ms = state.config.repl_ping_replica_period_seconds.max(1) * 1000;
    if now_ms.saturating_sub(state.repl.last_ping_unix_ms) >= period_ms {
        state.propagate_own(&[b"PING"]);
        state.repl.last_ping_unix_ms = now_ms;
    }
    if std::mem::take(&mut state.repl.getack_requested) {
        state.propagate_own(&[b"REPLCONF", b"GETACK", b"*"]);
    }
}

/// `client-output-buffer-limit replica`: a replica whose unsent part of the log passes the
/// hard limit, or stays over the soft limit for its seconds, is disconnected, and only that
/// replica. The log no longer has to keep bytes for it.
fn drop_lagging_replicas(state: &mut crate::server::State, now_ms: u64) {
    let limit = state.config.output_limit_replica;
    let end = state.repl.log.end_offset();
    let mut victims = Vec::new();
    for (id, replica) in state.repl.replicas.iter_mut() {
        if replica.phase != crate::server::replication::ReplicaPhase::Online {
            continue;
        }
        let lag = end.saturating_sub(replica.cursor);
        let over_hard = limit.hard_bytes > 0 && lag > limit.hard_bytes;
        let over_soft = limit.soft_bytes > 0 && lag > limit.soft_bytes;
        if over_soft {
            let since = *replica.over_soft_limit_since_ms.get_or_insert(now_ms);
            if now_ms.saturating_sub(since) >= limit.soft_seconds * 1000 {
                victims.push((*id, lag));
                continue;
            }
        } else {
            replica.over_soft_limit_since_ms = None;
        }
        if over_hard {
            victims.push((*id, lag));
        }
    }
    for (id, lag) in victims {
        tracing::warn!(
            replica = id,
            lag_bytes = lag,
            "replica over client-output-buffer-limit replica; disconnecting it"
        );
        state.stats.client_output_buffer_kills += 1;
        state.repl.replicas.remove(&id);
        state
            .clients
            .kill(id, "replica output buffer limit reached");
    }
}

#[cfg(test)]
mod tests {
    use super::auto_snapshot_due;

    #[test]
    fn automatic_snapshots_grow_with_the_dataset() {
        const MB: u64 = 1 << 20;
        assert!(!auto_snapshot_due(100 * MB, 128 * MB, 0));
        assert!(auto_snapshot_due(129 * MB, 128 * MB, 0));
        // After a 1 GB snapshot, another only after 1 GB more of log.
        assert!(!auto_snapshot_due(900 * MB, 128 * MB, 1024 * MB));
        assert!(auto_snapshot_due(1025 * MB, 128 * MB, 1024 * MB));
        // 0 turns them off.
        assert!(!auto_snapshot_due(u64::MAX, 0, 0));
    }
}
