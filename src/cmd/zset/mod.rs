//! Sorted-set commands: ZADD ZINCRBY ZREM ZCARD ZSCORE ZMSCORE ZCOUNT ZLEXCOUNT ZRANK
//! ZREVRANK, the ZRANGE family and ZRANGESTORE, ZREMRANGEBY*, ZUNION/ZINTER/ZDIFF (and
//! their STORE forms, ZINTERCARD), ZPOPMIN ZPOPMAX ZMPOP and their blocking forms,
//! ZRANDMEMBER, ZSCAN.

pub(crate) mod add;
mod algebra;
pub(crate) mod pop;
mod query;
mod random;
mod range;
mod rem;
mod scan;
pub(crate) mod score;

use bytes::Bytes;

use crate::cmd::flags::*;
use crate::cmd::set::shared::config_usize;
use crate::cmd::{CommandSpec, Ctx};
use crate::command;
use crate::resp::{Protocol, Reply};
use crate::store::zset::CompactLimits;

pub const COMMANDS: &[CommandSpec] = &[
    command!(
        "zadd",
        -4,
        WRITE | DENYOOM | FAST,
        (1, 1, 1),
        "sorted-set",
        add::zadd
    ),
    command!(
        "zincrby",
        4,
        WRITE | DENYOOM | FAST,
        (1, 1, 1),
        "sorted-set",
        add::zincrby
    ),
    command!("zrem", -3, WRITE | FAST, (1, 1, 1), "sorted-set", rem::zrem),
    command!(
        "zremrangebyscore",
        4,
        WRITE,
        (1, 1, 1),
        "sorted-set",
        rem::zremrangebyscore
    ),
    command!(
        "zremrangebyrank",
        4,
        WRITE,
        (1, 1, 1),
        "sorted-set",
        rem::zremrangebyrank
    ),
    command!(
        "zremrangebylex",
        4,
        WRITE,
        (1, 1, 1),
        "sorted-set",
        rem::zremrangebylex
    ),
    command!(
        "zcard",
        2,
        READONLY | FAST,
        (1, 1, 1),
        "sorted-set",
        query::zcard
    ),
    command!(
        "zscore",
        3,
        READONLY | FAST,
        (1, 1, 1),
        "sorted-set",
        query::zscore
    ),
    command!(
        "zmscore",
        -3,
        READONLY | FAST,
        (1, 1, 1),
        "sorted-set",
        query::zmscore
    ),
    command!(
        "zcount",
        4,
        READONLY | FAST,
        (1, 1, 1),
        "sorted-set",
        query::zcount
    ),
    command!(
        "zlexcount",
        4,
        READONLY | FAST,
        (1, 1, 1),
        "sorted-set",
        query::zlexcount
    ),
    command!(
        "zrank",
        3,
        READONLY | FAST,
        (1, 1, 1),
        "sorted-set",
        query::zrank
    ),
    command!(
        "zrevrank",
        3,
        READONLY | FAST,
        (1, 1, 1),
        "sorted-set",
        query::zrevrank
    ),
    command!(
        "zrange",
        -4,
        READONLY,
        (1, 1, 1),
        "sorted-set",
        range::zrange
    ),
    command!(
        "zrangestore",
        -5,
        WRITE | DENYOOM,
        (1, 2, 1),
        "sorted-set",
        range::zrangestore
    ),
    command!(
        "zrangebyscore",
        -4,
        READONLY,
        (1, 1, 1),
        "sorted-set",
        range::zrangebyscore
    ),
    command!(
        "zrevrangebyscore",
        -4,
        READONLY,
        (1, 1, 1),
        "sorted-set",
        range::zrevrangebyscore
    ),
    command!(
        "zrangebylex",
        -4,
        READONLY,
        (1, 1, 1),
        "sorted-set",
        range::zrangebylex
    ),
    command!(
        "zrevrangebylex",
        -4,
        READONLY,
        (1, 1, 1),
        "sorted-set",
        range::zrevrangebylex
    ),
    command!(
        "zrevrange",
        -4,
        READONLY,
        (1, 1, 1),
        "sorted-set",
        range::zrevrange
    ),
    command!(
        "zunionstore",
        -4,
        WRITE | DENYOOM,
        (1, 1, 1),
        "sorted-set",
        algebra::zunionstore
    ),
    command!(
        "zinterstore",
        -4,
        WRITE | DENYOOM,
        (1, 1, 1),
        "sorted-set",
        algebra::zinterstore
    ),
    command!(
        "zdiffstore",
        -4,
        WRITE | DENYOOM,
        (1, 1, 1),
        "sorted-set",
        algebra::zdiffstore
    ),
    command!(
        "zunion",
        -3,
        READONLY,
        (0, 0, 0),
        "sorted-set",
        algebra::zunion
    ),
    command!(
        "zinter",
        -3,
        READONLY,
        (0, 0, 0),
        "sorted-set",
        algebra::zinter
    ),
    command!(
        "zdiff",
        -3,
        READONLY,
        (0, 0, 0),
        "sorted-set",
        algebra::zdiff
    ),
    command!(
        "zintercard",
        -3,
        READONLY,
        (0, 0, 0),
        "sorted-set",
        algebra::zintercard
    ),
    command!(
        "zpopmin",
        -2,
        WRITE | FAST,
        (1, 1, 1),
        "sorted-set",
        pop::zpopmin
    ),
    command!(
        "zpopmax",
        -2,
        WRITE | FAST,
        (1, 1, 1),
        "sorted-set",
        pop::zpopmax
    ),
    command!("zmpop", -4, WRITE, (0, 0, 0), "sorted-set", pop::zmpop),
    command!(
        "bzpopmin",
        -3,
        WRITE | NOSCRIPT | BLOCKING | FAST,
        (1, -2, 1),
        "sorted-set",
        pop::bzpopmin
    ),
    command!(
        "bzpopmax",
        -3,
        WRITE | NOSCRIPT | BLOCKING | FAST,
        (1, -2, 1),
        "sorted-set",
        pop::bzpopmax
    ),
    command!(
        "bzmpop",
        -5,
        WRITE | BLOCKING,
        (0, 0, 0),
        "sorted-set",
        pop::bzmpop
    ),
    command!(
        "zrandmember",
        -2,
        READONLY,
        (1, 1, 1),
        "sorted-set",
        random::zrandmember
    ),
    command!("zscan", -3, READONLY, (1, 1, 1), "sorted-set", scan::zscan),
];

/// The compact-encoding limits currently configured.
pub(crate) fn compact_limits(ctx: &Ctx<'_>) -> CompactLimits {
    CompactLimits {
        max_entries: config_usize(ctx, "zset-max-listpack-entries", 128),
        max_value_bytes: config_usize(ctx, "zset-max-listpack-value", 64),
    }
}

fn is_resp3(ctx: &Ctx<'_>) -> bool {
    ctx.session.protocol == Protocol::Resp3
}

/// Members, optionally with scores: a flat array in RESP2, `[member, score]` pairs in RESP3
/// (Redis avoids a map there because the order matters).
fn members_reply(ctx: &Ctx<'_>, items: Vec<(Bytes, f64)>, with_scores: bool) -> Reply {
    if !with_scores {
        return Reply::Array(items.into_iter().map(|(m, _)| Reply::Bulk(m)).collect());
    }
    if is_resp3(ctx) {
        Reply::Array(
            items
                .into_iter()
                .map(|(m, s)| Reply::Array(vec![Reply::Bulk(m), Reply::Double(s)]))
                .collect(),
        )
    } else {
        let mut flat = Vec::with_capacity(items.len() * 2);
        for (m, s) in items {
            flat.push(Reply::Bulk(m));
            flat.push(Reply::Double(s));
        }
        Reply::Array(flat)
    }
}
