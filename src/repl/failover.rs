//! FAILOVER (Redis 7.0): a master pauses writes, waits until a replica has acknowledged
//! everything, then becomes that replica's replica with `PSYNC <replid> <offset> FAILOVER`,
//! which tells the replica to promote itself first. No acknowledged write can be lost: the
//! handover starts only once the target holds the whole log.
//!
//! This module is the pure part: the arguments and the decision each cron tick makes. The
//! command, the pause and the link live with the rest of replication.

use crate::server::State;
use crate::server::pause::{PauseKind, PausePurpose};
use crate::server::replication::{Failover, FailoverPhase};

/// One attached replica as the failover sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub host: String,
    pub port: u16,
    pub online: bool,
    pub ack_offset: u64,
}

/// What a tick decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Wait,
    /// Follow this replica with `PSYNC … FAILOVER`.
    HandOver {
        host: String,
        port: u16,
        forced: bool,
    },
    Abort(&'static str),
}

/// The decision of one tick in `waiting-for-sync`: a target that has acknowledged the whole
/// log (`end_offset`) gets the handover; past the deadline, FORCE hands over anyway and
/// otherwise the failover is abandoned.
pub fn step(failover: &Failover, replicas: &[Candidate], end_offset: u64, now_ms: u64) -> Step {
    if failover.phase != FailoverPhase::WaitingForSync {
        return Step::Wait;
    }
    let caught_up = |c: &&Candidate| c.online && c.ack_offset == end_offset;
    let chosen = match &failover.requested_target {
        Some((host, port)) => replicas
            .iter()
            .find(|c| c.host.eq_ignore_ascii_case(host) && c.port == *port),
        None => replicas.iter().find(caught_up),
    };
    if let Some(c) = chosen.filter(caught_up) {
        return Step::HandOver {
            host: c.host.clone(),
            port: c.port,
            forced: false,
        };
    }
    match failover.deadline_unix_ms {
        Some(deadline) if now_ms >= deadline => {
            match (&failover.requested_target, failover.force) {
                (Some((host, port)), true) => Step::HandOver {
                    host: host.clone(),
                    port: *port,
                    forced: true,
                },
                _ => Step::Abort("Replica never caught up before timeout"),
            }
        }
        _ => Step::Wait,
    }
}

// ---------------------------------------------------------------------------------------
// Driving it: the state changes the command, the cron and the link make
// ---------------------------------------------------------------------------------------

/// Starts a failover: writes of normal clients wait from now on, and expired keys are only
/// hidden, not deleted, so that nothing moves the offset the target must reach.
pub fn start(state: &mut State, failover: Failover) {
    match &failover.requested_target {
        Some((host, port)) => tracing::info!("FAILOVER requested to {host}:{port}"),
        None => tracing::info!("FAILOVER requested to any replica"),
    }
    state.repl.failover = Some(failover);
    state
        .pauses
        .pause(PausePurpose::Failover, PauseKind::Write, u64::MAX);
}

/// One cron tick: hands over once the target caught up, or gives up at the deadline.
pub fn tick(server: &crate::server::Server, state: &mut State, now_ms: u64) {
    let Some(failover) = &state.repl.failover else {
        return;
    };
    let candidates: Vec<Candidate> = state
        .repl
        .replicas
        .values()
        .map(|r| Candidate {
            host: r.ip.clone(),
            port: r.listening_port,
            online: r.phase.is_online(),
            ack_offset: r.ack_offset,
        })
        .collect();
    match step(failover, &candidates, state.repl.log.end_offset(), now_ms) {
        Step::Wait => {}
        Step::Abort(reason) => abort(state, reason),
        Step::HandOver { host, port, forced } => {
            if forced {
                tracing::warn!("FAILOVER to {host}:{port} time out exceeded, failing over.");
            } else {
                tracing::info!(
                    "FAILOVER target {host}:{port} has acknowledged offset {}: handing over",
                    state.repl.log.end_offset()
                );
            }
            if let Some(f) = state.repl.failover.as_mut() {
                f.phase = FailoverPhase::InProgress;
                f.target = Some((host.clone(), port));
            }
            crate::repl::role::follow_for_failover(server, state, host, port);
        }
    }
}

/// Gives the failover up: a master that already followed its target becomes a master again
/// (with a new replication ID, as after REPLICAOF NO ONE), and paused writes run.
pub fn abort(state: &mut State, reason: &str) {
    let Some(failover) = state.repl.failover.take() else {
        return;
    };
    tracing::warn!("FAILOVER aborted: {reason}");
    if failover.phase == FailoverPhase::InProgress {
        crate::repl::role::unfollow(state);
    }
    clear(state);
}

/// Ends the failover (done or abandoned) and lets paused writes run.
fn clear(state: &mut State) {
    state.repl.failover = None;
    state.pauses.unpause(PausePurpose::Failover);
}

/// The target answered our `PSYNC … FAILOVER` with a sync: we are its replica now.
pub fn completed(state: &mut State) {
    if let Some(failover) = state.repl.failover.as_ref() {
        let elapsed_ms = crate::server::unix_time_ms().saturating_sub(failover.started_unix_ms);
        tracing::info!("FAILOVER completed in {elapsed_ms} ms: this server is now a replica");
    }
    clear(state);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failover(target: Option<(&str, u16)>, force: bool, deadline: Option<u64>) -> Failover {
        Failover {
            requested_target: target.map(|(h, p)| (h.to_string(), p)),
            force,
            deadline_unix_ms: deadline,
            phase: FailoverPhase::WaitingForSync,
            target: None,
            started_unix_ms: 0,
        }
    }

    fn replica(port: u16, ack: u64) -> Candidate {
        Candidate {
            host: "127.0.0.1".into(),
            port,
            online: true,
            ack_offset: ack,
        }
    }

    #[test]
    fn hands_over_only_to_a_replica_holding_the_whole_log() {
        let any = failover(None, false, None);
        let replicas = [replica(1, 90), replica(2, 100)];
        assert_eq!(
            step(&any, &replicas, 100, 0),
            Step::HandOver {
                host: "127.0.0.1".into(),
                port: 2,
                forced: false
            }
        );
        assert_eq!(step(&any, &replicas, 101, 0), Step::Wait);
        let to_first = failover(Some(("127.0.0.1", 1)), false, None);
        assert_eq!(step(&to_first, &replicas, 100, 0), Step::Wait);
        assert!(matches!(
            step(&to_first, &[replica(1, 100)], 100, 0),
            Step::HandOver { port: 1, .. }
        ));
        let mut offline = replica(2, 100);
        offline.online = false;
        assert_eq!(step(&any, &[offline], 100, 0), Step::Wait);
    }

    #[test]
    fn the_deadline_aborts_unless_forced() {
        let replicas = [replica(1, 50)];
        let plain = failover(Some(("127.0.0.1", 1)), false, Some(1000));
        assert_eq!(step(&plain, &replicas, 100, 999), Step::Wait);
        assert_eq!(
            step(&plain, &replicas, 100, 1000),
            Step::Abort("Replica never caught up before timeout")
        );
        let forced = failover(Some(("127.0.0.1", 1)), true, Some(1000));
        assert_eq!(
            step(&forced, &replicas, 100, 1000),
            Step::HandOver {
                host: "127.0.0.1".into(),
                port: 1,
                forced: true
            }
        );
        let mut in_progress = forced.clone();
        in_progress.phase = FailoverPhase::InProgress;
        assert_eq!(step(&in_progress, &replicas, 100, 5000), Step::Wait);
    }
}
