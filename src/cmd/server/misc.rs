use bytes::Bytes;

use crate::cmd::{Ctx, errors};
use crate::resp::Reply;
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
    let mut save: Option<bool> = None;
    let mut abort = false;
    for arg in &argv[1..] {
        match arg.to_ascii_lowercase().as_slice() {
            b"nosave" => save = Some(false),
            b"save" => save = Some(true),
            b"now" | b"force" => {}
            b"abort" => abort = true,
            _ => return Reply::error(errors::SYNTAX),
        }
    }
    if abort {
        return Reply::error("ERR No shutdown in progress.");
    }
    if save == Some(true) {
        // Snapshots arrive with the RDB codec; refusing is better than pretending to save.
        tracing::warn!("SHUTDOWN SAVE refused: RDB persistence is not available in this build");
        return Reply::error("ERR Errors trying to SHUTDOWN. Check logs.");
    }
    tracing::warn!(client = ctx.session.id, "User requested shutdown...");
    ctx.server.request_shutdown();
    ctx.session.close_after_reply = true;
    // Redis closes the connection without a reply when the shutdown goes ahead.
    Reply::Raw(b"")
}
