//! Helpers shared by the set and sorted-set commands: Redis's integer-argument rules,
//! SSCAN/ZSCAN cursors and options, and dirty accounting.

use std::sync::Arc;

use bytes::Bytes;

use crate::cmd::{Ctx, errors};
use crate::resp::Reply;
use crate::store::value::Set;
use crate::store::{Value, ZSet};
use crate::util::num::parse_i64;

/// The set at `key` for a write command (Redis's `lookupKeyWrite`: expires the key, does
/// not count keyspace hits or misses).
pub fn peek_set(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<Arc<Set>>, Reply> {
    match ctx.lookup(key).map(|e| &e.value) {
        None => Ok(None),
        Some(Value::Set(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Reply::error(errors::WRONGTYPE)),
    }
}

/// The sorted set at `key` for a write command (no keyspace hit/miss accounting).
pub fn peek_zset(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<Arc<ZSet>>, Reply> {
    match ctx.lookup(key).map(|e| &e.value) {
        None => Ok(None),
        Some(Value::ZSet(z)) => Ok(Some(z.clone())),
        Some(_) => Err(Reply::error(errors::WRONGTYPE)),
    }
}

/// Redis's `getLongFromObjectOrReply`: an i64, else `msg` or the generic integer error.
pub fn parse_long(arg: &[u8], msg: Option<&'static str>) -> Result<i64, Reply> {
    parse_i64(arg).ok_or_else(|| Reply::error(msg.unwrap_or(errors::NOT_INTEGER)))
}

/// Redis's `getRangeLongFromObjectOrReply`: an i64 within `min..=max`.
pub fn parse_long_in(
    arg: &[u8],
    min: i64,
    max: i64,
    msg: Option<&'static str>,
) -> Result<i64, Reply> {
    let value = parse_long(arg, msg)?;
    if value < min || value > max {
        return Err(Reply::error(match msg {
            Some(m) => m.to_string(),
            None => format!("ERR value is out of range, value must between {min} and {max}"),
        }));
    }
    Ok(value)
}

/// Redis's `getPositiveLongFromObjectOrReply` (zero allowed).
pub fn parse_non_negative(arg: &[u8], msg: Option<&'static str>) -> Result<i64, Reply> {
    parse_long_in(arg, 0, i64::MAX, Some(msg.unwrap_or(errors::NOT_POSITIVE)))
}

/// Counts `n` changes to `key` (Redis adds the number of elements touched to its dirty
/// counter; WATCH needs to hear about the key once).
pub fn touched(ctx: &mut Ctx<'_>, key: &[u8], n: usize) {
    if n > 0 {
        ctx.modified(key);
        ctx.add_changes(n as u64 - 1);
    }
}

/// Reads the `set-max-intset-entries` style numeric directives.
pub fn config_usize(ctx: &Ctx<'_>, name: &str, default: usize) -> usize {
    // The encoding limits are read on every write to a set or sorted set: they come from
    // typed fields, not from a lookup by name.
    let limits = &ctx.state.config.encoding_limits;
    match name {
        "zset-max-listpack-entries" => return limits.zset_max_listpack_entries,
        "zset-max-listpack-value" => return limits.zset_max_listpack_value,
        "set-max-intset-entries" => return limits.set_max_intset_entries,
        _ => {}
    }
    ctx.state
        .config
        .get(name)
        .and_then(|v| v.parse::<i64>().ok())
        .map_or(default, |v| usize::try_from(v).unwrap_or(0))
}

/// Parses a SCAN cursor like Redis's `strtoul`-based parser: optional sign, decimal digits
/// (a negative value wraps), no leading space, no trailing garbage, no overflow; an empty
/// string is cursor 0.
pub fn parse_cursor(arg: &[u8]) -> Result<u64, Reply> {
    let invalid = || Reply::error("ERR invalid cursor");
    // The C parser stops at the first NUL byte.
    let text = arg.split(|&b| b == 0).next().unwrap_or_default();
    if arg.first().is_some_and(|b| is_c_space(*b)) {
        return Err(invalid());
    }
    let (negative, digits) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() {
        // Nothing parsed: strtoul points back at the start, accepted only if that is the end.
        return if text.is_empty() {
            Ok(0)
        } else {
            Err(invalid())
        };
    }
    let mut value: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return Err(invalid());
        }
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(d - b'0')))
            .ok_or_else(invalid)?;
    }
    Ok(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

/// C's `isspace` in the C locale.
pub fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// SSCAN/ZSCAN options.
pub struct ScanOptions {
    pub count: usize,
    pub pattern: Option<Bytes>,
}

/// Parses `[MATCH pattern] [COUNT count]` starting at `argv[3]`.
pub fn parse_scan_options(argv: &[Bytes]) -> Result<ScanOptions, Reply> {
    let mut options = ScanOptions {
        count: 10,
        pattern: None,
    };
    let mut i = 3;
    while i < argv.len() {
        let remaining = argv.len() - i;
        let opt = argv[i].to_ascii_lowercase();
        if opt == b"count" && remaining >= 2 {
            let count = parse_long(&argv[i + 1], None)?;
            if count < 1 {
                return Err(Reply::error(errors::SYNTAX));
            }
            options.count = usize::try_from(count).unwrap_or(usize::MAX);
            i += 2;
        } else if opt == b"match" && remaining >= 2 {
            // "*" matches everything: Redis skips matching then.
            options.pattern = (argv[i + 1].as_ref() != b"*").then(|| argv[i + 1].clone());
            i += 2;
        } else {
            return Err(Reply::error(errors::SYNTAX));
        }
    }
    Ok(options)
}

/// One step of a scan over a hashed collection: the elements whose hash is at least
/// `cursor`, smallest hashes first, at least `count` of them (all elements sharing the
/// last hash are included). Returns them and the next cursor (0 when done).
///
/// Ordering by a hash that does not depend on the table layout gives SCAN's guarantee:
/// an element present for the whole iteration is returned, whatever is added or removed
/// meanwhile.
pub fn hash_scan_step<T>(
    items: impl Iterator<Item = (u64, T)>,
    cursor: u64,
    count: usize,
) -> (Vec<T>, u64) {
    let mut candidates: Vec<(u64, T)> = items.filter(|(h, _)| *h >= cursor).collect();
    let count = count.max(1);
    if candidates.len() <= count {
        candidates.sort_unstable_by_key(|(h, _)| *h);
        return (candidates.into_iter().map(|(_, t)| t).collect(), 0);
    }
    candidates.select_nth_unstable_by_key(count - 1, |(h, _)| *h);
    let last_hash = candidates[count - 1].0;
    let mut rest = candidates.split_off(count);
    let mut batch = candidates;
    // Elements sharing the boundary hash must go in this batch: the next cursor skips
    // past that hash.
    let mut i = 0;
    while i < rest.len() {
        if rest[i].0 == last_hash {
            batch.push(rest.swap_remove(i));
        } else {
            i += 1;
        }
    }
    batch.sort_unstable_by_key(|(h, _)| *h);
    let next = if rest.is_empty() || last_hash == u64::MAX {
        0
    } else {
        last_hash + 1
    };
    (batch.into_iter().map(|(_, t)| t).collect(), next)
}

/// A scan reply: `[cursor, [elements...]]`.
pub fn scan_reply(cursor: u64, items: Vec<Reply>) -> Reply {
    Reply::Array(vec![
        Reply::Bulk(Bytes::from(cursor.to_string())),
        Reply::Array(items),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_parse_like_strtoul() {
        assert_eq!(parse_cursor(b"0").ok(), Some(0));
        assert_eq!(parse_cursor(b"").ok(), Some(0));
        assert_eq!(parse_cursor(b"+5").ok(), Some(5));
        assert_eq!(parse_cursor(b"-1").ok(), Some(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551615").ok(), Some(u64::MAX));
        assert!(parse_cursor(b"18446744073709551616").is_err());
        assert!(parse_cursor(b" 1").is_err());
        assert!(parse_cursor(b"1 ").is_err());
        assert!(parse_cursor(b"abc").is_err());
        assert!(parse_cursor(b"-").is_err());
    }

    #[test]
    fn hash_scan_visits_everything_once() {
        let items: Vec<(u64, u32)> = (0..100u32)
            .map(|i| (u64::from(i.wrapping_mul(2_654_435_761)) % 50, i))
            .collect();
        let mut seen = Vec::new();
        let mut cursor = 0;
        loop {
            let (batch, next) = hash_scan_step(items.iter().copied(), cursor, 7);
            assert!(!batch.is_empty());
            seen.extend(batch);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn long_arguments() {
        assert!(parse_non_negative(b"-1", None).is_err());
        assert_eq!(parse_non_negative(b"3", None).ok(), Some(3));
        let err = parse_long_in(b"-9223372036854775808", -i64::MAX, i64::MAX, None);
        assert_eq!(
            err.err(),
            Some(Reply::error(
                "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
            ))
        );
    }
}
