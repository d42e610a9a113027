//! Which replicas acknowledged what: WAIT's count and its waiters, and the replicas that
//! count for `min-replicas-to-write`. State under the lock, no I/O.

use crate::server::replication::ReplicaPhase;
use crate::server::{State, unix_time_ms};

/// Replicas that acknowledged at least `offset`.
pub fn count_acked(state: &State, offset: u64) -> usize {
    state
        .repl
        .replicas
        .values()
        .filter(|r| r.ack_offset >= offset)
        .count()
}

/// Replicas that count for `min-replicas-to-write`: streaming, and acknowledged within
/// `min-replicas-max-lag`. Shared by the write refusal and INFO `min_slaves_good_slaves`, so
/// that INFO shows the count the refusal uses. ACK times are stamped with the system clock,
/// so lag is measured against it for both (the command clock, derived from the monotonic
/// one, can trail it by a millisecond: enough for the two to disagree at the boundary).
pub fn good_replica_count(state: &State) -> u64 {
    let now_ms = unix_time_ms();
    let max_lag_ms = state.config.min_replicas_max_lag_seconds * 1000;
    state
        .repl
        .replicas
        .values()
        .filter(|r| {
            r.phase == ReplicaPhase::Online && now_ms.saturating_sub(r.ack_unix_ms) <= max_lag_ms
        })
        .count() as u64
}

/// Answers WAIT clients whose target enough replicas have acknowledged.
pub fn serve_waiters(state: &mut State) {
    let ready: Vec<(u64, usize)> = state
        .blocking
        .clients
        .iter()
        .filter_map(|(id, b)| b.request.wait.map(|(offset, wanted)| (*id, offset, wanted)))
        .filter_map(|(id, offset, wanted)| {
            let acked = count_acked(state, offset);
            (acked >= wanted).then_some((id, acked))
        })
        .collect();
    for (id, acked) in ready {
        state.blocking.unblock(id);
        if let Some(client) = state.clients.get(id) {
            client.send(
                crate::server::clients::Outbound::Unblocked(crate::resp::Reply::integer(acked)),
                0,
            );
        }
    }
}
