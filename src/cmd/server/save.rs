//! SAVE and BGSAVE. Both snapshot the dataset at once (pointer copies under the lock) and
//! write it on a thread; SAVE's caller waits for the file, other clients are served
//! meanwhile (Redis blocks the whole server during SAVE; nothing requires that).

use bytes::Bytes;

use crate::cmd::{Ctx, errors};
use crate::resp::Reply;
use crate::server::blocking::{BlockRequest, Resume};
use crate::snapshot::save::{self, SaveKind};

pub fn save(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> Reply {
    let id = ctx.session.id;
    if let Err(reply) = save::start(ctx.server, ctx.state, SaveKind::Foreground, Some(id)) {
        return Reply::error(reply);
    }
    if ctx.state.persistence.active.is_none() {
        // Already finished (nothing to write to disk).
        return Reply::ok();
    }
    // The save thread answers when the file is on disk.
    ctx.session.pending_block = Some(BlockRequest {
        keys: Vec::new(),
        deadline_ms: None,
        args: Vec::new(),
        resume: Resume::Never,
        timeout_reply: Reply::error("ERR"),
        wait: None,
    });
    Reply::Raw(b"")
}

pub fn bgsave(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    // SCHEDULE matters in Redis only while another kind of child (an AOF rewrite) runs;
    // sluice has none, so it is accepted and starts the save at once.
    let schedule_ok = argv.len() == 2 && argv[1].eq_ignore_ascii_case(b"schedule");
    if argv.len() > 1 && !schedule_ok {
        return Reply::error(errors::SYNTAX);
    }
    if ctx.state.persistence.active.is_some() {
        return Reply::error("ERR Background save already in progress");
    }
    if ctx.nested {
        // Inside a transaction Redis defers the fork until EXEC is over.
        ctx.state.persistence.bgsave_scheduled = true;
        return Reply::simple("Background saving scheduled");
    }
    match save::start(ctx.server, ctx.state, SaveKind::Background, None) {
        Ok(()) => Reply::simple("Background saving started"),
        Err(reply) => Reply::error(reply),
    }
}
