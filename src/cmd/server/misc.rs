use bytes::Bytes;

use super::shutdown;
use crate::cmd::{Ctx, errors};
use crate::resp::Reply;
use crate::server::blocking::{BlockRequest, Resume};
use crate::server::clients::Outbound;
use crate::server::unix_time_us;

pub fn time(_ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> Reply {
    let now = unix_time_us();
    Reply::Array(vec![
        Reply::bulk(Bytes::from((now / 1_000_000).to_string())),
        Reply::bulk(Bytes::from((now % 1_000_000).to_string())),
    ])
}

pub fn lastsave(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> Reply {
    Reply::integer(ctx.state.lastsave_unix)
}

pub fn monitor(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> Reply {
    if ctx.session.multi.is_some() || ctx.nested {
        return Reply::error("ERR MONITOR isn't allowed for DENY BLOCKING client");
    }
    if !ctx.session.is_monitor {
        ctx.session.is_monitor = true;
        ctx.state.clients.monitors.push(ctx.session.id);
    }
    Reply::ok()
}

pub fn shutdown(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let (mut nosave, mut save) = (false, false);
    let mut abort = false;
    let mut now = false;
    let mut force = false;
    for arg in &argv[1..] {
        match arg.to_ascii_lowercase().as_slice() {
            b"nosave" => nosave = true,
            b"save" => save = true,
            b"now" => now = true,
            b"force" => force = true,
            b"abort" => abort = true,
            _ => return Reply::error(errors::SYNTAX),
        }
    }
    if save && nosave {
        return Reply::error(errors::SYNTAX);
    }
    let save = if save {
        Some(true)
    } else if nosave {
        Some(false)
    } else {
        None
    };
    if abort {
        if argv.len() > 2 {
            return Reply::error(errors::SYNTAX);
        }
        return match shutdown::abort(ctx.state) {
            None => Reply::error("ERR No shutdown in progress."),
            Some(caller) => {
                if let Some(id) = caller
                    && ctx.state.blocking.unblock(id).is_some()
                    && let Some(client) = ctx.state.clients.get(id)
                {
                    client.send(
                        Outbound::Unblocked(Reply::error(
                            "ERR Errors trying to SHUTDOWN. Check logs.",
                        )),
                        0,
                    );
                }
                Reply::ok()
            }
        };
    }
    tracing::warn!(client = ctx.session.id, "User requested shutdown...");
    let server = ctx.server.self_arc();
    match shutdown::begin(&server, ctx.state, now, Some(ctx.session.id), save, force) {
        shutdown::Begun::AlreadyPending | shutdown::Begun::SaveFailed => {
            Reply::error("ERR Errors trying to SHUTDOWN. Check logs.")
        }
        shutdown::Begun::Immediate => {
            ctx.session.close_after_reply = true;
            // Redis closes the connection without a reply when the shutdown goes ahead.
            Reply::Raw(b"")
        }
        shutdown::Begun::Waiting => {
            // The caller waits, unanswered, until the server exits (or ABORT answers it).
            ctx.session.pending_block = Some(BlockRequest {
                keys: Vec::new(),
                deadline_ms: None,
                args: Vec::new(),
                resume: Resume::Never,
                timeout_reply: Reply::Nil,
                wait: None,
            });
            Reply::Raw(b"")
        }
    }
}
