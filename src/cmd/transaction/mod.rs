//! MULTI EXEC DISCARD WATCH UNWATCH.

use bytes::Bytes;

use crate::cmd::flags::*;
use crate::cmd::{CommandSpec, Ctx, dispatch, lookup};
use crate::command;
use crate::resp::Reply;
use crate::resp::reply::QUEUED;
use crate::server::session::MultiState;

pub const COMMANDS: &[CommandSpec] = &[
    command!(
        "multi",
        1,
        NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY,
        (0, 0, 0),
        "transactions",
        multi
    ),
    command!(
        "exec",
        1,
        NOSCRIPT | LOADING | STALE | SKIP_MONITOR,
        (0, 0, 0),
        "transactions",
        exec
    ),
    command!(
        "discard",
        1,
        NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY,
        (0, 0, 0),
        "transactions",
        discard
    ),
    command!(
        "watch",
        -2,
        NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY,
        (1, -1, 1),
        "transactions",
        watch
    ),
    command!(
        "unwatch",
        1,
        NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY,
        (0, 0, 0),
        "transactions",
        unwatch
    ),
];

pub fn queued_reply() -> Reply {
    QUEUED
}

fn multi(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> Reply {
    if ctx.session.multi.is_some() {
        return Reply::error("ERR MULTI calls can not be nested");
    }
    ctx.session.multi = Some(MultiState::default());
    Reply::ok()
}

/// Forgets the transaction and every WATCH of the session.
pub fn discard_transaction(ctx: &mut Ctx<'_>) {
    ctx.session.multi = None;
    unwatch_all(ctx);
}

fn unwatch_all(ctx: &mut Ctx<'_>) {
    let watched = std::mem::take(&mut ctx.session.watched);
    ctx.state.watches.unwatch_all(ctx.session.id, &watched);
}

fn discard(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> Reply {
    if ctx.session.multi.is_none() {
        return Reply::error("ERR DISCARD without MULTI");
    }
    discard_transaction(ctx);
    Reply::ok()
}

fn watch(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    if ctx.session.multi.is_some() {
        return Reply::error("ERR WATCH inside MULTI is not allowed");
    }
    let db = ctx.session.db;
    for key in &argv[1..] {
        let slot = (db, key.clone());
        if !ctx.session.watched.contains(&slot) {
            ctx.state.watches.watch(ctx.session.id, db, key.clone());
            ctx.session.watched.push(slot);
        }
    }
    Reply::ok()
}

fn unwatch(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> Reply {
    unwatch_all(ctx);
    Reply::ok()
}

fn exec(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> Reply {
    let Some(multi) = ctx.session.multi.take() else {
        return Reply::error("ERR EXEC without MULTI");
    };
    if multi.aborted {
        unwatch_all(ctx);
        return Reply::error("EXECABORT Transaction discarded because of previous errors.");
    }
    if ctx.state.watches.is_dirty(ctx.session.id) {
        unwatch_all(ctx);
        return Reply::NilArray;
    }
    unwatch_all(ctx);
    let first_effect = ctx.state.queued_effects();
    let start_db = ctx.session.db;
    let mut replies = Vec::with_capacity(multi.queued.len());
    for argv in &multi.queued {
        let Some(spec) = lookup(&argv[0]) else {
            replies.push(Reply::error(crate::cmd::errors::unknown_command(argv)));
            continue;
        };
        let reply = dispatch::call(ctx.server, ctx.state, ctx.session, spec, argv, true);
        if let Reply::Error(text) = &reply {
            ctx.state.stats.record_error(text);
        }
        replies.push(reply);
    }
    // A transaction reaches replicas as one MULTI ... EXEC block so that it is applied
    // atomically there too.
    let end_db = ctx.session.db;
    ctx.state.wrap_transaction(first_effect, start_db, end_db);
    Reply::Array(replies)
}
