//! ZSCAN.

use bytes::Bytes;

use super::score::format_listpack_score;
use crate::cmd::Ctx;
use crate::cmd::set::shared::{hash_scan_step, parse_cursor, parse_scan_options, scan_reply};
use crate::resp::Reply;
use crate::resp::float::format_g17;
use crate::util::glob;

pub fn zscan(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let cursor = match parse_cursor(&argv[2]) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let zset = match ctx.read_zset(&argv[1]) {
        Ok(Some(z)) => z,
        Ok(None) => return scan_reply(0, Vec::new()),
        Err(e) => return e,
    };
    let options = match parse_scan_options(argv) {
        Ok(o) => o,
        Err(e) => return e,
    };
    // A compact set is returned whole, in order, with the scores as the listpack holds them;
    // a large one is walked by member hash, with scores printed by %.17g.
    type ScoreFormat = fn(f64) -> String;
    let (entries, next, format): (Vec<(Bytes, f64)>, u64, ScoreFormat) = if zset.is_compact() {
        let all = zset.iter().map(|(m, s)| (m.clone(), s)).collect();
        (all, 0, format_listpack_score)
    } else {
        let (batch, next) = hash_scan_step(
            zset.entries()
                .map(|(m, s)| (zset.member_hash(m), (m.clone(), s))),
            cursor,
            options.count,
        );
        (batch, next, format_g17)
    };
    let mut items = Vec::with_capacity(entries.len() * 2);
    for (member, score) in entries {
        if options
            .pattern
            .as_ref()
            .is_some_and(|p| !glob::matches(p, &member, false))
        {
            continue;
        }
        items.push(Reply::Bulk(member));
        items.push(Reply::Bulk(Bytes::from(format(score))));
    }
    scan_reply(next, items)
}
