//! TTL, PTTL, EXPIRETIME, PEXPIRETIME.

use bytes::Bytes;

use crate::cmd::Ctx;
use crate::resp::Reply;

pub fn ttl(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    ttl_generic(ctx, &argv[1], false, false)
}

pub fn pttl(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    ttl_generic(ctx, &argv[1], true, false)
}

pub fn expiretime(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    ttl_generic(ctx, &argv[1], false, true)
}

pub fn pexpiretime(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    ttl_generic(ctx, &argv[1], true, true)
}

/// -2 for a missing key, -1 without expiry; seconds are rounded to nearest, as in Redis.
fn ttl_generic(ctx: &mut Ctx<'_>, key: &[u8], millis: bool, absolute: bool) -> Reply {
    let now = ctx.now_ms;
    let Some(entry) = ctx.lookup_read(key) else {
        return Reply::Integer(-2);
    };
    let Some(at) = entry.expire_at_ms else {
        return Reply::Integer(-1);
    };
    let ms = if absolute { at } else { at.saturating_sub(now) };
    let ms = i64::try_from(ms).unwrap_or(i64::MAX);
    Reply::Integer(if millis {
        ms
    } else {
        ms.saturating_add(500) / 1000
    })
}
