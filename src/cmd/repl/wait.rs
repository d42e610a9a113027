use bytes::Bytes;

use crate::cmd::{Ctx, errors};
use crate::resp::Reply;
use crate::server::blocking::{BlockRequest, Resume};
use crate::util::num::parse_i64;

/// WAIT numreplicas timeout-ms: blocks until that many replicas acknowledged the client's
/// last write, or the timeout passes; answers the number that did.
pub fn wait(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    if ctx.state.repl.is_replica() {
        return Reply::error(
            "ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is \
             configured to be writable (which is not the default) writes to replicas are just local and are not \
             propagated.",
        );
    }
    let Some(wanted) = parse_i64(&argv[1]) else {
        return Reply::error(errors::NOT_INTEGER);
    };
    let Some(timeout_ms) = parse_i64(&argv[2]) else {
        return Reply::error("ERR timeout is not an integer or out of range");
    };
    if timeout_ms < 0 {
        return Reply::error("ERR timeout is negative");
    }
    let target = ctx.session.last_write_offset;
    let acked = crate::repl::wait::count_acked(ctx.state, target);
    if ctx.nested || acked as i64 >= wanted {
        return Reply::integer(acked);
    }
    // Ask every replica for an ACK now instead of waiting for its next periodic one.
    ctx.state.repl.getack_requested = true;
    ctx.session.pending_block = Some(BlockRequest {
        keys: Vec::new(),
        deadline_ms: (timeout_ms > 0).then(|| ctx.now_ms + timeout_ms as u64),
        args: Vec::new(),
        resume: Resume::Never,
        timeout_reply: Reply::Integer(0),
        wait: Some((target, usize::try_from(wanted).unwrap_or(0))),
    });
    Reply::Integer(0)
}
