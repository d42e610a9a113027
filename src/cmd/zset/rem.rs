//! ZREM ZREMRANGEBYRANK ZREMRANGEBYSCORE ZREMRANGEBYLEX.

use crate::config::keyspace_events as events;
use bytes::Bytes;

use super::score::{parse_lex_range, parse_score_range};
use crate::cmd::set::shared::{parse_long, peek_zset, touched};
use crate::cmd::{Ctx, errors};
use crate::resp::Reply;
use crate::store::ZSet;

pub fn zrem(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let key = &argv[1];
    let zset = match ctx.write_zset(key, false) {
        Ok(Some(z)) => z,
        Ok(None) => return Reply::Integer(0),
        Err(e) => return e,
    };
    let mut removed = 0;
    for member in &argv[2..] {
        if zset.remove(member).is_some() {
            removed += 1;
        }
        if zset.is_empty() {
            break;
        }
    }
    notify_removed(ctx, key, removed, "zrem");
    Reply::integer(removed)
}

/// Deletes the emptied key, and raises the removal's event and then `del`, as Redis does.
fn notify_removed(ctx: &mut Ctx<'_>, key: &[u8], removed: usize, event: &str) {
    touched(ctx, key, removed);
    if removed > 0 {
        ctx.notify(events::ZSET, event, key);
    }
    ctx.remove_if_emptied(key);
}

/// Clamps Redis-style inclusive rank indexes (negative from the end) to `start..end`, or
/// None when the range is empty.
pub(crate) fn clamp_ranks(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = i64::try_from(len).unwrap_or(i64::MAX);
    let mut start = if start < 0 {
        start.saturating_add(len)
    } else {
        start
    };
    let mut end = if end < 0 {
        end.saturating_add(len)
    } else {
        end
    };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= len {
        return None;
    }
    if end >= len {
        end = len - 1;
    }
    // Both are within 0..len here.
    Some((usize::try_from(start).ok()?, usize::try_from(end).ok()? + 1))
}

/// Shared tail of the ZREMRANGEBY* commands: `ranks` picks the ranks to remove.
fn remove_range(
    ctx: &mut Ctx<'_>,
    key: &Bytes,
    event: &str,
    ranks: impl Fn(&ZSet) -> Option<(usize, usize)>,
) -> Reply {
    let zset = match peek_zset(ctx, key) {
        Ok(Some(z)) => z,
        Ok(None) => return Reply::Integer(0),
        Err(e) => return e,
    };
    let Some((start, end)) = ranks(&zset) else {
        return Reply::Integer(0);
    };
    drop(zset);
    if start >= end {
        return Reply::Integer(0);
    }
    let removed = match ctx.write_zset(key, false) {
        Ok(Some(z)) => z.remove_ranks(start, end),
        Ok(None) => 0,
        Err(e) => return e,
    };
    notify_removed(ctx, key, removed, event);
    Reply::integer(removed)
}

pub fn zremrangebyrank(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let start = match parse_long(&argv[2], None) {
        Ok(v) => v,
        Err(e) => return e,
    };
    let end = match parse_long(&argv[3], None) {
        Ok(v) => v,
        Err(e) => return e,
    };
    remove_range(ctx, &argv[1], "zremrangebyrank", |z| {
        clamp_ranks(start, end, z.len())
    })
}

pub fn zremrangebyscore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let Some(range) = parse_score_range(&argv[2], &argv[3]) else {
        return Reply::error(errors::MIN_MAX_NOT_FLOAT);
    };
    remove_range(ctx, &argv[1], "zremrangebyscore", |z| {
        Some(z.score_range_ranks(&range))
    })
}

pub fn zremrangebylex(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let Some((min, max)) = parse_lex_range(&argv[2], &argv[3]) else {
        return Reply::error(errors::MIN_MAX_NOT_STRING);
    };
    remove_range(ctx, &argv[1], "zremrangebylex", |z| {
        z.lex_delete_start(&min, &max)
            .map(|start| (start, z.lex_run_up(start, &max)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_clamping() {
        assert_eq!(clamp_ranks(0, -1, 5), Some((0, 5)));
        assert_eq!(clamp_ranks(-2, -1, 5), Some((3, 5)));
        assert_eq!(clamp_ranks(-100, 2, 5), Some((0, 3)));
        assert_eq!(clamp_ranks(3, 1, 5), None);
        assert_eq!(clamp_ranks(5, 10, 5), None);
        assert_eq!(clamp_ranks(0, -6, 5), None);
        assert_eq!(clamp_ranks(0, 0, 0), None);
        assert_eq!(clamp_ranks(i64::MIN, i64::MAX, 3), Some((0, 3)));
    }
}
