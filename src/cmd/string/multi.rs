//! MGET, MSET, MSETNX, MSETEX.

use crate::config::keyspace_events as events;
use bytes::Bytes;

use super::set::{GET, KEEPTTL, NX, OptionsOf, XX, expire_at_ms, parse_options};
use crate::cmd::{Ctx, errors};
use crate::resp::Reply;
use crate::store::{StrValue, Value};

pub fn mget(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let values = argv[1..]
        .iter()
        .map(|key| match ctx.lookup_read(key).map(|e| &e.value) {
            Some(Value::Str(v)) => Reply::Bulk(v.to_bytes()),
            _ => Reply::Nil,
        })
        .collect();
    Reply::Array(values)
}

pub fn mset(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    mset_generic(ctx, argv, false)
}

pub fn msetnx(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    mset_generic(ctx, argv, true)
}

fn mset_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], nx: bool) -> Reply {
    if argv.len().is_multiple_of(2) {
        return Reply::error(errors::wrong_arity(&String::from_utf8_lossy(&argv[0])));
    }
    if nx {
        for pair in argv[1..].chunks_exact(2) {
            if ctx.exists(&pair[0]) {
                return Reply::Integer(0);
            }
        }
    }
    for pair in argv[1..].chunks_exact(2) {
        ctx.set_value(&pair[0], Value::Str(StrValue::copy_from(&pair[1])));
        ctx.notify(events::STRING, "set", &pair[0]);
    }
    if nx { Reply::Integer(1) } else { Reply::ok() }
}

/// `MSETEX numkeys key value ... [NX | XX] [EX s | PX ms | EXAT s | PXAT ms | KEEPTTL]`
/// (Redis 8.4): sets every key with one expiry, or none if NX/XX fails for any; 1 or 0.
/// Replicas get `SET key value PXAT t` (or KEEPTTL) per key, or one MSET, in MULTI/EXEC
/// when there are several: commands Redis 7.0 replicas know, applied atomically.
pub fn msetex(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let Some(numkeys) = crate::util::num::parse_i64(&argv[1])
        .filter(|n| *n > 0)
        .and_then(|n| usize::try_from(n).ok())
    else {
        return Reply::error("ERR invalid numkeys value");
    };
    let pairs_end = numkeys
        .checked_mul(2)
        .and_then(|n| n.checked_add(2))
        .filter(|end| *end <= argv.len());
    let Some(pairs_end) = pairs_end else {
        return Reply::error("ERR wrong number of key-value pairs");
    };
    let options = match parse_options(argv, pairs_end, OptionsOf::Set) {
        Ok(o) if o.flags & GET == 0 && o.condition.is_none() => o,
        Ok(_) => return Reply::error(errors::SYNTAX),
        Err(e) => return e,
    };
    let expire_at = match options.expire.as_deref() {
        Some(arg) => match expire_at_ms(arg, options.flags, ctx.now_ms, b"msetex") {
            Ok(at) => Some(at),
            Err(e) => return e,
        },
        None => None,
    };
    let pairs = &argv[2..pairs_end];
    if options.flags & (NX | XX) != 0 {
        let want_present = options.flags & XX != 0;
        for pair in pairs.chunks_exact(2) {
            if ctx.exists(&pair[0]) != want_present {
                return Reply::Integer(0);
            }
        }
    }
    let keep_ttl = options.flags & KEEPTTL != 0;
    let mut effects = Vec::new();
    for pair in pairs.chunks_exact(2) {
        let (key, value) = (&pair[0], &pair[1]);
        let kept = if keep_ttl {
            ctx.lookup(key).and_then(|e| e.expire_at_ms)
        } else {
            None
        };
        ctx.set_value_with_expiry(
            key,
            Value::Str(StrValue::copy_from(value)),
            expire_at.or(kept),
        );
        ctx.notify(events::STRING, "set", key);
        if expire_at.is_some() {
            ctx.notify(events::GENERIC, "expire", key);
        }
        let mut effect = vec![Bytes::from_static(b"SET"), key.clone(), value.clone()];
        if let Some(at) = expire_at {
            effect.push(Bytes::from_static(b"PXAT"));
            effect.push(Bytes::from(at.to_string()));
        } else if keep_ttl {
            effect.push(Bytes::from_static(b"KEEPTTL"));
        }
        effects.push(effect);
    }
    ctx.suppress_own = true;
    if expire_at.is_none() && !keep_ttl {
        let mut mset = vec![Bytes::from_static(b"MSET")];
        mset.extend(pairs.iter().cloned());
        ctx.also_propagate(mset);
    } else if effects.len() == 1 || ctx.nested {
        // Inside MULTI or a script the transaction already wraps them.
        effects.into_iter().for_each(|e| ctx.also_propagate(e));
    } else {
        ctx.also_propagate(vec![Bytes::from_static(b"MULTI")]);
        effects.into_iter().for_each(|e| ctx.also_propagate(e));
        ctx.also_propagate(vec![Bytes::from_static(b"EXEC")]);
    }
    Reply::Integer(1)
}
