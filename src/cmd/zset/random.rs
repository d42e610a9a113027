//! ZRANDMEMBER.

use bytes::Bytes;
use rand::Rng;

use crate::cmd::set::shared::parse_long_in;
use crate::cmd::{Ctx, errors};
use crate::resp::Reply;

pub fn zrandmember(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    if argv.len() == 2 {
        return match ctx.read_zset(&argv[1]) {
            Ok(Some(z)) if !z.is_empty() => {
                let rank = ctx.state.rng.random_range(0..z.len());
                z.by_rank(rank)
                    .map_or(Reply::Nil, |(m, _)| Reply::Bulk(m.clone()))
            }
            Ok(_) => Reply::Nil,
            Err(e) => e,
        };
    }
    let count = match parse_long_in(&argv[2], -i64::MAX, i64::MAX, None) {
        Ok(c) => c,
        Err(e) => return e,
    };
    if argv.len() > 4 || (argv.len() == 4 && !argv[3].eq_ignore_ascii_case(b"withscores")) {
        return Reply::error(errors::SYNTAX);
    }
    let with_scores = argv.len() == 4;
    // Redis doubles the count for the flat RESP2 reply and refuses what would overflow.
    if with_scores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        return Reply::error("ERR value is out of range");
    }
    let zset = match ctx.read_zset(&argv[1]) {
        Ok(Some(z)) => z,
        Ok(None) => return Reply::Array(Vec::new()),
        Err(e) => return e,
    };
    let wanted = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
    let size = zset.len();
    if wanted == 0 || size == 0 {
        return Reply::Array(Vec::new());
    }
    let mut items: Vec<(Bytes, f64)> = Vec::new();
    if count < 0 || wanted == 1 {
        // With repetitions: every pick samples the whole set.
        for _ in 0..wanted {
            let rank = ctx.state.rng.random_range(0..size);
            if let Some((m, s)) = zset.by_rank(rank) {
                items.push((m.clone(), s));
            }
        }
    } else if wanted >= size {
        // Redis's sorted-set iterator used here walks from the highest score down.
        items = zset.iter().rev().map(|(m, s)| (m.clone(), s)).collect();
    } else {
        let ranks = crate::cmd::set::random_indices(&mut ctx.state.rng, size, wanted);
        for rank in ranks {
            if let Some((m, s)) = zset.by_rank(rank) {
                items.push((m.clone(), s));
            }
        }
        for i in (1..items.len()).rev() {
            let j = ctx.state.rng.random_range(0..=i);
            items.swap(i, j);
        }
    }
    super::members_reply(ctx, items, with_scores)
}
