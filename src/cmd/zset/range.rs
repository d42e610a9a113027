//! ZRANGE (BYSCORE BYLEX REV LIMIT WITHSCORES), ZRANGESTORE and the older ZREVRANGE,
//! Z[REV]RANGEBYSCORE and Z[REV]RANGEBYLEX, which are ZRANGE with fixed options.

use crate::config::keyspace_events as events;
use std::sync::Arc;

use bytes::Bytes;

use super::rem::clamp_ranks;
use super::score::{parse_lex_range, parse_score_range};
use crate::cmd::set::shared::parse_long;
use crate::cmd::{Ctx, errors};
use crate::resp::Reply;
use crate::store::zset::{LexBound, ScoreRange};
use crate::store::{Value, ZSet};

#[derive(Clone, Copy, PartialEq, Eq)]
enum By {
    Auto,
    Rank,
    Score,
    Lex,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Auto,
    Forward,
    Reverse,
}

enum Range {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexBound, LexBound),
}

pub fn zrange(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    generic(ctx, argv, 1, None, By::Auto, Direction::Auto)
}

pub fn zrangestore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    generic(ctx, argv, 2, Some(&argv[1]), By::Auto, Direction::Auto)
}

pub fn zrevrange(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    generic(ctx, argv, 1, None, By::Rank, Direction::Reverse)
}

pub fn zrangebyscore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    generic(ctx, argv, 1, None, By::Score, Direction::Forward)
}

pub fn zrevrangebyscore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    generic(ctx, argv, 1, None, By::Score, Direction::Reverse)
}

pub fn zrangebylex(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    generic(ctx, argv, 1, None, By::Lex, Direction::Forward)
}

pub fn zrevrangebylex(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    generic(ctx, argv, 1, None, By::Lex, Direction::Reverse)
}

/// `key_idx` is the source key's position; its min and max follow it.
fn generic(
    ctx: &mut Ctx<'_>,
    argv: &[Bytes],
    key_idx: usize,
    store: Option<&Bytes>,
    mut by: By,
    mut direction: Direction,
) -> Reply {
    let key = &argv[key_idx];
    let mut with_scores = false;
    let mut offset: i64 = 0;
    let mut limit: i64 = -1;
    let mut j = key_idx + 3;
    while j < argv.len() {
        let left = argv.len() - j - 1;
        let opt = argv[j].to_ascii_lowercase();
        if store.is_none() && opt == b"withscores" {
            with_scores = true;
        } else if opt == b"limit" && left >= 2 {
            offset = match parse_long(&argv[j + 1], None) {
                Ok(v) => v,
                Err(e) => return e,
            };
            limit = match parse_long(&argv[j + 2], None) {
                Ok(v) => v,
                Err(e) => return e,
            };
            j += 2;
        } else if direction == Direction::Auto && opt == b"rev" {
            direction = Direction::Reverse;
        } else if by == By::Auto && opt == b"bylex" {
            by = By::Lex;
        } else if by == By::Auto && opt == b"byscore" {
            by = By::Score;
        } else {
            return Reply::error(errors::SYNTAX);
        }
        j += 1;
    }
    if direction == Direction::Auto {
        direction = Direction::Forward;
    }
    if by == By::Auto {
        by = By::Rank;
    }
    // Redis tells "LIMIT given" by a count other than -1.
    if limit != -1 && by == By::Rank {
        return Reply::error(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        );
    }
    if with_scores && by == By::Lex {
        return Reply::error(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        );
    }
    let reverse = direction == Direction::Reverse;
    let (mut min_arg, mut max_arg) = (&argv[key_idx + 1], &argv[key_idx + 2]);
    if reverse && by != By::Rank {
        std::mem::swap(&mut min_arg, &mut max_arg);
    }
    let range = match by {
        By::Score => match parse_score_range(min_arg, max_arg) {
            Some(r) => Range::Score(r),
            None => return Reply::error(errors::MIN_MAX_NOT_FLOAT),
        },
        By::Lex => match parse_lex_range(min_arg, max_arg) {
            Some((min, max)) => Range::Lex(min, max),
            None => return Reply::error(errors::MIN_MAX_NOT_STRING),
        },
        _ => {
            let start = match parse_long(min_arg, None) {
                Ok(v) => v,
                Err(e) => return e,
            };
            let end = match parse_long(max_arg, None) {
                Ok(v) => v,
                Err(e) => return e,
            };
            Range::Rank(start, end)
        }
    };
    let zset = match ctx.read_zset(key) {
        Ok(Some(z)) => z,
        Ok(None) => {
            return match store {
                Some(dst) => store_result(ctx, dst, Vec::new(), true),
                None => Reply::Array(Vec::new()),
            };
        }
        Err(e) => return e,
    };
    let (items, length_unknown) = select(&zset, &range, reverse, offset, limit);
    drop(zset);
    match store {
        Some(dst) => store_result(ctx, dst, items, length_unknown),
        None => super::members_reply(ctx, items, with_scores),
    }
}

/// The members a range selects, in reply order, and whether the length was unknown in
/// advance (only rank ranges know it; Redis then starts a stored copy compact).
fn select(
    zset: &ZSet,
    range: &Range,
    reverse: bool,
    offset: i64,
    limit: i64,
) -> (Vec<(Bytes, f64)>, bool) {
    let collect = |start: usize, end: usize| -> Vec<(Bytes, f64)> {
        let it = zset.iter_ranks(start, end).map(|(m, s)| (m.clone(), s));
        if reverse {
            it.rev().collect()
        } else {
            it.collect()
        }
    };
    let (start, end) = match range {
        Range::Rank(start, end) => {
            let len = zset.len();
            let Some((start, end)) = clamp_ranks(*start, *end, len) else {
                return (Vec::new(), true);
            };
            // Reverse ranks count from the highest score.
            let (start, end) = if reverse {
                (len - end, len - start)
            } else {
                (start, end)
            };
            return (collect(start, end), false);
        }
        Range::Score(r) => zset.score_range_ranks(r),
        Range::Lex(min, max) => return (select_lex(zset, min, max, reverse, offset, limit), true),
    };
    // A negative offset walks past the end in Redis: nothing is returned.
    if offset < 0 || limit == 0 {
        return (Vec::new(), true);
    }
    let offset = usize::try_from(offset).unwrap_or(usize::MAX);
    let available = (end - start).saturating_sub(offset);
    let take = if limit < 0 {
        available
    } else {
        available.min(usize::try_from(limit).unwrap_or(usize::MAX))
    };
    let (start, end) = if reverse {
        (
            end - offset.min(end - start) - take,
            end - offset.min(end - start),
        )
    } else {
        (
            start + offset.min(end - start),
            start + offset.min(end - start) + take,
        )
    };
    (collect(start, end), true)
}

/// A lexicographic range walked the way Redis walks it: from the first (or last) member in
/// range, skip `offset` members unchecked, then take members while they stay below `max`
/// (above `min` in reverse), at most `limit` (negative: no limit).
fn select_lex(
    zset: &ZSet,
    min: &LexBound,
    max: &LexBound,
    reverse: bool,
    offset: i64,
    limit: i64,
) -> Vec<(Bytes, f64)> {
    let Ok(offset) = usize::try_from(offset) else {
        return Vec::new();
    };
    let cap = usize::try_from(limit).unwrap_or(usize::MAX);
    let (start, end) = if reverse {
        let Some(last) = zset.lex_last_in_range(min, max) else {
            return Vec::new();
        };
        let Some(top) = last.checked_sub(offset) else {
            return Vec::new();
        };
        let bottom = zset.lex_run_down(top, min);
        (top + 1 - (top + 1 - bottom).min(cap), top + 1)
    } else {
        let Some(first) = zset.lex_first_in_range(min, max) else {
            return Vec::new();
        };
        let start = first.saturating_add(offset);
        if start >= zset.len() {
            return Vec::new();
        }
        let end = zset.lex_run_up(start, max);
        (start, start + (end - start).min(cap))
    };
    let it = zset.iter_ranks(start, end).map(|(m, s)| (m.clone(), s));
    if reverse {
        it.rev().collect()
    } else {
        it.collect()
    }
}

fn store_result(
    ctx: &mut Ctx<'_>,
    dst: &Bytes,
    items: Vec<(Bytes, f64)>,
    length_unknown: bool,
) -> Reply {
    if items.is_empty() {
        ctx.delete(dst);
        return Reply::Integer(0);
    }
    let limits = super::compact_limits(ctx);
    // The rank form knows its length up front and starts a long result uncompacted.
    let compact = length_unknown || items.len() <= limits.max_entries;
    let mut zset = ZSet::with_encoding(compact);
    let count = items.len();
    for (member, score) in items {
        zset.insert_with_limits(member, score, limits);
    }
    ctx.set_value(dst, Value::ZSet(Arc::new(zset)));
    ctx.key_ready(dst);
    ctx.notify(events::ZSET, "zrangestore", dst);
    Reply::integer(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ZSet {
        let mut z = ZSet::default();
        for (i, m) in ["a", "b", "c", "d", "e"].iter().enumerate() {
            z.insert(Bytes::from_static(m.as_bytes()), i as f64);
        }
        z
    }

    fn names(items: &[(Bytes, f64)]) -> Vec<&[u8]> {
        items.iter().map(|(m, _)| m.as_ref()).collect()
    }

    #[test]
    fn score_ranges_with_offsets() {
        let z = sample();
        let all = ScoreRange {
            min: f64::NEG_INFINITY,
            min_exclusive: false,
            max: f64::INFINITY,
            max_exclusive: false,
        };
        let r = Range::Score(all);
        assert_eq!(names(&select(&z, &r, false, 1, 2).0), [b"b", b"c"]);
        assert_eq!(names(&select(&z, &r, true, 1, 2).0), [b"d", b"c"]);
        assert_eq!(names(&select(&z, &r, true, 3, -1).0), [b"b", b"a"]);
        assert!(select(&z, &r, false, 9, -1).0.is_empty());
        assert!(select(&z, &r, false, -1, 5).0.is_empty());
        assert!(select(&z, &r, false, 0, 0).0.is_empty());
        let rank = Range::Rank(0, 1);
        assert_eq!(names(&select(&z, &rank, true, 0, -1).0), [b"e", b"d"]);
        let rank = Range::Rank(-2, -1);
        assert_eq!(names(&select(&z, &rank, false, 0, -1).0), [b"d", b"e"]);
    }
}
