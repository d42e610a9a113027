//! Arguments the hash field expiry commands share: `FIELDS numfields field ...` and the
//! expiry time, validated as Redis 8 validates them (its error strings included).

use bytes::Bytes;

use crate::resp::Reply;
use crate::store::field_expiry::FIELD_EXPIRE_AT_MS_MAX;
use crate::util::num::parse_i64;

pub const FIELDS_MISSING: &str =
    "ERR Mandatory argument FIELDS is missing or not at the right position";
pub const NUMFIELDS_NOT_POSITIVE: &str = "ERR Parameter `numFields` should be greater than 0";
pub const NUMFIELDS_MISMATCH: &str =
    "ERR The `numfields` parameter must match the number of arguments";
pub const NUMFIELDS_TOO_MANY: &str = "ERR wrong number of arguments";
pub const NEGATIVE_TIME: &str = "ERR invalid expire time, must be >= 0";

/// How a command's time argument is to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeUnit {
    /// Milliseconds (PX, PXAT, HPEXPIRE...) rather than seconds.
    pub millis: bool,
    /// A Unix time (EXAT, PXAT, HEXPIREAT...) rather than a time from now.
    pub absolute: bool,
}

impl TimeUnit {
    pub const EX: TimeUnit = TimeUnit {
        millis: false,
        absolute: false,
    };
    pub const PX: TimeUnit = TimeUnit {
        millis: true,
        absolute: false,
    };
    pub const EXAT: TimeUnit = TimeUnit {
        millis: false,
        absolute: true,
    };
    pub const PXAT: TimeUnit = TimeUnit {
        millis: true,
        absolute: true,
    };

    /// The unit named by an EX/PX/EXAT/PXAT option.
    pub fn from_option(option: &[u8]) -> Option<TimeUnit> {
        Some(match option.to_ascii_uppercase().as_slice() {
            b"EX" => TimeUnit::EX,
            b"PX" => TimeUnit::PX,
            b"EXAT" => TimeUnit::EXAT,
            b"PXAT" => TimeUnit::PXAT,
            _ => return None,
        })
    }
}

/// The absolute expiry time, Unix ms, that `arg` asks for. `command` names the command in
/// the error for a time beyond what a field can hold.
pub fn expire_at_ms(arg: &[u8], unit: TimeUnit, now_ms: u64, command: &str) -> Result<u64, Reply> {
    let Some(value) = parse_i64(arg) else {
        return Err(Reply::error(crate::cmd::errors::NOT_INTEGER));
    };
    let Ok(value) = u64::try_from(value) else {
        return Err(Reply::error(NEGATIVE_TIME));
    };
    let too_far = || Reply::error(format!("ERR invalid expire time in '{command}' command"));
    let ms = if unit.millis {
        value
    } else {
        value.checked_mul(1000).ok_or_else(too_far)?
    };
    let at = if unit.absolute {
        ms
    } else {
        now_ms.checked_add(ms).ok_or_else(too_far)?
    };
    if at > FIELD_EXPIRE_AT_MS_MAX {
        return Err(too_far());
    }
    Ok(at)
}

/// `numfields` of a FIELDS block.
fn numfields(arg: Option<&Bytes>) -> Result<usize, Reply> {
    arg.and_then(|a| parse_i64(a))
        .filter(|n| *n > 0)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| Reply::error(NUMFIELDS_NOT_POSITIVE))
}

/// A FIELDS block that must start at `at` and run to the end of `argv` (HTTL, HPERSIST,
/// HGETDEL...).
pub fn trailing_fields(argv: &[Bytes], at: usize) -> Result<&[Bytes], Reply> {
    if !argv
        .get(at)
        .is_some_and(|a| a.eq_ignore_ascii_case(b"FIELDS"))
    {
        return Err(Reply::error(FIELDS_MISSING));
    }
    let n = numfields(argv.get(at + 1))?;
    let fields = argv.get(at + 2..).unwrap_or_default();
    if fields.len() != n {
        return Err(Reply::error(NUMFIELDS_MISMATCH));
    }
    Ok(fields)
}

/// A FIELDS block found among options at `at` (`argv[at]` is FIELDS): its items (`per_field`
/// arguments each) and the index after it. Fewer arguments than announced is an arity error;
/// what follows the block is parsed as more options.
pub fn fields_block(
    argv: &[Bytes],
    at: usize,
    per_field: usize,
) -> Result<(&[Bytes], usize), Reply> {
    let n = numfields(argv.get(at + 1))?;
    let start = at + 2;
    let end = n
        .checked_mul(per_field)
        .and_then(|len| start.checked_add(len))
        .filter(|end| *end <= argv.len())
        .ok_or_else(|| Reply::error(NUMFIELDS_TOO_MANY))?;
    Ok((&argv[start..end], end))
}

/// `ERR unknown argument: <arg>`.
pub fn unknown_argument(arg: &[u8]) -> Reply {
    Reply::error(format!(
        "ERR unknown argument: {}",
        String::from_utf8_lossy(arg)
    ))
}

/// The decimal text of `n` as an argument.
pub fn arg_u64(n: u64) -> Bytes {
    Bytes::copy_from_slice(itoa::Buffer::new().format(n).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<Bytes> {
        words
            .iter()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }

    fn refused<T>(result: Result<T, Reply>) -> Option<Reply> {
        result.err()
    }

    #[test]
    fn times_are_checked_and_made_absolute() {
        assert_eq!(
            expire_at_ms(b"10", TimeUnit::EX, 1000, "x").ok(),
            Some(11_000)
        );
        assert_eq!(
            expire_at_ms(b"10", TimeUnit::PX, 1000, "x").ok(),
            Some(1010)
        );
        assert_eq!(
            expire_at_ms(b"10", TimeUnit::EXAT, 1000, "x").ok(),
            Some(10_000)
        );
        assert_eq!(
            expire_at_ms(b"10", TimeUnit::PXAT, 1000, "x").ok(),
            Some(10)
        );
        assert_eq!(
            refused(expire_at_ms(b"-1", TimeUnit::EX, 0, "x")),
            Some(Reply::error(NEGATIVE_TIME))
        );
        assert_eq!(
            refused(expire_at_ms(
                b"9999999999999999",
                TimeUnit::PX,
                0,
                "hpexpire"
            )),
            Some(Reply::error(
                "ERR invalid expire time in 'hpexpire' command"
            ))
        );
        assert!(expire_at_ms(b"281474976710655", TimeUnit::PXAT, 0, "x").is_ok());
        assert!(expire_at_ms(b"281474976710656", TimeUnit::PXAT, 0, "x").is_err());
    }

    #[test]
    fn field_blocks_are_counted() {
        let argv = args(&["httl", "h", "FIELDS", "2", "a", "b"]);
        assert_eq!(trailing_fields(&argv, 2).map(<[Bytes]>::len).ok(), Some(2));
        let argv = args(&["httl", "h", "FIELDS", "3", "a", "b"]);
        assert_eq!(
            refused(trailing_fields(&argv, 2)),
            Some(Reply::error(NUMFIELDS_MISMATCH))
        );
        let argv = args(&["httl", "h", "NX", "FIELDS", "1", "a"]);
        assert_eq!(
            refused(trailing_fields(&argv, 2)),
            Some(Reply::error(FIELDS_MISSING))
        );
        let argv = args(&["hsetex", "h", "FIELDS", "2", "a", "1", "b", "2", "KEEPTTL"]);
        let Ok((items, next)) = fields_block(&argv, 2, 2) else {
            panic!("a well-formed block");
        };
        assert_eq!((items.len(), next), (4, 8));
        let argv = args(&["hsetex", "h", "FIELDS", "2", "a", "1", "b"]);
        assert_eq!(
            refused(fields_block(&argv, 2, 2)),
            Some(Reply::error(NUMFIELDS_TOO_MANY))
        );
        let argv = args(&["hexpire", "h", "1", "FIELDS", "x", "a"]);
        assert_eq!(
            refused(fields_block(&argv, 3, 1)),
            Some(Reply::error(NUMFIELDS_NOT_POSITIVE))
        );
    }
}
