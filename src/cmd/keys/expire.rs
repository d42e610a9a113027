//! EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (with NX, XX, GT, LT) and PERSIST.
//!
//! Every accepted expiry is propagated as PEXPIREAT with the absolute time, and an expiry
//! already in the past deletes the key and propagates DEL, as Redis 7.0 does.

use crate::config::keyspace_events as events;
use bytes::Bytes;

use crate::cmd::{Ctx, errors};
use crate::resp::Reply;
use crate::util::num::parse_i64;

const NX: u8 = 1 << 0;
const XX: u8 = 1 << 1;
const GT: u8 = 1 << 2;
const LT: u8 = 1 << 3;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Unit {
    Seconds,
    Milliseconds,
}

pub fn expire(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let base = ctx.now_ms;
    expire_generic(ctx, argv, base, Unit::Seconds)
}

pub fn pexpire(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let base = ctx.now_ms;
    expire_generic(ctx, argv, base, Unit::Milliseconds)
}

pub fn expireat(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    expire_generic(ctx, argv, 0, Unit::Seconds)
}

pub fn pexpireat(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    expire_generic(ctx, argv, 0, Unit::Milliseconds)
}

fn parse_flags(argv: &[Bytes]) -> Result<u8, Reply> {
    let mut flags = 0u8;
    for opt in &argv[3..] {
        flags |= match opt.to_ascii_lowercase().as_slice() {
            b"nx" => NX,
            b"xx" => XX,
            b"gt" => GT,
            b"lt" => LT,
            _ => {
                return Err(Reply::error(format!(
                    "ERR Unsupported option {}",
                    String::from_utf8_lossy(opt)
                )));
            }
        };
    }
    if flags & NX != 0 && flags & (XX | GT | LT) != 0 {
        return Err(Reply::error(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if flags & GT != 0 && flags & LT != 0 {
        return Err(Reply::error(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    Ok(flags)
}

/// The absolute expiry in Unix ms, or None when the arithmetic overflows.
fn absolute_ms(value: i64, base_ms: u64, unit: Unit) -> Option<i64> {
    let ms = match unit {
        Unit::Seconds => value.checked_mul(1000)?,
        Unit::Milliseconds => value,
    };
    ms.checked_add(i64::try_from(base_ms).ok()?)
}

fn expire_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], base_ms: u64, unit: Unit) -> Reply {
    let key = &argv[1];
    let flags = match parse_flags(argv) {
        Ok(f) => f,
        Err(e) => return e,
    };
    let Some(value) = parse_i64(&argv[2]) else {
        return Reply::error(errors::NOT_INTEGER);
    };
    let Some(when) = absolute_ms(value, base_ms, unit) else {
        return Reply::error(format!(
            "ERR invalid expire time in '{}' command",
            String::from_utf8_lossy(&argv[0].to_ascii_lowercase())
        ));
    };
    let Some(current) = ctx.lookup_write(key).map(|e| e.expire_at_ms) else {
        return Reply::Integer(0);
    };
    // No expiry counts as an infinite one for GT and LT.
    let refused = match current {
        None => flags & (XX | GT) != 0,
        Some(at) => {
            let at = i64::try_from(at).unwrap_or(i64::MAX);
            flags & NX != 0 || (flags & GT != 0 && when <= at) || (flags & LT != 0 && when >= at)
        }
    };
    if refused {
        return Reply::Integer(0);
    }
    let now = i64::try_from(ctx.now_ms).unwrap_or(i64::MAX);
    if when <= now && ctx.state.deletes_expired() {
        ctx.db().remove(key);
        ctx.modified(key);
        ctx.notify(events::GENERIC, "del", key);
        ctx.rewrite(vec![Bytes::from_static(b"DEL"), key.clone()]);
        return Reply::Integer(1);
    }
    // A replica keeps a past expiry as it is and waits for its master's DEL.
    let at = u64::try_from(when).unwrap_or(0);
    ctx.db().set_expire(key, Some(at));
    ctx.modified(key);
    ctx.notify(events::GENERIC, "expire", key);
    let mut effect = argv.to_vec();
    if !argv[0].eq_ignore_ascii_case(b"pexpireat") {
        effect[0] = Bytes::from_static(b"PEXPIREAT");
    }
    if base_ms != 0 || unit == Unit::Seconds {
        effect[2] = Bytes::from(when.to_string());
    }
    ctx.rewrite(effect);
    Reply::Integer(1)
}

pub fn persist(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let key = &argv[1];
    match ctx.lookup_write(key) {
        Some(entry) if entry.expire_at_ms.is_some() => {
            ctx.db().set_expire(key, None);
            ctx.modified(key);
            ctx.notify(events::GENERIC, "persist", key);
            Reply::Integer(1)
        }
        _ => Reply::Integer(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_times() {
        assert_eq!(absolute_ms(10, 1000, Unit::Seconds), Some(11_000));
        assert_eq!(absolute_ms(-10, 1000, Unit::Milliseconds), Some(990));
        assert_eq!(absolute_ms(i64::MAX / 1000 + 1, 0, Unit::Seconds), None);
        assert_eq!(absolute_ms(i64::MAX, 1, Unit::Milliseconds), None);
    }
}
