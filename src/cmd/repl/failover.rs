//! FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms] (Redis 7.0): hand the master role to
//! a replica without losing an acknowledged write. See `repl::failover`.

use bytes::Bytes;

use crate::cmd::Ctx;
use crate::repl::failover::{self, Failover, FailoverPhase, Request};
use crate::resp::Reply;

pub fn failover(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let request = match failover::parse(argv) {
        Ok(request) => request,
        Err(error) => return Reply::error(error),
    };
    let (to, force, timeout_ms) = match request {
        Request::Abort => {
            if ctx.state.repl.failover.is_none() {
                return Reply::error("ERR No failover in progress.");
            }
            failover::abort(ctx.state, "Failover manually aborted");
            return Reply::ok();
        }
        Request::Start {
            to,
            force,
            timeout_ms,
        } => (to, force, timeout_ms),
    };
    let repl = &ctx.state.repl;
    if repl.failover.is_some() {
        return Reply::error("ERR FAILOVER already in progress.");
    }
    if repl.is_replica() {
        return Reply::error("ERR FAILOVER is not valid when server is a replica.");
    }
    if repl.replicas.is_empty() {
        return Reply::error("ERR FAILOVER requires connected replicas.");
    }
    if force && (timeout_ms.is_none() || to.is_none()) {
        return Reply::error(
            "ERR FAILOVER with force option requires both a timeout and target HOST and IP.",
        );
    }
    if let Some((host, port)) = &to {
        let target = repl
            .replicas
            .values()
            .find(|r| r.ip.eq_ignore_ascii_case(host) && r.listening_port == *port);
        match target {
            None => return Reply::error("ERR FAILOVER target HOST and PORT is not a replica."),
            Some(r) if !r.phase.is_online() => {
                return Reply::error("ERR FAILOVER target replica is not online.");
            }
            Some(_) => {}
        }
    }
    let now_ms = ctx.now_ms;
    failover::start(
        ctx.state,
        Failover {
            requested_target: to,
            force,
            deadline_unix_ms: timeout_ms.map(|ms| now_ms + ms),
            phase: FailoverPhase::WaitingForSync,
            target: None,
            started_unix_ms: now_ms,
        },
    );
    Reply::ok()
}
