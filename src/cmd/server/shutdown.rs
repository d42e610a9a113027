//! Graceful shutdown, as Redis 7.0 does it: unless NOW is given, wait up to
//! `shutdown-timeout` seconds for replicas to acknowledge everything written, so that no
//! acknowledged write is lost when a master is stopped on purpose. SHUTDOWN and SIGTERM
//! start it; the final save is `snapshot::save::before_exit`.

use std::sync::Arc;
use std::time::Duration;

use crate::server::replication::ReplicaPhase;
use crate::server::shutdown::PendingShutdown;
use crate::server::{Server, State, unix_time_ms};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Begun {
    /// Shutting down now.
    Immediate,
    /// Waiting for replicas; the caller should block.
    Waiting,
    /// A shutdown is already waiting.
    AlreadyPending,
    /// The final save failed (and no FORCE): the server keeps running.
    SaveFailed,
}

/// Online replicas that have not acknowledged the end of the log.
fn lagging_replicas(state: &State) -> usize {
    let end = state.repl.log.end_offset();
    state
        .repl
        .replicas
        .values()
        .filter(|r| r.phase == ReplicaPhase::Online && r.ack_offset < end)
        .count()
}

/// Starts a shutdown: at once when `now`, when there is no lagging replica, or when the
/// configured timeout is 0; otherwise after replicas caught up or the timeout passed.
pub fn begin(
    server: &Arc<Server>,
    state: &mut State,
    now: bool,
    caller: Option<u64>,
    save: Option<bool>,
    force: bool,
) -> Begun {
    if state.shutdown_pending.is_some() {
        return Begun::AlreadyPending;
    }
    let timeout_s = state.config.shutdown_timeout_seconds;
    state.seal_log();
    let lagging = lagging_replicas(state);
    if now || timeout_s == 0 || lagging == 0 {
        if !crate::snapshot::save::before_exit(server, state, save, force) {
            return Begun::SaveFailed;
        }
        server.request_shutdown();
        return Begun::Immediate;
    }
    tracing::warn!(
        lagging,
        timeout_s,
        "waiting for replicas before shutting down"
    );
    state.shutdown_pending = Some(PendingShutdown {
        deadline_ms: unix_time_ms() + timeout_s * 1000,
        caller,
        save,
        force,
    });
    state.repl.getack_requested = true;
    let server = server.clone();
    tokio::spawn(async move {
        let mut rounds: u32 = 0;
        loop {
            tokio::time::sleep(Duration::from_millis(20)).await;
            rounds += 1;
            let mut state = server.state.lock();
            let Some(pending) = state.shutdown_pending else {
                return;
            };
            state.seal_log();
            let lagging = lagging_replicas(&state);
            if lagging == 0 {
                tracing::warn!("replicas are in sync; shutting down");
            } else if unix_time_ms() >= pending.deadline_ms {
                tracing::warn!(
                    lagging,
                    "shutdown-timeout passed with replicas still behind; shutting down"
                );
            } else {
                if rounds.is_multiple_of(25) {
                    state.repl.getack_requested = true;
                }
                continue;
            }
            if !crate::snapshot::save::before_exit(&server, &mut state, pending.save, pending.force)
            {
                state.shutdown_pending = None;
                if let Some(id) = pending.caller
                    && state.blocking.unblock(id).is_some()
                    && let Some(client) = state.clients.get(id)
                {
                    let reply =
                        crate::resp::Reply::error("ERR Errors trying to SHUTDOWN. Check logs.");
                    client.send(crate::server::clients::Outbound::Unblocked(reply), 0);
                }
                return;
            }
            server.request_shutdown();
            return;
        }
    });
    Begun::Waiting
}

/// SHUTDOWN ABORT: cancels a waiting shutdown; returns the blocked caller to notify.
pub fn abort(state: &mut State) -> Option<Option<u64>> {
    let pending = state.shutdown_pending.take()?;
    tracing::warn!("shutdown aborted");
    Some(pending.caller)
}
