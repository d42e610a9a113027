//! SETBIT GETBIT BITCOUNT BITPOS BITOP.

use crate::config::keyspace_events as events;
use bytes::Bytes;

use super::bits::{self, span};
use crate::cmd::ctx::Ctx;
use crate::cmd::errors;
use crate::cmd::string::range::edit_in_place;
use crate::resp::Reply;
use crate::store::{Entry, StrValue, Value};
use crate::util::num::parse_i64;

const BIT_OFFSET_INVALID: &str = "ERR bit offset is not an integer or out of range";

/// A bit offset: non-negative, and (except from our master) addressing a byte within
/// `proto-max-bulk-len`. `#n` means `n * width` where `width` is given (BITFIELD).
pub(super) fn parse_offset(ctx: &Ctx<'_>, arg: &[u8], width: Option<u32>) -> Result<u64, Reply> {
    let invalid = || Reply::error(BIT_OFFSET_INVALID);
    let (digits, scale) = match (arg.split_first(), width) {
        (Some((b'#', rest)), Some(w)) => (rest, i64::from(w)),
        _ => (arg, 1),
    };
    let offset = parse_i64(digits)
        .and_then(|n| n.checked_mul(scale))
        .ok_or_else(invalid)?;
    let offset = u64::try_from(offset).map_err(|_| invalid())?;
    if !ctx.session.source.from_master() && (offset >> 3) >= ctx.state.config.proto_max_bulk_len {
        return Err(invalid());
    }
    Ok(offset)
}

/// The string at `key` for reading (a missing key reads as empty); `Err` is WRONGTYPE.
pub(super) fn read_string(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<Bytes>, Reply> {
    match ctx.lookup_read(key).map(|e| &e.value) {
        None => Ok(None),
        Some(Value::Str(v)) => Ok(Some(v.to_bytes())),
        Some(_) => Err(Reply::error(errors::WRONGTYPE)),
    }
}

/// Runs `edit` on the string at `key` grown with zero bytes to reach bit `max_bit`, creating
/// it if missing (Redis's `lookupStringForBitCommand`). Returns the edit's result and whether
/// the string was created or grew. `Err` is WRONGTYPE.
pub(super) fn edit_bits<T>(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    max_bit: u64,
    edit: impl FnOnce(&mut [u8]) -> T,
) -> Result<(T, bool), Reply> {
    // Within proto-max-bulk-len (checked with the offset), hence within usize.
    let needed = crate::util::num::usize_from((max_bit >> 3) + 1);
    let created = match ctx.lookup_write(key) {
        None => true,
        Some(Entry {
            value: Value::Str(_),
            ..
        }) => false,
        Some(_) => return Err(Reply::error(errors::WRONGTYPE)),
    };
    if created {
        ctx.insert_entry(key, Entry::new(Value::Str(StrValue::default())));
    }
    edit_in_place(ctx, key, |buf| {
        let grew = created || buf.len() < needed;
        if buf.len() < needed {
            buf.resize(needed, 0);
        }
        (edit(buf), grew)
    })
    .ok_or_else(|| Reply::error(errors::WRONGTYPE))
}

pub fn setbit(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let key = &argv[1];
    let offset = match parse_offset(ctx, &argv[2], None) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let on = match parse_i64(&argv[3]) {
        Some(0) => false,
        Some(1) => true,
        _ => return Reply::error("ERR bit is not an integer or out of range"),
    };
    let edited = edit_bits(ctx, key, offset, |bytes| {
        let was = bits::get_unsigned(bytes, offset, 1) == 1;
        bits::set_bits(bytes, offset, 1, u64::from(on));
        was
    });
    let (was, grew) = match edited {
        Ok(r) => r,
        Err(e) => return e,
    };
    if grew || was != on {
        ctx.modified(key);
        ctx.notify(events::STRING, "setbit", key);
    }
    Reply::Integer(i64::from(was))
}

pub fn getbit(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let offset = match parse_offset(ctx, &argv[2], None) {
        Ok(o) => o,
        Err(e) => return e,
    };
    match read_string(ctx, &argv[1]) {
        Ok(value) => Reply::Integer(value.map_or(0, |v| bits::get_unsigned(&v, offset, 1) as i64)),
        Err(e) => e,
    }
}

/// BITCOUNT's and BITPOS's trailing `BIT|BYTE`.
fn parse_unit(arg: &[u8]) -> Result<bool, Reply> {
    if arg.eq_ignore_ascii_case(b"BIT") {
        Ok(true)
    } else if arg.eq_ignore_ascii_case(b"BYTE") {
        Ok(false)
    } else {
        Err(Reply::error(errors::SYNTAX))
    }
}

fn parse_index(arg: &[u8]) -> Result<i64, Reply> {
    parse_i64(arg).ok_or_else(|| Reply::error(errors::NOT_INTEGER))
}

/// `BITCOUNT key [start end [BIT|BYTE]]`
pub fn bitcount(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let value = match read_string(ctx, &argv[1]) {
        Ok(Some(v)) => v,
        Ok(None) => return Reply::Integer(0),
        Err(e) => return e,
    };
    let range = match argv.len() {
        2 => span(value.len(), 0, -1, false),
        4 | 5 => {
            let (start, end) = match (parse_index(&argv[2]), parse_index(&argv[3])) {
                (Ok(s), Ok(e)) => (s, e),
                (Err(e), _) | (_, Err(e)) => return e,
            };
            if start < 0 && end < 0 && start > end {
                return Reply::Integer(0);
            }
            let in_bits = match argv.get(4).map(|a| parse_unit(a)) {
                Some(Ok(b)) => b,
                Some(Err(e)) => return e,
                None => false,
            };
            span(value.len(), start, end, in_bits)
        }
        _ => return Reply::error(errors::SYNTAX),
    };
    Reply::Integer(range.map_or(0, |s| bits::count(&value, s) as i64))
}

/// `BITPOS key bit [start [end [BIT|BYTE]]]`
pub fn bitpos(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let bit = match parse_i64(&argv[2]) {
        Some(0) => false,
        Some(1) => true,
        Some(_) => return Reply::error("ERR The bit argument must be 1 or 0."),
        None => return Reply::error(errors::NOT_INTEGER),
    };
    let value = match read_string(ctx, &argv[1]) {
        Ok(Some(v)) => v,
        // A missing key is an endless run of clear bits.
        Ok(None) => return Reply::Integer(if bit { -1 } else { 0 }),
        Err(e) => return e,
    };
    if argv.len() > 6 {
        return Reply::error(errors::SYNTAX);
    }
    let (mut start, mut end, mut in_bits, mut end_given) = (0, -1, false, false);
    if argv.len() >= 4 {
        start = match parse_index(&argv[3]) {
            Ok(s) => s,
            Err(e) => return e,
        };
        if let Some(unit) = argv.get(5) {
            in_bits = match parse_unit(unit) {
                Ok(b) => b,
                Err(e) => return e,
            };
        }
        if let Some(arg) = argv.get(4) {
            end = match parse_index(arg) {
                Ok(e) => e,
                Err(e) => return e,
            };
            end_given = true;
        }
    }
    match span(value.len(), start, end, in_bits) {
        Some(s) => Reply::Integer(bits::position(&value, s, bit, end_given)),
        None => Reply::Integer(-1),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

/// `BITOP AND|OR|XOR|NOT destkey key [key ...]`
pub fn bitop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let name = &argv[1];
    let op = if name.eq_ignore_ascii_case(b"AND") {
        BitOp::And
    } else if name.eq_ignore_ascii_case(b"OR") {
        BitOp::Or
    } else if name.eq_ignore_ascii_case(b"XOR") {
        BitOp::Xor
    } else if name.eq_ignore_ascii_case(b"NOT") {
        BitOp::Not
    } else {
        return Reply::error(errors::SYNTAX);
    };
    if op == BitOp::Not && argv.len() != 4 {
        return Reply::error("ERR BITOP NOT must be called with a single source key.");
    }
    let mut sources = Vec::with_capacity(argv.len() - 3);
    for key in &argv[3..] {
        match read_string(ctx, key) {
            Ok(v) => sources.push(v.unwrap_or_default()),
            Err(e) => return e,
        }
    }
    let len = sources.iter().map(Bytes::len).max().unwrap_or(0);
    // Shorter sources read as zero-padded.
    let byte = |s: &Bytes, i: usize| s.get(i).copied().unwrap_or(0);
    let result: Vec<u8> = (0..len)
        .map(|i| {
            let mut it = sources.iter();
            let first = it.next().map_or(0, |s| byte(s, i));
            match op {
                BitOp::Not => !first,
                BitOp::And => it.fold(first, |acc, s| acc & byte(s, i)),
                BitOp::Or => it.fold(first, |acc, s| acc | byte(s, i)),
                BitOp::Xor => it.fold(first, |acc, s| acc ^ byte(s, i)),
            }
        })
        .collect();
    let dest = &argv[2];
    if len > 0 {
        // Like SET: the destination loses any expiry.
        ctx.insert_entry(
            dest,
            Entry::new(Value::Str(StrValue::from(Bytes::from(result)))),
        );
        ctx.modified(dest);
        ctx.notify(events::STRING, "set", dest);
    } else if ctx.lookup_write(dest).is_some() {
        ctx.db().remove(dest);
        ctx.modified(dest);
        ctx.notify(events::GENERIC, "del", dest);
    }
    Reply::integer(len)
}
