//! LPOP RPOP, with the optional count of Redis 6.2+.

use bytes::Bytes;

use super::shared::{End, list_len, pop_elements};
use crate::cmd::{Ctx, errors};
use crate::resp::Reply;
use crate::util::num::parse_i64;

fn pop(ctx: &mut Ctx<'_>, argv: &[Bytes], end: End) -> Reply {
    if argv.len() > 3 {
        return Reply::error(errors::wrong_arity(if end == End::Left {
            "lpop"
        } else {
            "rpop"
        }));
    }
    let count = match argv.get(2) {
        None => None,
        Some(arg) => match parse_i64(arg).and_then(|c| usize::try_from(c).ok()) {
            Some(c) => Some(c),
            None => return Reply::error(errors::NOT_POSITIVE),
        },
    };
    let key = &argv[1];
    match list_len(ctx, key) {
        Err(e) => return e,
        Ok(None) => {
            return if count.is_some() {
                Reply::NilArray
            } else {
                Reply::Nil
            };
        }
        Ok(Some(_)) => {}
    }
    match count {
        None => pop_elements(ctx, key, end, 1)
            .into_iter()
            .next()
            .map_or(Reply::Nil, Reply::Bulk),
        Some(0) => Reply::Array(Vec::new()),
        Some(n) => Reply::bulk_array(pop_elements(ctx, key, end, n)),
    }
}

pub fn lpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    pop(ctx, argv, End::Left)
}

pub fn rpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    pop(ctx, argv, End::Right)
}
