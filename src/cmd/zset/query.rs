//! ZCARD ZSCORE ZMSCORE ZCOUNT ZLEXCOUNT ZRANK ZREVRANK.

use bytes::Bytes;

use super::score::{parse_lex_range, parse_score_range};
use crate::cmd::{Ctx, errors};
use crate::resp::Reply;

pub fn zcard(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    match ctx.read_zset(&argv[1]) {
        Ok(z) => Reply::integer(z.map_or(0, |z| z.len())),
        Err(e) => e,
    }
}

pub fn zscore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    match ctx.read_zset(&argv[1]) {
        Ok(z) => z
            .and_then(|z| z.score(&argv[2]))
            .map_or(Reply::Nil, Reply::Double),
        Err(e) => e,
    }
}

pub fn zmscore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let zset = match ctx.read_zset(&argv[1]) {
        Ok(z) => z,
        Err(e) => return e,
    };
    Reply::Array(
        argv[2..]
            .iter()
            .map(|m| {
                zset.as_ref()
                    .and_then(|z| z.score(m))
                    .map_or(Reply::Nil, Reply::Double)
            })
            .collect(),
    )
}

pub fn zcount(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let Some(range) = parse_score_range(&argv[2], &argv[3]) else {
        return Reply::error(errors::MIN_MAX_NOT_FLOAT);
    };
    match ctx.read_zset(&argv[1]) {
        Ok(Some(z)) => {
            let (start, end) = z.score_range_ranks(&range);
            Reply::integer(end - start)
        }
        Ok(None) => Reply::Integer(0),
        Err(e) => e,
    }
}

pub fn zlexcount(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let Some((min, max)) = parse_lex_range(&argv[2], &argv[3]) else {
        return Reply::error(errors::MIN_MAX_NOT_STRING);
    };
    match ctx.read_zset(&argv[1]) {
        Ok(Some(z)) => {
            let Some(first) = z.lex_first_in_range(&min, &max) else {
                return Reply::Integer(0);
            };
            // Redis counts a run in the compact encoding and subtracts ranks otherwise.
            let count = if z.is_compact() {
                z.lex_run_up(first, &max) - first
            } else {
                match z.lex_last_in_range(&min, &max) {
                    Some(last) => (last + 1).saturating_sub(first),
                    None => z.len() - first,
                }
            };
            Reply::integer(count)
        }
        Ok(None) => Reply::Integer(0),
        Err(e) => e,
    }
}

fn rank(ctx: &mut Ctx<'_>, argv: &[Bytes], reverse: bool) -> Reply {
    match ctx.read_zset(&argv[1]) {
        Ok(Some(z)) => match z.rank(&argv[2]) {
            Some(r) if reverse => Reply::integer(z.len() - 1 - r),
            Some(r) => Reply::integer(r),
            None => Reply::Nil,
        },
        Ok(None) => Reply::Nil,
        Err(e) => e,
    }
}

pub fn zrank(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    rank(ctx, argv, false)
}

pub fn zrevrank(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    rank(ctx, argv, true)
}
