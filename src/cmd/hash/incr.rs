//! HINCRBY HINCRBYFLOAT.

use crate::config::keyspace_events as events;
use bytes::Bytes;

use super::shared::peek_hash;
use crate::cmd::{Ctx, errors};
use crate::resp::Reply;
use crate::util::longdouble::{self, IncrFloatError};
use crate::util::num::parse_i64;

/// The current value of `field`, after checking the key's type. Nothing is created: a
/// refused increment must not leave an empty hash behind.
fn current_value(ctx: &mut Ctx<'_>, key: &[u8], field: &[u8]) -> Result<Option<Bytes>, Reply> {
    Ok(peek_hash(ctx, key)?.and_then(|h| h.get_bytes(field)))
}

/// Stores the new value; the field keeps its expiry time, as in Redis. Returns whether the
/// field has one.
fn store(ctx: &mut Ctx<'_>, key: &[u8], field: &[u8], value: Bytes) -> Result<bool, Reply> {
    let mut timed = false;
    if let Some(hash) = ctx.write_hash(key, true)? {
        hash.insert_keep_expiry(field, &value);
        timed = hash.field_expiry(field).is_some();
    }
    ctx.modified(key);
    Ok(timed)
}

pub fn hincrby(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let (key, field) = (&argv[1], &argv[2]);
    let Some(increment) = parse_i64(&argv[3]) else {
        return Reply::error(errors::NOT_INTEGER);
    };
    let current = match current_value(ctx, key, field) {
        Ok(None) => 0,
        Ok(Some(text)) => match parse_i64(&text) {
            Some(v) => v,
            None => return Reply::error("ERR hash value is not an integer"),
        },
        Err(e) => return e,
    };
    let Some(new) = current.checked_add(increment) else {
        return Reply::error(errors::OVERFLOW);
    };
    let mut digits = itoa::Buffer::new();
    let text = Bytes::copy_from_slice(digits.format(new).as_bytes());
    match store(ctx, key, field, text) {
        Ok(_) => {
            ctx.notify(events::HASH, "hincrby", key);
            Reply::Integer(new)
        }
        Err(e) => e,
    }
}

pub fn hincrbyfloat(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let (key, field, increment) = (&argv[1], &argv[2], &argv[3]);
    // The increment is judged on its own first (Redis parses it before looking at the
    // key): adding it to zero tells an infinite one from an unparsable one.
    match longdouble::incr_by_float(b"0", increment) {
        Ok(_) => {}
        Err(IncrFloatError::NanOrInfinity) => {
            return Reply::error("ERR value is NaN or Infinity");
        }
        Err(_) => return Reply::error(errors::NOT_FLOAT),
    }
    let current = match current_value(ctx, key, field) {
        Ok(current) => current,
        Err(e) => return e,
    };
    let new = match longdouble::incr_by_float(current.as_deref().unwrap_or(b"0"), increment) {
        Ok(new) => new,
        Err(IncrFloatError::CurrentNotFloat) => {
            return Reply::error("ERR hash value is not a float");
        }
        Err(IncrFloatError::IncrementNotFloat) => return Reply::error(errors::NOT_FLOAT),
        Err(IncrFloatError::NanOrInfinity) => {
            return Reply::error("ERR increment would produce NaN or Infinity");
        }
    };
    let timed = match store(ctx, key, field, new.clone()) {
        Ok(timed) => {
            ctx.notify(events::HASH, "hincrbyfloat", key);
            timed
        }
        Err(e) => return e,
    };
    // Replicas get the result, not the arithmetic, so that they cannot round differently.
    // HSET would drop a field's expiry time on the replica: a timed field's new value goes
    // as HSETEX KEEPTTL (Redis 8's form; replicas old enough to lack it lack field times).
    ctx.rewrite(if timed {
        vec![
            Bytes::from_static(b"HSETEX"),
            key.clone(),
            Bytes::from_static(b"KEEPTTL"),
            Bytes::from_static(b"FIELDS"),
            Bytes::from_static(b"1"),
            field.clone(),
            new.clone(),
        ]
    } else {
        vec![
            Bytes::from_static(b"HSET"),
            key.clone(),
            field.clone(),
            new.clone(),
        ]
    });
    Reply::Bulk(new)
}
