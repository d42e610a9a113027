//! XLEN XRANGE XREVRANGE.

use bytes::Bytes;

use super::id::{Bound, parse_range_bound};
use super::shared::{entries_reply, read_stream};
use crate::cmd::ctx::Ctx;
use crate::cmd::errors;
use crate::resp::Reply;
use crate::util::num::parse_i64;

pub fn xlen(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    match read_stream(ctx, &argv[1]) {
        Ok(s) => Reply::integer(s.map_or(0, |s| s.len())),
        Err(e) => e,
    }
}

pub fn xrange(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    range_generic(ctx, argv, false)
}

pub fn xrevrange(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    range_generic(ctx, argv, true)
}

fn range_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], reverse: bool) -> Reply {
    let (start_arg, end_arg) = if reverse {
        (&argv[3], &argv[2])
    } else {
        (&argv[2], &argv[3])
    };
    let start = match parse_range_bound(start_arg, Bound::Start) {
        Ok(id) => id,
        Err(e) => return e,
    };
    let end = match parse_range_bound(end_arg, Bound::End) {
        Ok(id) => id,
        Err(e) => return e,
    };
    let mut count = usize::MAX;
    let mut j = 4;
    while j < argv.len() {
        if !argv[j].eq_ignore_ascii_case(b"COUNT") || j + 1 >= argv.len() {
            return Reply::error(errors::SYNTAX);
        }
        match parse_i64(&argv[j + 1]) {
            // A negative count is 0, which answers a null array.
            Some(n) => count = usize::try_from(n.max(0)).unwrap_or(usize::MAX),
            None => return Reply::error(errors::NOT_INTEGER),
        }
        j += 2;
    }
    let stream = match read_stream(ctx, &argv[1]) {
        Ok(Some(s)) => s,
        Ok(None) => return Reply::Array(Vec::new()),
        Err(e) => return e,
    };
    if count == 0 {
        return Reply::NilArray;
    }
    entries_reply(stream.range(start, end, reverse, count))
}
