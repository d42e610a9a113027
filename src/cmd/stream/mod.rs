//! Stream commands (Redis 7.0): XADD XLEN XRANGE XREVRANGE XDEL XTRIM XSETID XREAD, the
//! consumer groups' XGROUP XREADGROUP XACK XPENDING XCLAIM XAUTOCLAIM (both reads block),
//! and XINFO.

mod add;
mod group;
mod id;
mod info;
mod pel;
mod range;
mod read;
mod readgroup;
mod remove;
#[cfg(test)]
mod tests;
mod trim;

use std::sync::Arc;

use crate::cmd::flags::*;
use crate::cmd::{CommandSpec, Ctx, errors};
use crate::command;
use crate::resp::Reply;
use crate::store::Value;
use crate::store::stream::{Fields, Stream, StreamId};

pub(crate) use read::serve_xread;
pub(crate) use readgroup::serve_xreadgroup;

pub const COMMANDS: &[CommandSpec] = &[
    command!(
        "xadd",
        -5,
        WRITE | DENYOOM | FAST,
        (1, 1, 1),
        "stream",
        add::xadd
    ),
    command!("xlen", 2, READONLY | FAST, (1, 1, 1), "stream", range::xlen),
    command!("xrange", -4, READONLY, (1, 1, 1), "stream", range::xrange),
    command!(
        "xrevrange",
        -4,
        READONLY,
        (1, 1, 1),
        "stream",
        range::xrevrange
    ),
    command!("xdel", -3, WRITE | FAST, (1, 1, 1), "stream", remove::xdel),
    command!("xtrim", -4, WRITE, (1, 1, 1), "stream", remove::xtrim),
    command!(
        "xsetid",
        -3,
        WRITE | DENYOOM | FAST,
        (1, 1, 1),
        "stream",
        remove::xsetid
    ),
    command!("xread", -4, READONLY, (0, 0, 0), "stream", read::xread),
    command!("xinfo", -2, READONLY, (2, 2, 1), "stream", info::xinfo),
    command!("xgroup", -2, WRITE, (2, 2, 1), "stream", group::xgroup),
    command!(
        "xreadgroup",
        -7,
        WRITE,
        (0, 0, 0),
        "stream",
        readgroup::xreadgroup
    ),
    command!("xack", -4, WRITE | FAST, (1, 1, 1), "stream", pel::xack),
    command!("xpending", -3, READONLY, (1, 1, 1), "stream", pel::xpending),
    command!("xclaim", -6, WRITE | FAST, (1, 1, 1), "stream", pel::xclaim),
    command!(
        "xautoclaim",
        -6,
        WRITE | FAST,
        (1, 1, 1),
        "stream",
        pel::xautoclaim
    ),
];

/// The stream at `key` for reading (hit/miss counted).
fn read_stream(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<Arc<Stream>>, Reply> {
    match ctx.lookup_read(key).map(|e| &e.value) {
        None => Ok(None),
        Some(Value::Stream(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Reply::error(errors::WRONGTYPE)),
    }
}

/// The stream at `key` for a write's checks. Drop the `Arc` before changing the stream, or
/// the change copies it.
fn peek_stream(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<Arc<Stream>>, Reply> {
    match ctx.lookup(key).map(|e| &e.value) {
        None => Ok(None),
        Some(Value::Stream(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Reply::error(errors::WRONGTYPE)),
    }
}

/// The stream at `key` to change, created if `create`; `None` if absent (or not a stream,
/// which callers have ruled out with [`peek_stream`]).
fn write_stream<'c>(ctx: &'c mut Ctx<'_>, key: &[u8], create: bool) -> Option<&'c mut Stream> {
    if create && ctx.lookup(key).is_none() {
        ctx.db()
            .insert(key, crate::store::Entry::new(Value::new_stream()));
    }
    match ctx.lookup_write(key).map(|e| &mut e.value) {
        Some(Value::Stream(s)) => Some(Arc::make_mut(s)),
        _ => None,
    }
}

/// One entry as Redis replies it: `[id, [field, value, ...]]`.
fn entry_reply(id: StreamId, fields: &Fields) -> Reply {
    Reply::Array(vec![
        Reply::Bulk(id.to_bytes()),
        Reply::Array(fields.iter().cloned().map(Reply::Bulk).collect()),
    ])
}

fn entries_reply(entries: Vec<(StreamId, &Fields)>) -> Reply {
    Reply::Array(
        entries
            .into_iter()
            .map(|(id, fields)| entry_reply(id, fields))
            .collect(),
    )
}

/// `COUNT n` where a negative count means none (Redis clamps it to 0) and 0 means no limit.
fn parse_count(arg: &[u8]) -> Result<usize, Reply> {
    match crate::util::num::parse_i64(arg) {
        Some(n) if n <= 0 => Ok(usize::MAX),
        Some(n) => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
        None => Err(Reply::error(errors::NOT_INTEGER)),
    }
}
