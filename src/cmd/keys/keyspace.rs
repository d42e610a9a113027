//! Whole-keyspace reads: KEYS, SCAN, RANDOMKEY, DBSIZE.

use bytes::Bytes;
use rand::Rng;

use crate::cmd::{Ctx, errors};
use crate::resp::Reply;
use crate::util::glob;
use crate::util::num::parse_i64;

pub fn keys(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let pattern = &argv[1];
    let all = pattern.as_ref() == b"*";
    let now = ctx.now_ms;
    // Expired keys are hidden but not deleted here, as in Redis.
    let found = ctx
        .db_ref()
        .iter()
        .filter(|(key, entry)| {
            (all || glob::matches(pattern, key, false)) && !entry.is_expired(now)
        })
        .map(|(key, _)| Reply::Bulk(key.to_bytes()))
        .collect();
    Reply::Array(found)
}

/// Parses a cursor the way Redis's `strtoul` call does: optional sign (a minus wraps),
/// decimal digits, nothing after; an empty string is cursor 0.
fn parse_cursor(text: &[u8]) -> Option<u64> {
    // The C string ends at the first NUL.
    let text = text.split(|&b| b == 0).next().unwrap_or_default();
    if text.is_empty() {
        return Some(0);
    }
    if text[0].is_ascii_whitespace() || text[0] == 0x0b {
        return None;
    }
    let (negative, digits) = match text[0] {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut value: u64 = 0;
    for &d in digits {
        value = value.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type].
///
/// The cursor is the index of the next segment to visit. Each call returns whole segments
/// until COUNT keys were gathered, so a key present for the whole iteration is returned
/// exactly once (segments never split or merge), and the cursor is 0 after the last one.
pub fn scan(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let Some(cursor) = parse_cursor(&argv[1]) else {
        return Reply::error("ERR invalid cursor");
    };
    let mut count: usize = 10;
    let mut pattern: Option<&Bytes> = None;
    let mut type_name: Option<&Bytes> = None;
    let mut i = 2;
    while i < argv.len() {
        let opt = argv[i].to_ascii_lowercase();
        let has_value = i + 1 < argv.len();
        match opt.as_slice() {
            b"count" if has_value => {
                let Some(n) = parse_i64(&argv[i + 1]) else {
                    return Reply::error(errors::NOT_INTEGER);
                };
                if n < 1 {
                    return Reply::error(errors::SYNTAX);
                }
                count = usize::try_from(n).unwrap_or(usize::MAX);
            }
            b"match" if has_value => {
                pattern = (argv[i + 1].as_ref() != b"*").then_some(&argv[i + 1]);
            }
            b"type" if has_value => type_name = Some(&argv[i + 1]),
            _ => return Reply::error(errors::SYNTAX),
        }
        i += 2;
    }

    let db = ctx.db_index();
    let segments = ctx.db_ref().segment_count();
    let mut segment = usize::try_from(cursor).unwrap_or(usize::MAX);
    let mut candidates: Vec<Bytes> = Vec::new();
    while segment < segments && candidates.len() < count {
        candidates.extend(
            ctx.db_ref()
                .segment(segment)
                .iter()
                .map(|(k, _)| k.to_bytes()),
        );
        segment += 1;
    }
    let next_cursor = if segment >= segments { 0 } else { segment };

    let mut keys = Vec::with_capacity(candidates.len());
    for key in candidates {
        if pattern.is_some_and(|p| !glob::matches(p, &key, false)) {
            continue;
        }
        if let Some(wanted) = type_name {
            let actual = ctx
                .lookup_read(&key)
                .map_or("none", |e| e.value.value_type().name());
            if !actual.as_bytes().eq_ignore_ascii_case(wanted) {
                continue;
            }
        }
        if ctx.expire_if_needed(db, &key) {
            continue;
        }
        keys.push(Reply::Bulk(key));
    }
    Reply::Array(vec![
        Reply::Bulk(Bytes::from(next_cursor.to_string())),
        Reply::Array(keys),
    ])
}

/// Tries before a replica (which cannot delete expired keys) gives up looking for a live
/// one and returns an expired key, as Redis does when every key is volatile.
const RANDOM_TRIES_ON_REPLICA: usize = 100;

pub fn randomkey(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> Reply {
    let db = ctx.db_index();
    let now = ctx.now_ms;
    let mut tries = 0;
    loop {
        let state = &mut *ctx.state;
        let rng = &mut state.rng;
        let Some((key, expired)) = state.dbs[db]
            .random_key(|n| rng.random_range(0..n))
            .map(|k| {
                (
                    k.to_bytes(),
                    state.dbs[db].get(k).is_some_and(|e| e.is_expired(now)),
                )
            })
        else {
            return Reply::Nil;
        };
        tries += 1;
        if !expired || tries >= RANDOM_TRIES_ON_REPLICA && !ctx.state.deletes_expired() {
            return Reply::Bulk(key);
        }
        ctx.expire_if_needed(db, &key);
    }
}

pub fn dbsize(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> Reply {
    Reply::integer(ctx.db_ref().len())
}

#[cfg(test)]
mod tests {
    use super::parse_cursor;

    #[test]
    fn cursors() {
        assert_eq!(parse_cursor(b"0"), Some(0));
        assert_eq!(parse_cursor(b""), Some(0));
        assert_eq!(parse_cursor(b"17"), Some(17));
        assert_eq!(parse_cursor(b"+5"), Some(5));
        assert_eq!(parse_cursor(b"-1"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551616"), None);
        assert_eq!(parse_cursor(b" 1"), None);
        assert_eq!(parse_cursor(b"1 "), None);
        assert_eq!(parse_cursor(b"abc"), None);
        assert_eq!(parse_cursor(b"-"), None);
    }
}
