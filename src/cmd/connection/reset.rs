use bytes::Bytes;

use crate::cmd::Ctx;
use crate::resp::{Protocol, Reply};
use crate::server::session::ReplyMode;

pub fn quit(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> Reply {
    ctx.session.close_after_reply = true;
    Reply::ok()
}

pub fn reset(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> Reply {
    reset_session(ctx);
    Reply::simple("RESET")
}

/// Returns the connection to its just-connected state (RESET).
pub fn reset_session(ctx: &mut Ctx<'_>) {
    let id = ctx.session.id;
    crate::cmd::transaction::discard_transaction(ctx);
    crate::cmd::pubsub::unsubscribe_everything(ctx);
    ctx.state.tracking.disable(ctx.session.id);
    ctx.state.clients.monitors.retain(|&m| m != id);
    ctx.session.is_monitor = false;
    ctx.session.db = 0;
    ctx.session.protocol = Protocol::Resp2;
    ctx.session.name = None;
    ctx.session.reply_mode = ReplyMode::On;
    ctx.session.no_evict = false;
    ctx.session.authenticated = ctx.state.config.requirepass.is_none();
}
