//! The arguments of XREAD and XREADGROUP, parsed by one loop as Redis 7.0's
//! `xreadCommand` parses both: XREAD refuses XREADGROUP's options by name.

use bytes::Bytes;

use super::shared::parse_count;
use crate::cmd::errors;
use crate::resp::Reply;
use crate::util::num::parse_i64;

pub struct ReadArgs<'a> {
    /// Group and consumer (XREADGROUP only).
    pub group: Option<(&'a Bytes, &'a Bytes)>,
    pub count: usize,
    /// Milliseconds; `Some(0)` blocks forever.
    pub block_ms: Option<u64>,
    pub noack: bool,
    pub keys: &'a [Bytes],
    pub ids: &'a [Bytes],
}

/// Parses `argv` of XREAD or (`group_read`) XREADGROUP.
pub fn parse(argv: &[Bytes], group_read: bool) -> Result<ReadArgs<'_>, Reply> {
    let only_for_group = |option: &str| {
        Reply::error(format!(
            "ERR The {option} option is only supported by XREADGROUP. You called XREAD instead."
        ))
    };
    let mut args = ReadArgs {
        group: None,
        count: usize::MAX,
        block_ms: None,
        noack: false,
        keys: &[],
        ids: &[],
    };
    let mut streams_at = None;
    let mut i = 1;
    while i < argv.len() {
        let more = argv.len() - i - 1;
        let opt = &argv[i];
        if opt.eq_ignore_ascii_case(b"BLOCK") && more > 0 {
            args.block_ms = match parse_i64(&argv[i + 1]) {
                Some(ms) if ms < 0 => return Err(Reply::error(errors::TIMEOUT_NEGATIVE)),
                Some(ms) => u64::try_from(ms).ok(),
                None => {
                    return Err(Reply::error(
                        "ERR timeout is not an integer or out of range",
                    ));
                }
            };
            i += 2;
        } else if opt.eq_ignore_ascii_case(b"COUNT") && more > 0 {
            args.count = parse_count(&argv[i + 1])?;
            i += 2;
        } else if opt.eq_ignore_ascii_case(b"STREAMS") && more > 0 {
            if !more.is_multiple_of(2) {
                let (name, symbol) = if group_read {
                    ("XREADGROUP", '>')
                } else {
                    ("XREAD", '$')
                };
                return Err(Reply::error(format!(
                    "ERR Unbalanced {name} list of streams: for each stream key an ID or '{symbol}' must be specified."
                )));
            }
            streams_at = Some(i + 1);
            break;
        } else if opt.eq_ignore_ascii_case(b"GROUP") && more >= 2 {
            if !group_read {
                return Err(only_for_group("GROUP"));
            }
            args.group = Some((&argv[i + 1], &argv[i + 2]));
            i += 3;
        } else if opt.eq_ignore_ascii_case(b"NOACK") {
            if !group_read {
                return Err(only_for_group("NOACK"));
            }
            args.noack = true;
            i += 1;
        } else {
            return Err(Reply::error(errors::SYNTAX));
        }
    }
    let Some(streams_at) = streams_at else {
        return Err(Reply::error(errors::SYNTAX));
    };
    if group_read && args.group.is_none() {
        return Err(Reply::error("ERR Missing GROUP option for XREADGROUP"));
    }
    let rest = &argv[streams_at..];
    (args.keys, args.ids) = rest.split_at(rest.len() / 2);
    Ok(args)
}
