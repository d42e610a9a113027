//! SSCAN.

use std::hash::BuildHasher;

use bytes::Bytes;

use super::shared::{hash_scan_step, parse_cursor, parse_scan_options, scan_reply};
use crate::cmd::Ctx;
use crate::resp::Reply;
use crate::util::glob;

pub fn sscan(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let cursor = match parse_cursor(&argv[2]) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let set = match ctx.read_set(&argv[1]) {
        Ok(Some(set)) => set,
        Ok(None) => return scan_reply(0, Vec::new()),
        Err(e) => return e,
    };
    let options = match parse_scan_options(argv) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let (members, next) = if super::is_intset_like(ctx, set.len(), set.iter()) {
        // An intset is returned whole, whatever the cursor.
        let members = super::storage_order(ctx, set.iter().cloned().collect());
        (members, 0)
    } else {
        let hasher = set.hasher();
        hash_scan_step(
            set.iter().map(|m| (hasher.hash_one(m), m.clone())),
            cursor,
            options.count,
        )
    };
    let items = members
        .into_iter()
        .filter(|m| {
            options
                .pattern
                .as_ref()
                .is_none_or(|p| glob::matches(p, m, false))
        })
        .map(Reply::Bulk)
        .collect();
    scan_reply(next, items)
}
