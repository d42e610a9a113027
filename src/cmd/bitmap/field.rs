//! BITFIELD and BITFIELD_RO: integer fields of 1 to 64 bits (unsigned up to 63) at any bit
//! offset, read, written and incremented in order, each write under the OVERFLOW behaviour
//! then in force.

use crate::config::keyspace_events as events;
use bytes::Bytes;

use super::bits::{self, Overflow};
use super::commands::{edit_bits, parse_offset, read_string};
use crate::cmd::ctx::Ctx;
use crate::cmd::errors;
use crate::resp::Reply;
use crate::util::num::parse_i64;

const TYPE_INVALID: &str = "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

#[derive(Clone, Copy)]
enum Action {
    Get,
    Set(i64),
    IncrBy(i64),
}

#[derive(Clone, Copy)]
struct Op {
    action: Action,
    signed: bool,
    width: u32,
    offset: u64,
    overflow: Overflow,
}

fn parse_type(arg: &[u8]) -> Result<(bool, u32), Reply> {
    let invalid = || Reply::error(TYPE_INVALID);
    let (signed, digits) = match arg.split_first() {
        Some((b'i', rest)) => (true, rest),
        Some((b'u', rest)) => (false, rest),
        _ => return Err(invalid()),
    };
    let width = parse_i64(digits)
        .and_then(|w| u32::try_from(w).ok())
        .ok_or_else(invalid)?;
    let max = if signed { 64 } else { 63 };
    if !(1..=max).contains(&width) {
        return Err(invalid());
    }
    Ok((signed, width))
}

fn parse(ctx: &Ctx<'_>, argv: &[Bytes]) -> Result<Vec<Op>, Reply> {
    let mut ops = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut j = 2;
    while j < argv.len() {
        let more = argv.len() - j - 1;
        let sub = &argv[j];
        let get = sub.eq_ignore_ascii_case(b"GET") && more >= 2;
        let set = sub.eq_ignore_ascii_case(b"SET") && more >= 3;
        let incr = sub.eq_ignore_ascii_case(b"INCRBY") && more >= 3;
        if sub.eq_ignore_ascii_case(b"OVERFLOW") && more >= 1 {
            let kind = &argv[j + 1];
            overflow = if kind.eq_ignore_ascii_case(b"WRAP") {
                Overflow::Wrap
            } else if kind.eq_ignore_ascii_case(b"SAT") {
                Overflow::Sat
            } else if kind.eq_ignore_ascii_case(b"FAIL") {
                Overflow::Fail
            } else {
                return Err(Reply::error("ERR Invalid OVERFLOW type specified"));
            };
            j += 2;
            continue;
        }
        if !(get || set || incr) {
            return Err(Reply::error(errors::SYNTAX));
        }
        let (signed, width) = parse_type(&argv[j + 1])?;
        let offset = parse_offset(ctx, &argv[j + 2], Some(width))?;
        let action = if get {
            Action::Get
        } else {
            let n = parse_i64(&argv[j + 3]).ok_or_else(|| Reply::error(errors::NOT_INTEGER))?;
            if set {
                Action::Set(n)
            } else {
                Action::IncrBy(n)
            }
        };
        ops.push(Op {
            action,
            signed,
            width,
            offset,
            overflow,
        });
        j += if get { 3 } else { 4 };
    }
    Ok(ops)
}

fn read_field(bytes: &[u8], op: &Op) -> i64 {
    if op.signed {
        bits::get_signed(bytes, op.offset, op.width)
    } else {
        // Unsigned fields are at most 63 bits wide.
        bits::get_unsigned(bytes, op.offset, op.width) as i64
    }
}

/// Applies a SET or INCRBY to `bytes`; the reply and whether the field changed.
fn write_field(bytes: &mut [u8], op: &Op, grew: bool) -> (Reply, bool) {
    let old = read_field(bytes, op);
    let (new, reply_value) = match (op.action, op.signed) {
        (Action::Set(v), true) => (bits::add_signed(v, 0, op.width, op.overflow), Some(old)),
        (Action::IncrBy(n), true) => {
            let new = bits::add_signed(old, n, op.width, op.overflow);
            (new, new)
        }
        (Action::Set(v), false) => (
            bits::add_unsigned(v as u64, 0, op.width, op.overflow).map(|u| u as i64),
            Some(old),
        ),
        (Action::IncrBy(n), false) => {
            let new = bits::add_unsigned(old as u64, n, op.width, op.overflow).map(|u| u as i64);
            (new, new)
        }
        (Action::Get, _) => return (Reply::Integer(old), false),
    };
    match (new, reply_value) {
        (Some(new), Some(reply)) => {
            bits::set_bits(bytes, op.offset, op.width, new as u64);
            (Reply::Integer(reply), grew || new != old)
        }
        // OVERFLOW FAIL: nothing written, nil in the reply.
        _ => (Reply::Nil, false),
    }
}

fn run(ctx: &mut Ctx<'_>, argv: &[Bytes], read_only_command: bool) -> Reply {
    let key = &argv[1];
    let ops = match parse(ctx, argv) {
        Ok(ops) => ops,
        Err(e) => return e,
    };
    let writes = ops.iter().any(|op| !matches!(op.action, Action::Get));
    if !writes {
        let value = match read_string(ctx, key) {
            Ok(v) => v.unwrap_or_default(),
            Err(e) => return e,
        };
        return Reply::Array(
            ops.iter()
                .map(|op| Reply::Integer(read_field(&value, op)))
                .collect(),
        );
    }
    if read_only_command {
        return Reply::error("ERR BITFIELD_RO only supports the GET subcommand");
    }
    let max_bit = ops
        .iter()
        .filter(|op| !matches!(op.action, Action::Get))
        .map(|op| op.offset + u64::from(op.width) - 1)
        .max()
        .unwrap_or(0);
    let edited = edit_bits(ctx, key, max_bit, |bytes| {
        let mut changes = 0usize;
        let mut replies = Vec::with_capacity(ops.len());
        for op in &ops {
            let (reply, changed) = write_field(bytes, op, false);
            changes += usize::from(changed);
            replies.push(reply);
        }
        (replies, changes)
    });
    let ((replies, changes), grew) = match edited {
        Ok(r) => r,
        Err(e) => return e,
    };
    // Redis counts a write as a change when the string was created or grew, even if the
    // field kept its value.
    let changes = if grew {
        replies
            .iter()
            .zip(&ops)
            .filter(|(r, op)| !matches!(op.action, Action::Get) && !matches!(r, Reply::Nil))
            .count()
    } else {
        changes
    };
    if changes > 0 {
        ctx.modified(key);
        ctx.add_changes(changes as u64 - 1);
        ctx.notify(events::STRING, "setbit", key);
    }
    Reply::Array(replies)
}

pub fn bitfield(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    run(ctx, argv, false)
}

pub fn bitfield_ro(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    run(ctx, argv, true)
}
