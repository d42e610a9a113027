//! Stream ID arguments as Redis 7.0 parses them: `ms-seq`, `ms` (the sequence defaults to the
//! low or high end of the range), `-` and `+`, `(` for an exclusive range bound, and XADD's
//! `*` and `ms-*`.

use crate::resp::Reply;
use crate::store::stream::StreamId;

pub const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";

/// Parses `ms[-seq]`; a missing sequence is `missing_seq`. Digits only, as strtoull with
/// Redis's checks (no sign, no spaces).
fn parse_parts(arg: &[u8], missing_seq: u64) -> Option<StreamId> {
    let digits = |part: &[u8]| -> Option<u64> {
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    match arg.iter().position(|&b| b == b'-') {
        None => Some(StreamId::new(digits(arg)?, missing_seq)),
        Some(dash) => Some(StreamId::new(
            digits(&arg[..dash])?,
            digits(&arg[dash + 1..])?,
        )),
    }
}

/// A complete or incomplete ID (XDEL, XSETID, group IDs): `ms` means `ms-0`.
pub fn parse_id(arg: &[u8]) -> Result<StreamId, Reply> {
    parse_parts(arg, 0).ok_or_else(|| Reply::error(INVALID_ID))
}

/// An ID that must be given in full or as `ms` (MINID, XSETID), with `-`/`+` refused.
pub fn parse_strict(arg: &[u8]) -> Result<StreamId, Reply> {
    parse_id(arg)
}

/// Which end of a range an argument bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    Start,
    End,
}

/// A range bound of XRANGE/XREVRANGE (and XPENDING): `-`, `+`, `ms[-seq]`, or `(` followed by
/// an ID for an exclusive bound.
pub fn parse_range_bound(arg: &[u8], bound: Bound) -> Result<StreamId, Reply> {
    let missing_seq = match bound {
        Bound::Start => 0,
        Bound::End => u64::MAX,
    };
    if arg == b"-" {
        return Ok(StreamId::MIN);
    }
    if arg == b"+" {
        return Ok(StreamId::MAX);
    }
    if let Some(rest) = arg.strip_prefix(b"(") {
        let id = parse_parts(rest, missing_seq).ok_or_else(|| Reply::error(INVALID_ID))?;
        return match bound {
            Bound::Start => id
                .successor()
                .ok_or_else(|| Reply::error("ERR invalid start ID for the interval")),
            Bound::End => id
                .predecessor()
                .ok_or_else(|| Reply::error("ERR invalid end ID for the interval")),
        };
    }
    parse_parts(arg, missing_seq).ok_or_else(|| Reply::error(INVALID_ID))
}

/// XADD's ID argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddId {
    /// `*`: from the clock.
    Auto,
    /// `ms-*`: the next sequence number within `ms`.
    AutoSeq(u64),
    Explicit(StreamId),
}

pub fn parse_add_id(arg: &[u8]) -> Result<AddId, Reply> {
    if arg == b"*" {
        return Ok(AddId::Auto);
    }
    if let Some(ms) = arg.strip_suffix(b"-*") {
        return match parse_parts(ms, 0) {
            Some(id) if !ms.contains(&b'-') => Ok(AddId::AutoSeq(id.ms)),
            _ => Err(Reply::error(INVALID_ID)),
        };
    }
    parse_id(arg).map(AddId::Explicit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_bounds() {
        assert_eq!(parse_id(b"5").ok(), Some(StreamId::new(5, 0)));
        assert_eq!(parse_id(b"5-7").ok(), Some(StreamId::new(5, 7)));
        for bad in [&b""[..], b"-1", b"5-", b"a-1", b"1-2-3", b"+5", b" 5"] {
            assert!(parse_id(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            parse_range_bound(b"5", Bound::End).ok(),
            Some(StreamId::new(5, u64::MAX))
        );
        assert_eq!(
            parse_range_bound(b"(5-1", Bound::Start).ok(),
            Some(StreamId::new(5, 2))
        );
        assert_eq!(
            parse_range_bound(b"(5-0", Bound::End).ok(),
            Some(StreamId::new(4, u64::MAX))
        );
        assert!(parse_range_bound(b"(-", Bound::End).is_err());
        assert!(parse_range_bound(b"(+", Bound::Start).is_err());
        assert!(
            parse_range_bound(b"(18446744073709551615-18446744073709551615", Bound::Start).is_err()
        );
        assert_eq!(parse_add_id(b"*").ok(), Some(AddId::Auto));
        assert_eq!(parse_add_id(b"7-*").ok(), Some(AddId::AutoSeq(7)));
        assert!(parse_add_id(b"7-1-*").is_err());
    }
}
