//! HGET HMGET HEXISTS HSTRLEN HLEN: single-field reads.

use bytes::Bytes;

use crate::cmd::Ctx;
use crate::resp::Reply;

pub fn hget(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    match ctx.read_hash(&argv[1]) {
        Ok(hash) => hash
            .and_then(|h| h.get_bytes(&argv[2]))
            .map_or(Reply::Nil, Reply::Bulk),
        Err(e) => e,
    }
}

pub fn hmget(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let hash = match ctx.read_hash(&argv[1]) {
        Ok(hash) => hash,
        Err(e) => return e,
    };
    Reply::Array(
        argv[2..]
            .iter()
            .map(|field| {
                hash.as_ref()
                    .and_then(|h| h.get_bytes(field))
                    .map_or(Reply::Nil, Reply::Bulk)
            })
            .collect(),
    )
}

pub fn hexists(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    match ctx.read_hash(&argv[1]) {
        Ok(hash) => Reply::Integer(i64::from(hash.is_some_and(|h| h.contains_key(&argv[2])))),
        Err(e) => e,
    }
}

pub fn hstrlen(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    match ctx.read_hash(&argv[1]) {
        Ok(hash) => Reply::integer(
            hash.and_then(|h| h.get(&argv[2]).map(<[u8]>::len))
                .unwrap_or(0),
        ),
        Err(e) => e,
    }
}

pub fn hlen(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    match ctx.read_hash(&argv[1]) {
        Ok(hash) => Reply::integer(hash.map_or(0, |h| h.len())),
        Err(e) => e,
    }
}
