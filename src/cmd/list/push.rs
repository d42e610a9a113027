//! LPUSH RPUSH LPUSHX RPUSHX.

use bytes::Bytes;

use super::shared::{End, list_len, push_elements};
use crate::cmd::Ctx;
use crate::resp::Reply;

fn push(ctx: &mut Ctx<'_>, argv: &[Bytes], end: End, only_existing: bool) -> Reply {
    let key = &argv[1];
    if only_existing {
        match list_len(ctx, key) {
            Ok(Some(_)) => {}
            Ok(None) => return Reply::Integer(0),
            Err(e) => return e,
        }
    }
    match push_elements(ctx, key, end, &argv[2..]) {
        Ok(len) => Reply::integer(len),
        Err(e) => e,
    }
}

pub fn lpush(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    push(ctx, argv, End::Left, false)
}

pub fn rpush(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    push(ctx, argv, End::Right, false)
}

pub fn lpushx(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    push(ctx, argv, End::Left, true)
}

pub fn rpushx(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    push(ctx, argv, End::Right, true)
}
