//! HSET HMSET HSETNX.

use crate::config::keyspace_events as events;
use bytes::Bytes;

use super::shared::{peek_hash, record_changes};
use crate::cmd::{Ctx, errors};
use crate::resp::Reply;

/// Sets the field/value pairs of `argv[2..]`; returns how many fields are new.
fn set_pairs(ctx: &mut Ctx<'_>, argv: &[Bytes], name: &str) -> Result<usize, Reply> {
    if !argv.len().is_multiple_of(2) {
        return Err(Reply::error(errors::wrong_arity(name)));
    }
    let key = &argv[1];
    let created = {
        let Some(hash) = ctx.write_hash(key, true)? else {
            return Ok(0);
        };
        let mut created = 0;
        for pair in argv[2..].chunks_exact(2) {
            if hash.insert(&pair[0], &pair[1]) {
                created += 1;
            }
        }
        created
    };
    record_changes(ctx, key, (argv.len() - 2) / 2);
    ctx.notify(events::HASH, "hset", key);
    Ok(created)
}

pub fn hset(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    match set_pairs(ctx, argv, "hset") {
        Ok(created) => Reply::integer(created),
        Err(e) => e,
    }
}

pub fn hmset(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    match set_pairs(ctx, argv, "hmset") {
        Ok(_) => Reply::ok(),
        Err(e) => e,
    }
}

pub fn hsetnx(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let key = &argv[1];
    match peek_hash(ctx, key) {
        Err(e) => return e,
        Ok(Some(hash)) if hash.contains_key(&argv[2]) => return Reply::Integer(0),
        Ok(_) => {}
    }
    match ctx.write_hash(key, true) {
        Ok(Some(hash)) => {
            hash.insert(&argv[2], &argv[3]);
        }
        Ok(None) => {}
        Err(e) => return e,
    }
    ctx.modified(key);
    ctx.notify(events::HASH, "hset", key);
    Reply::Integer(1)
}
