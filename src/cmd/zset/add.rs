//! ZADD and ZINCRBY (ZINCRBY is ZADD with the INCR option, as in Redis).

use crate::config::keyspace_events as events;
use std::sync::Arc;

use bytes::Bytes;

use super::score::parse_score;
use crate::cmd::set::shared::{peek_zset, touched};
use crate::cmd::{Ctx, errors};
use crate::resp::Reply;
use crate::store::{Entry, Value, ZSet};

#[derive(Default)]
struct Options {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

pub fn zadd(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    zadd_generic(ctx, argv, Options::default())
}

pub fn zincrby(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    zadd_generic(
        ctx,
        argv,
        Options {
            incr: true,
            ..Options::default()
        },
    )
}

fn zadd_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], mut opts: Options) -> Reply {
    let key = &argv[1];
    let mut score_idx = 2;
    while score_idx < argv.len() {
        match argv[score_idx].to_ascii_lowercase().as_slice() {
            b"nx" => opts.nx = true,
            b"xx" => opts.xx = true,
            b"ch" => opts.ch = true,
            b"incr" => opts.incr = true,
            b"gt" => opts.gt = true,
            b"lt" => opts.lt = true,
            _ => break,
        }
        score_idx += 1;
    }
    let pairs = &argv[score_idx..];
    if pairs.is_empty() || !pairs.len().is_multiple_of(2) {
        return Reply::error(errors::SYNTAX);
    }
    if opts.nx && opts.xx {
        return Reply::error("ERR XX and NX options at the same time are not compatible");
    }
    if (opts.nx && (opts.gt || opts.lt)) || (opts.gt && opts.lt) {
        return Reply::error("ERR GT, LT, and/or NX options at the same time are not compatible");
    }
    if opts.incr && pairs.len() > 2 {
        return Reply::error("ERR INCR option supports a single increment-element pair");
    }
    // Every score is checked before anything changes: the command applies fully or not.
    let mut scores = Vec::with_capacity(pairs.len() / 2);
    for pair in pairs.chunks_exact(2) {
        match parse_score(&pair[0]) {
            Some(s) => scores.push(s),
            None => return Reply::error(errors::NOT_FLOAT),
        }
    }
    let exists = match peek_zset(ctx, key) {
        Ok(z) => z.is_some(),
        Err(e) => return e,
    };
    let nothing = if opts.incr {
        Reply::Nil
    } else {
        Reply::Integer(0)
    };
    if !exists {
        if opts.xx {
            return nothing;
        }
        let limits = super::compact_limits(ctx);
        let compact = limits.max_entries > 0 && pairs[1].len() <= limits.max_value_bytes;
        ctx.insert_entry(
            key,
            Entry::new(Value::ZSet(Arc::new(ZSet::with_encoding(compact)))),
        );
    }
    let limits = super::compact_limits(ctx);
    let zset = match ctx.write_zset(key, false) {
        Ok(Some(z)) => z,
        Ok(None) => return nothing,
        Err(e) => return e,
    };
    let (mut added, mut updated, mut processed) = (0usize, 0usize, 0usize);
    let mut last_score = 0.0;
    let mut failure = None;
    for (pair, &score) in pairs.chunks_exact(2).zip(&scores) {
        let member = &pair[1];
        match zset.score(member) {
            Some(current) => {
                if opts.nx {
                    continue;
                }
                let mut score = score;
                if opts.incr {
                    score += current;
                    if score.is_nan() {
                        failure = Some(Reply::error("ERR resulting score is not a number (NaN)"));
                        break;
                    }
                }
                if (opts.lt && score >= current) || (opts.gt && score <= current) {
                    continue;
                }
                processed += 1;
                last_score = score;
                if score != current {
                    zset.insert_with_limits(member.clone(), score, limits);
                    updated += 1;
                }
            }
            None if !opts.xx => {
                zset.insert_with_limits(Bytes::copy_from_slice(member), score, limits);
                added += 1;
                processed += 1;
                last_score = score;
            }
            None => {}
        }
    }
    ctx.remove_if_empty(key);
    touched(ctx, key, added + updated);
    if added + updated > 0 {
        ctx.notify(events::ZSET, if opts.incr { "zincr" } else { "zadd" }, key);
    }
    if added > 0 {
        ctx.key_ready(key);
    }
    if let Some(error) = failure {
        return error;
    }
    if opts.incr {
        if processed > 0 {
            Reply::Double(last_score)
        } else {
            Reply::Nil
        }
    } else if opts.ch {
        Reply::integer(added + updated)
    } else {
        Reply::integer(added)
    }
}
