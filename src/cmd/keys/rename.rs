//! RENAME, RENAMENX, MOVE, COPY: a value (and its expiry) changes name or database.

use crate::config::keyspace_events as events;
use bytes::Bytes;

use crate::cmd::{Ctx, errors};
use crate::resp::Reply;
use crate::store::{Entry, ValueType};
use crate::util::num::parse_i64;

const SAME_OBJECT: &str = "ERR source and destination objects are the same";

pub fn rename(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    rename_generic(ctx, argv, false)
}

pub fn renamenx(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    rename_generic(ctx, argv, true)
}

/// Clients blocked on a list, sorted set or stream may be served by a key that appears
/// under their name (Redis's `dbAdd` signals them).
pub(super) fn signal_if_poppable(ctx: &mut Ctx<'_>, db: usize, key: &[u8], entry: &Entry) {
    if matches!(
        entry.value.value_type(),
        ValueType::List | ValueType::ZSet | ValueType::Stream
    ) {
        ctx.key_ready_in(db, key);
    }
}

fn rename_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], nx: bool) -> Reply {
    let (src, dst) = (&argv[1], &argv[2]);
    let Some(entry) = ctx.lookup(src).cloned() else {
        return Reply::error(errors::NO_SUCH_KEY);
    };
    if src == dst {
        return if nx { Reply::Integer(0) } else { Reply::ok() };
    }
    if ctx.exists(dst) {
        if nx {
            return Reply::Integer(0);
        }
        ctx.db().remove(dst);
    }
    let db = ctx.db_index();
    signal_if_poppable(ctx, db, dst, &entry);
    // Redis deletes the destination and adds it anew: `new` comes even for a replaced one.
    ctx.db().remove(dst);
    ctx.insert_entry(dst, entry);
    ctx.db().remove(src);
    // One change for the dirty counter (as in Redis), both names for WATCH.
    ctx.modified(src);
    ctx.state.watches.touch(db, dst);
    ctx.notify(events::GENERIC, "rename_from", src);
    ctx.notify(events::GENERIC, "rename_to", dst);
    if nx { Reply::Integer(1) } else { Reply::ok() }
}

/// A database index argument, checked as Redis's `getIntFromObjectOrReply` and `selectDb`
/// do: an integer, within C int, then within the configured databases.
fn parse_db_index(ctx: &Ctx<'_>, arg: &[u8]) -> Result<usize, Reply> {
    let index = parse_i64(arg).ok_or_else(|| Reply::error(errors::NOT_INTEGER))?;
    if i32::try_from(index).is_err() {
        return Err(Reply::error(
            "ERR value is out of range, value must between -2147483648 and 2147483647",
        ));
    }
    usize::try_from(index)
        .ok()
        .filter(|i| *i < ctx.state.dbs.len())
        .ok_or_else(|| Reply::error(errors::DB_INDEX))
}

/// Whether `key` is live in database `db`, deleting it there first if it has expired.
fn exists_in(ctx: &mut Ctx<'_>, db: usize, key: &[u8]) -> bool {
    if ctx.expire_if_needed(db, key) {
        return false;
    }
    ctx.state.dbs[db].get(key).is_some()
}

pub fn move_(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let key = &argv[1];
    let dst = match parse_db_index(ctx, &argv[2]) {
        Ok(d) => d,
        Err(e) => return e,
    };
    let src = ctx.db_index();
    if src == dst {
        return Reply::error(SAME_OBJECT);
    }
    let Some(entry) = ctx.lookup(key).cloned() else {
        return Reply::Integer(0);
    };
    if exists_in(ctx, dst, key) {
        return Reply::Integer(0);
    }
    signal_if_poppable(ctx, dst, key, &entry);
    ctx.insert_entry_in(dst, key, entry);
    ctx.db().remove(key);
    ctx.modified(key);
    ctx.state.watches.touch(dst, key);
    ctx.notify_in(src, events::GENERIC, "move_from", key);
    ctx.notify_in(dst, events::GENERIC, "move_to", key);
    Reply::Integer(1)
}

pub fn copy(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let (key, new_key) = (&argv[1], &argv[2]);
    let src = ctx.db_index();
    let mut dst = src;
    let mut replace = false;
    let mut j = 3;
    while j < argv.len() {
        let opt = argv[j].to_ascii_lowercase();
        if opt == b"replace" {
            replace = true;
        } else if opt == b"db" && j + 1 < argv.len() {
            dst = match parse_db_index(ctx, &argv[j + 1]) {
                Ok(d) => d,
                Err(e) => return e,
            };
            j += 1;
        } else {
            return Reply::error(errors::SYNTAX);
        }
        j += 1;
    }
    if src == dst && key == new_key {
        return Reply::error(SAME_OBJECT);
    }
    // Values are shared copy-on-write: the copy costs a reference until either side changes.
    let Some(entry) = ctx.lookup_read(key).cloned() else {
        return Reply::Integer(0);
    };
    if exists_in(ctx, dst, new_key) {
        if !replace {
            return Reply::Integer(0);
        }
        ctx.state.dbs[dst].remove(new_key);
    }
    signal_if_poppable(ctx, dst, new_key, &entry);
    ctx.insert_entry_in(dst, new_key, entry);
    ctx.modified_in(dst, new_key);
    ctx.notify_in(dst, events::GENERIC, "copy_to", new_key);
    Reply::Integer(1)
}
