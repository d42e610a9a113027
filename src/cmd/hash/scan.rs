//! HSCAN key cursor [MATCH pattern] [COUNT count].

use bytes::Bytes;

use crate::cmd::Ctx;
use crate::cmd::set::shared::{hash_scan_step, parse_cursor, parse_scan_options, scan_reply};
use crate::resp::Reply;
use crate::util::glob;

/// Hashes up to this many fields are returned whole with cursor 0, whatever the cursor
/// and COUNT, as Redis does for its small (listpack) hashes. Larger ones are walked with a
/// cursor ordered by field hash, so that fields present for the whole scan are all seen.
const WHOLE_SCAN_FIELDS_MAX: usize = 4096;

pub fn hscan(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let cursor = match parse_cursor(&argv[2]) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let hash = match ctx.read_hash(&argv[1]) {
        Ok(Some(hash)) => hash,
        Ok(None) => return scan_reply(0, Vec::new()),
        Err(e) => return e,
    };
    let options = match parse_scan_options(argv) {
        Ok(o) => o,
        Err(e) => return e,
    };
    type Pair<'a> = (&'a [u8], &'a [u8]);
    let (entries, next): (Vec<Pair<'_>>, u64) = if hash.len() <= WHOLE_SCAN_FIELDS_MAX {
        (hash.iter().collect(), 0)
    } else {
        hash_scan_step(
            hash.iter().map(|entry| (hash.field_hash(entry.0), entry)),
            cursor,
            options.count,
        )
    };
    let mut items = Vec::with_capacity(entries.len() * 2);
    for (field, value) in entries {
        if options
            .pattern
            .as_ref()
            .is_none_or(|p| glob::matches(p, field, false))
        {
            items.push(Reply::Bulk(Bytes::copy_from_slice(field)));
            items.push(Reply::Bulk(Bytes::copy_from_slice(value)));
        }
    }
    scan_reply(next, items)
}
