//! GET and the commands that read a value while changing the key: GETSET, GETDEL, GETEX.

use crate::config::keyspace_events as events;
use bytes::Bytes;

use super::old_value_reply;
use super::set::{EXAT, OptionsOf, PERSIST, PXAT, expire_at_ms, parse_options};
use crate::cmd::{Ctx, errors};
use crate::resp::Reply;
use crate::store::{StrValue, Value};

pub fn get(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    old_value_reply(ctx, &argv[1]).unwrap_or_else(|e| e)
}

pub fn getset(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let reply = match old_value_reply(ctx, &argv[1]) {
        Ok(r) => r,
        Err(e) => return e,
    };
    ctx.set_value(&argv[1], Value::Str(StrValue::copy_from(&argv[2])));
    ctx.notify(events::STRING, "set", &argv[1]);
    let mut effect = argv.to_vec();
    effect[0] = Bytes::from_static(b"SET");
    ctx.rewrite(effect);
    reply
}

pub fn getdel(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let reply = match old_value_reply(ctx, &argv[1]) {
        Ok(r) => r,
        Err(e) => return e,
    };
    if ctx.delete(&argv[1]) {
        ctx.rewrite(vec![Bytes::from_static(b"DEL"), argv[1].clone()]);
    }
    reply
}

pub fn getex(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let options = match parse_options(argv, 2, OptionsOf::GetEx) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let key = &argv[1];
    let (value, has_ttl) = match ctx.lookup_read(key) {
        None => return Reply::Nil,
        Some(entry) => match &entry.value {
            Value::Str(v) => (v.to_bytes(), entry.expire_at_ms.is_some()),
            _ => return Reply::error(errors::WRONGTYPE),
        },
    };
    let expire_at = match &options.expire {
        Some(arg) => match expire_at_ms(arg, options.flags, ctx.now_ms, &argv[0]) {
            Ok(at) => Some(at),
            Err(e) => return e,
        },
        None => None,
    };
    let absolute = options.flags & (EXAT | PXAT) != 0;
    match expire_at {
        Some(at) if absolute && at <= ctx.now_ms && ctx.state.deletes_expired() => {
            ctx.db().remove(key);
            ctx.modified(key);
            ctx.notify(events::GENERIC, "del", key);
            ctx.rewrite(vec![Bytes::from_static(b"DEL"), key.clone()]);
        }
        Some(at) => {
            ctx.db().set_expire(key, Some(at));
            ctx.modified(key);
            ctx.notify(events::GENERIC, "expire", key);
            ctx.rewrite(vec![
                Bytes::from_static(b"PEXPIREAT"),
                key.clone(),
                Bytes::from(at.to_string()),
            ]);
        }
        None if options.flags & PERSIST != 0 && has_ttl => {
            ctx.db().set_expire(key, None);
            ctx.modified(key);
            ctx.notify(events::GENERIC, "persist", key);
            ctx.rewrite(vec![Bytes::from_static(b"PERSIST"), key.clone()]);
        }
        None => {}
    }
    Reply::Bulk(value)
}
