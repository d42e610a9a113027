//! XDEL XTRIM XSETID.

use crate::config::keyspace_events as events;
use bytes::Bytes;

use super::id::parse_id;
use super::shared::{node_limits, peek_stream, write_stream};
use super::trim::parse_add_or_trim;
use crate::cmd::ctx::Ctx;
use crate::cmd::errors;
use crate::resp::Reply;
use crate::util::num::parse_i64;

/// `XDEL key id ...`: every ID is checked before any entry goes.
pub fn xdel(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let key = &argv[1];
    let mut ids = Vec::with_capacity(argv.len() - 2);
    for arg in &argv[2..] {
        match parse_id(arg) {
            Ok(id) => ids.push(id),
            Err(e) => return e,
        }
    }
    match peek_stream(ctx, key) {
        Ok(Some(s)) if ids.iter().any(|id| s.get(*id).is_some()) => {}
        Ok(_) => return Reply::Integer(0),
        Err(e) => return e,
    }
    let Some(stream) = write_stream(ctx, key, false) else {
        return Reply::Integer(0);
    };
    let deleted = ids.iter().filter(|id| stream.remove(**id)).count();
    ctx.modified(key);
    if deleted > 0 {
        ctx.notify(events::STREAM, "xdel", key);
    }
    ctx.add_changes((deleted as u64).saturating_sub(1));
    Reply::integer(deleted)
}

/// `XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT count]`: how many entries went.
pub fn xtrim(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let key = &argv[1];
    let trim = match parse_add_or_trim(
        argv,
        2,
        false,
        ctx.session.source.from_master(),
        node_limits(ctx).entries_max,
    ) {
        Ok(super::trim::Parsed {
            trim: Some(trim), ..
        }) => trim,
        Ok(_) => return Reply::error(errors::SYNTAX),
        Err(e) => return e,
    };
    match peek_stream(ctx, key) {
        Ok(Some(_)) => {}
        Ok(None) => return Reply::Integer(0),
        Err(e) => return e,
    }
    let Some(stream) = write_stream(ctx, key, false) else {
        return Reply::Integer(0);
    };
    let removed = trim.apply(stream);
    let exact = trim.exact_args(stream);
    if removed > 0 {
        ctx.modified(key);
        ctx.add_changes((removed as u64).saturating_sub(1));
        ctx.notify(events::STREAM, "xtrim", key);
        let mut effect = vec![Bytes::from_static(b"XTRIM"), key.clone()];
        effect.extend(exact);
        ctx.rewrite(effect);
    }
    Reply::integer(removed)
}

/// `XSETID key last-id [ENTRIESADDED n] [MAXDELETEDID id]`.
pub fn xsetid(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let key = &argv[1];
    let last_id = match parse_id(&argv[2]) {
        Ok(id) => id,
        Err(e) => return e,
    };
    let mut entries_added = None;
    let mut max_deleted = None;
    let mut i = 3;
    while i < argv.len() {
        let Some(value) = argv.get(i + 1) else {
            return Reply::error(errors::SYNTAX);
        };
        if argv[i].eq_ignore_ascii_case(b"ENTRIESADDED") {
            match parse_i64(value).map(u64::try_from) {
                Some(Ok(n)) => entries_added = Some(n),
                Some(Err(_)) => {
                    return Reply::error("ERR entries_added must be positive");
                }
                None => return Reply::error(errors::NOT_INTEGER),
            }
        } else if argv[i].eq_ignore_ascii_case(b"MAXDELETEDID") {
            match parse_id(value) {
                Ok(id) => max_deleted = Some(id),
                Err(e) => return e,
            }
        } else {
            return Reply::error(errors::SYNTAX);
        }
        i += 2;
    }
    if let Some(max) = max_deleted
        && last_id < max
    {
        return Reply::error(
            "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
        );
    }
    let stream = match peek_stream(ctx, key) {
        Ok(Some(s)) => s,
        Ok(None) => return Reply::error(errors::NO_SUCH_KEY),
        Err(e) => return e,
    };
    if let Some(n) = entries_added
        && usize::try_from(n).is_ok_and(|n| n < stream.len())
    {
        return Reply::error(
            "ERR The entries_added specified in XSETID is smaller than the target stream length",
        );
    }
    if let Some((top, _)) = stream.last_entry()
        && last_id < top
    {
        return Reply::error(
            "ERR The ID specified in XSETID is smaller than the target stream top item",
        );
    }
    drop(stream);
    let Some(stream) = write_stream(ctx, key, false) else {
        return Reply::error(errors::NO_SUCH_KEY);
    };
    stream.last_id = last_id;
    if let Some(n) = entries_added {
        stream.entries_added = n;
    }
    if let Some(max) = max_deleted {
        stream.max_deleted_entry_id = max;
    }
    ctx.modified(key);
    ctx.notify(events::STREAM, "xsetid", key);
    Reply::ok()
}
