//! INCR, DECR, INCRBY, DECRBY, INCRBYFLOAT.

use crate::config::keyspace_events as events;
use bytes::Bytes;

use super::{current_string, store_keep_ttl};
use crate::cmd::{Ctx, errors};
use crate::resp::Reply;
use crate::store::{Entry, StrValue, Value};
use crate::util::longdouble::{IncrFloatError, incr_by_float};
use crate::util::num::parse_i64;

pub fn incr(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    incr_decr(ctx, &argv[1], 1)
}

pub fn decr(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    incr_decr(ctx, &argv[1], -1)
}

pub fn incrby(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    match parse_i64(&argv[2]) {
        Some(by) => incr_decr(ctx, &argv[1], by),
        None => Reply::error(errors::NOT_INTEGER),
    }
}

pub fn decrby(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    match parse_i64(&argv[2]) {
        Some(i64::MIN) => Reply::error("ERR decrement would overflow"),
        Some(by) => incr_decr(ctx, &argv[1], -by),
        None => Reply::error(errors::NOT_INTEGER),
    }
}

fn incr_decr(ctx: &mut Ctx<'_>, key: &[u8], by: i64) -> Reply {
    // One probe, and the stored text is parsed where it lies (cloning it would promote it
    // to a shared allocation only to drop it again).
    let new_value = match ctx.lookup_write(key) {
        Some(entry) => {
            let Value::Str(text) = &entry.value else {
                return Reply::error(errors::WRONGTYPE);
            };
            let Some(value) = parse_i64(text) else {
                return Reply::error(errors::NOT_INTEGER);
            };
            let Some(new_value) = value.checked_add(by) else {
                return Reply::error(errors::OVERFLOW);
            };
            // In place: INCR keeps the key's TTL, as Redis's overwrite does.
            let mut buf = itoa::Buffer::new();
            entry.value = Value::Str(StrValue::copy_from(buf.format(new_value).as_bytes()));
            new_value
        }
        None => {
            let mut buf = itoa::Buffer::new();
            ctx.insert_entry(
                key,
                Entry::new(Value::Str(StrValue::copy_from(buf.format(by).as_bytes()))),
            );
            by
        }
    };
    ctx.modified(key);
    ctx.notify(events::STRING, "incrby", key);
    Reply::Integer(new_value)
}

pub fn incrbyfloat(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let key = &argv[1];
    let current = match current_string(ctx, key) {
        Ok(v) => v,
        Err(e) => return e,
    };
    let current = current.unwrap_or_else(|| Bytes::from_static(b"0"));
    let new_value = match incr_by_float(&current, &argv[2]) {
        Ok(v) => v,
        Err(IncrFloatError::CurrentNotFloat | IncrFloatError::IncrementNotFloat) => {
            return Reply::error(errors::NOT_FLOAT);
        }
        Err(IncrFloatError::NanOrInfinity) => {
            return Reply::error("ERR increment would produce NaN or Infinity");
        }
    };
    store_keep_ttl(ctx, key, new_value.clone());
    ctx.notify(events::STRING, "incrbyfloat", key);
    // Replicas get the resulting value: float formatting must not be recomputed there.
    ctx.rewrite(vec![
        Bytes::from_static(b"SET"),
        key.clone(),
        new_value.clone(),
        Bytes::from_static(b"KEEPTTL"),
    ]);
    Reply::Bulk(new_value)
}
