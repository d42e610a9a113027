//! Byte-range commands: APPEND, STRLEN, GETRANGE (and its old name SUBSTR), SETRANGE.

use crate::config::keyspace_events as events;
use bytes::{Bytes, BytesMut};

use super::current_string;
use crate::cmd::{Ctx, errors};
use crate::resp::Reply;
use crate::store::{Entry, StrValue, Value};
use crate::util::num::parse_i64;

/// Refuses a string that would grow past `proto-max-bulk-len` (not for the master's stream,
/// which must apply whatever the master accepted).
fn check_length(ctx: &Ctx<'_>, size: u64, append: u64) -> Result<(), Reply> {
    if ctx.session.source.from_master() {
        return Ok(());
    }
    match size.checked_add(append) {
        Some(total) if total <= ctx.state.config.proto_max_bulk_len => Ok(()),
        _ => Err(Reply::error(
            "ERR string exceeds maximum allowed size (proto-max-bulk-len)",
        )),
    }
}

/// Runs `edit` on the string at `key` as a growable buffer, without copying it when nothing
/// else (a snapshot, a reply in flight) shares it; `None` if `key` holds no string.
pub(crate) fn edit_in_place<T>(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    edit: impl FnOnce(&mut BytesMut) -> T,
) -> Option<T> {
    let Some(Entry {
        value: Value::Str(stored),
        ..
    }) = ctx.db().get_mut(key)
    else {
        return None;
    };
    let mut buf = match std::mem::take(stored) {
        StrValue::Shared(shared) => match shared.try_into_mut() {
            Ok(buf) => buf,
            Err(shared) => BytesMut::from(shared.as_ref()),
        },
        inline => BytesMut::from(inline.as_bytes()),
    };
    let out = edit(&mut buf);
    *stored = StrValue::from(buf.freeze());
    Some(out)
}

pub fn append(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let key = &argv[1];
    let suffix = &argv[2];
    let current_len = match current_string(ctx, key) {
        Ok(v) => v.map(|v| v.len()),
        Err(e) => return e,
    };
    let total = match current_len {
        None => {
            ctx.set_value(key, Value::Str(StrValue::copy_from(suffix)));
            ctx.notify(events::STRING, "append", key);
            return Reply::integer(suffix.len());
        }
        Some(len) => {
            if let Err(e) = check_length(ctx, len as u64, suffix.len() as u64) {
                return e;
            }
            edit_in_place(ctx, key, |buf| {
                buf.extend_from_slice(suffix);
                buf.len()
            })
            .unwrap_or(0)
        }
    };
    ctx.modified(key);
    ctx.notify(events::STRING, "append", key);
    Reply::integer(total)
}

pub fn strlen(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    match ctx.read_str(&argv[1]) {
        Ok(v) => Reply::integer(v.map_or(0, |v| v.len())),
        Err(e) => e,
    }
}

pub fn getrange(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let (Some(start), Some(end)) = (parse_i64(&argv[2]), parse_i64(&argv[3])) else {
        return Reply::error(errors::NOT_INTEGER);
    };
    let value = match ctx.read_str(&argv[1]) {
        Ok(Some(v)) => v,
        Ok(None) => return Reply::Bulk(Bytes::new()),
        Err(e) => return e,
    };
    match byte_range(value.len(), start, end) {
        Some((from, to)) => Reply::Bulk(value.slice(from..=to)),
        None => Reply::Bulk(Bytes::new()),
    }
}

/// Inclusive byte range of GETRANGE with Redis's index rules; None when empty.
fn byte_range(len: usize, start: i64, end: i64) -> Option<(usize, usize)> {
    if start < 0 && end < 0 && start > end {
        return None;
    }
    let len = len as i128;
    let mut start = i128::from(start);
    let mut end = i128::from(end);
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0).min(len - 1);
    if len == 0 || start > end {
        return None;
    }
    Some((usize::try_from(start).ok()?, usize::try_from(end).ok()?))
}

pub fn setrange(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let key = &argv[1];
    let patch = &argv[3];
    let Some(offset) = parse_i64(&argv[2]) else {
        return Reply::error(errors::NOT_INTEGER);
    };
    if offset < 0 {
        return Reply::error("ERR offset is out of range");
    }
    let offset = offset as u64;
    let current_len = match current_string(ctx, key) {
        Ok(v) => v.map(|v| v.len()),
        Err(e) => return e,
    };
    match current_len {
        None if patch.is_empty() => return Reply::Integer(0),
        Some(len) if patch.is_empty() => return Reply::integer(len),
        _ => {}
    }
    if let Err(e) = check_length(ctx, offset, patch.len() as u64) {
        return e;
    }
    // Within proto-max-bulk-len, hence within usize.
    let offset = crate::util::num::usize_from(offset);
    if current_len.is_none() {
        ctx.insert_entry(key, Entry::new(Value::Str(StrValue::default())));
    }
    let total = edit_in_place(ctx, key, |buf| {
        let end = offset + patch.len();
        if buf.len() < end {
            buf.resize(end, 0);
        }
        buf[offset..end].copy_from_slice(patch);
        buf.len()
    })
    .unwrap_or(0);
    ctx.modified(key);
    ctx.notify(events::STRING, "setrange", key);
    Reply::integer(total)
}

#[cfg(test)]
mod tests {
    use super::byte_range;

    #[test]
    fn getrange_indexes() {
        assert_eq!(byte_range(5, 0, -1), Some((0, 4)));
        assert_eq!(byte_range(5, -3, -1), Some((2, 4)));
        assert_eq!(byte_range(5, -1, -3), None);
        assert_eq!(byte_range(5, 3, 100), Some((3, 4)));
        assert_eq!(byte_range(5, -100, 1), Some((0, 1)));
        assert_eq!(byte_range(5, 4, 2), None);
        assert_eq!(byte_range(0, 0, -1), None);
        assert_eq!(byte_range(5, i64::MIN, i64::MAX), Some((0, 4)));
        assert_eq!(byte_range(5, 9, 10), None);
    }
}
