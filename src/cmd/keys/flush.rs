//! FLUSHDB, FLUSHALL, SWAPDB: whole databases at once.

use bytes::Bytes;

use crate::cmd::{Ctx, errors};
use crate::resp::Reply;
use crate::util::num::parse_i64;

/// Databases with at least this many keys are freed on a background thread when ASYNC is
/// asked for, so that the lock is not held while millions of values are dropped.
const ASYNC_FREE_MIN_KEYS: usize = 1024;

/// `[ASYNC|SYNC]`: Some(true) for ASYNC, Some(false) for SYNC or nothing, None on error.
fn parse_flush_mode(argv: &[Bytes]) -> Option<bool> {
    match argv.len() {
        1 => Some(false),
        2 if argv[1].eq_ignore_ascii_case(b"sync") => Some(false),
        2 if argv[1].eq_ignore_ascii_case(b"async") => Some(true),
        _ => None,
    }
}

/// Empties one database: dooms transactions watching a key it held, and returns how many
/// keys were removed.
fn flush_db(ctx: &mut Ctx<'_>, index: usize, background: bool) -> usize {
    let removed = ctx.state.dbs[index].len();
    if removed == 0 {
        return 0;
    }
    let dbs = &ctx.state.dbs;
    ctx.state
        .watches
        .touch_db(Some(index), |db, key| dbs[db].get(key).is_some());
    let old = std::mem::take(&mut ctx.state.dbs[index]);
    // Blocked clients hear of it: a blocked XREADGROUP answers that its group is gone.
    ctx.state.blocking.signal_db(index);
    if background && removed >= ASYNC_FREE_MIN_KEYS {
        std::thread::spawn(move || drop(old));
    }
    removed
}

/// Redis propagates FLUSHDB/FLUSHALL even when there was nothing to delete, so that a
/// replica which holds keys the master does not (writable replica) is flushed too.
fn force_propagation(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    ctx.suppress_own = true;
    ctx.also_propagate(argv.to_vec());
}

/// Every tracking client hears that all keys changed (a null invalidation), whatever was
/// flushed, as Redis signals every flush.
fn invalidate_all_tracked(ctx: &mut Ctx<'_>) {
    if ctx.state.tracking.active() {
        let invalidations = ctx.state.tracking.flush();
        let own = ctx
            .state
            .deliver_invalidations(invalidations, Some(ctx.session.id));
        ctx.after_pushes.extend(own);
    }
}

pub fn flushdb(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let Some(background) = parse_flush_mode(argv) else {
        return Reply::error(errors::SYNTAX);
    };
    let db = ctx.db_index();
    let removed = flush_db(ctx, db, background);
    ctx.add_changes(removed as u64);
    invalidate_all_tracked(ctx);
    force_propagation(ctx, argv);
    Reply::ok()
}

pub fn flushall(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let Some(background) = parse_flush_mode(argv) else {
        return Reply::error(errors::SYNTAX);
    };
    let mut removed = 0;
    for db in 0..ctx.state.dbs.len() {
        removed += flush_db(ctx, db, background);
    }
    // With save points configured Redis 7.0 saves the empty dataset at once (so a restart
    // does not bring the keys back); the flush is then already accounted for.
    if !crate::snapshot::save::after_flushall(ctx.server, ctx.state) {
        ctx.add_changes(removed as u64);
    }
    invalidate_all_tracked(ctx);
    force_propagation(ctx, argv);
    Reply::ok()
}

pub fn swapdb(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let parse = |arg: &[u8], which: &'static str| {
        parse_i64(arg)
            .filter(|v| i32::try_from(*v).is_ok())
            .ok_or_else(|| Reply::error(which))
    };
    let first = match parse(&argv[1], "ERR invalid first DB index") {
        Ok(v) => v,
        Err(e) => return e,
    };
    let second = match parse(&argv[2], "ERR invalid second DB index") {
        Ok(v) => v,
        Err(e) => return e,
    };
    let count = ctx.state.dbs.len();
    let index = |v: i64| usize::try_from(v).ok().filter(|i| *i < count);
    let (Some(a), Some(b)) = (index(first), index(second)) else {
        return Reply::error(errors::DB_INDEX);
    };
    if a != b {
        // A watched key changes if it exists on either side of the swap.
        let dbs = &ctx.state.dbs;
        let on_either = |key: &[u8]| dbs[a].get(key).is_some() || dbs[b].get(key).is_some();
        ctx.state.watches.touch_db(Some(a), |_, key| on_either(key));
        ctx.state.watches.touch_db(Some(b), |_, key| on_either(key));
        ctx.state.dbs.swap(a, b);
        // Blocked clients stay on their db index, whose content just changed.
        ctx.state.blocking.signal_db(a);
        ctx.state.blocking.signal_db(b);
    }
    ctx.add_changes(1);
    Reply::ok()
}
