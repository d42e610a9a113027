//! DEL, UNLINK, EXISTS, TOUCH, TYPE.

use bytes::Bytes;

use crate::cmd::Ctx;
use crate::resp::Reply;

/// DEL and UNLINK: memory is freed when the last reference drops, so both are the same.
pub fn del(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let mut deleted = 0;
    for key in &argv[1..] {
        if ctx.delete(key) {
            deleted += 1;
        }
    }
    Reply::integer(deleted)
}

/// EXISTS and TOUCH: how many of the keys (repeats counted) exist.
pub fn exists(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let found = argv[1..]
        .iter()
        .filter(|key| ctx.lookup_read(key).is_some())
        .count();
    Reply::integer(found)
}

pub fn type_(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    match ctx.lookup_read(&argv[1]) {
        Some(entry) => Reply::simple(entry.value.value_type().name()),
        None => Reply::simple("none"),
    }
}
