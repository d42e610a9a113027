//! Role changes under the lock: following a master (REPLICAOF, the `replicaof` directive,
//! FAILOVER's handover) and stopping (REPLICAOF NO ONE). They change state only; the link
//! supervisor (`link::supervise`) sees the new epoch and starts the task that follows the
//! master, as Redis's replicationCron does, so that commands never start socket tasks.

use std::sync::Arc;

use crate::server::replication::{LinkStatus, MasterLink};
use crate::server::{Server, State, unix_time_ms};

/// Starts following `host:port` (REPLICAOF host port). `continue_history`: PSYNC asks to
/// continue our current replid and offset (a running server, as Redis does with its own
/// state), rather than `PSYNC ? -1` (a fresh start).
pub fn follow(server: &Server, state: &mut State, host: String, port: u16, continue_history: bool) {
    start_following(server, state, host, port, continue_history, false);
}

/// FAILOVER's handover: follow our own replica `host:port`, asking it with
/// `PSYNC … FAILOVER` to promote itself. Our replicas stay attached, as in Redis: they learn
/// the new history when the target answers with its new replication ID.
pub fn follow_for_failover(server: &Server, state: &mut State, host: String, port: u16) {
    start_following(server, state, host, port, true, true);
}

fn start_following(
    server: &Server,
    state: &mut State,
    host: String,
    port: u16,
    continue_history: bool,
    failover: bool,
) {
    let was_master = state.repl.master.is_none();
    state.config.record_replicaof(Some((host.clone(), port)));
    state.repl.master_epoch += 1;
    let epoch = state.repl.master_epoch;
    state.repl.master = Some(MasterLink {
        host: host.clone(),
        port,
        status: LinkStatus::Connecting,
        link_down_since_unix_ms: Some(unix_time_ms()),
        sync_total_bytes: -1,
        continue_history,
        failover,
        ..MasterLink::default()
    });
    // Replicas hide expired keys; their master sends the DELs.
    state.expire_deletes = false;
    disconnect_master_client(state, "master changed (REPLICAOF)");
    if !failover {
        // They follow our history, which is about to become the new master's.
        disconnect_replicas(state, "replication source changed (REPLICAOF)");
    }
    if was_master {
        tracing::info!("REPLICAOF {host}:{port} enabled: this server is now a replica");
    } else {
        tracing::info!("REPLICAOF {host}:{port} enabled: following a new master");
    }
    // The supervisor starts the link task for this epoch.
    server.link_epoch.send_replace(epoch);
}

/// Stops following a master (REPLICAOF NO ONE). Returns false if we were not a replica.
/// The followed history stays valid for PSYNC up to our offset under replid2, so replicas
/// of the same master can continue from us.
pub fn unfollow(state: &mut State) -> bool {
    if state.repl.master.take().is_none() {
        return false;
    }
    state.config.record_replicaof(None);
    state.repl.master_epoch += 1;
    state.repl.promote();
    // Our replicas' next write must start with a SELECT of its own.
    state.repl.log.force_select();
    state.expire_deletes = true;
    disconnect_master_client(state, "REPLICAOF NO ONE");
    disconnect_replicas(state, "replication ID changed (REPLICAOF NO ONE)");
    tracing::info!(
        replid2 = %state.repl.ids.replid2,
        second_replid_offset = state.repl.ids.second_replid_offset,
        new_replid = %state.repl.ids.replid,
        "replication ID shifted: the followed history stays valid for PSYNC up to our offset"
    );
    true
}

/// A server configured as a replica is one from its first moment, as in Redis: INFO and
/// ROLE say so (link down) while it loads, and it expires nothing itself meanwhile. The link
/// starts once loading is done ([`start_from_config`]).
pub fn configured_before_start(server: &Server) {
    let mut state = server.state.lock();
    if let Some((host, port)) = state.config.replicaof.clone() {
        state.repl.master = Some(MasterLink {
            host,
            port,
            status: LinkStatus::Down,
            link_down_since_unix_ms: Some(unix_time_ms()),
            sync_total_bytes: -1,
            ..MasterLink::default()
        });
        state.expire_deletes = false;
    }
}

/// The `replicaof` directive: follow the configured master from start-up.
/// `continue_history`: the RDB loaded at start-up carried the replication history this
/// server had (repl-id, repl-offset), so the first PSYNC offers it, as Redis does.
pub fn start_from_config(server: &Arc<Server>, continue_history: bool) {
    let mut state = server.state.lock();
    if let Some((host, port)) = state.config.replicaof.clone() {
        // The placeholder of configured_before_start: the link starts here.
        state.repl.master = None;
        follow(server, &mut state, host, port, continue_history);
    }
}

pub(crate) fn disconnect_replicas(state: &State, reason: &str) {
    for id in state.repl.replicas.keys() {
        state.clients.kill(*id, reason);
    }
}

fn disconnect_master_client(state: &State, reason: &str) {
    for client in state.clients.by_id.values() {
        if client.flags.contains('M') {
            client.kill_switch.trip(reason);
        }
    }
}

/// Percent of the payload received. An estimated size can be exceeded: shown as 100 then,
/// never more, until the end of the payload says it is complete.
pub fn sync_percent(received: u64, total: u64) -> f64 {
    if total == 0 {
        return 0.0;
    }
    (received as f64 * 100.0 / total as f64).min(100.0)
}
