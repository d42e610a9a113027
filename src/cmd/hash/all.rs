//! HKEYS HVALS HGETALL.

use bytes::Bytes;

use crate::cmd::Ctx;
use crate::resp::Reply;

pub fn hkeys(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    match ctx.read_hash(&argv[1]) {
        Ok(hash) => Reply::bulk_array(hash.iter().flat_map(|h| h.iter_bytes().map(|(f, _)| f))),
        Err(e) => e,
    }
}

pub fn hvals(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    match ctx.read_hash(&argv[1]) {
        Ok(hash) => Reply::bulk_array(hash.iter().flat_map(|h| h.iter_bytes().map(|(_, v)| v))),
        Err(e) => e,
    }
}

pub fn hgetall(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    match ctx.read_hash(&argv[1]) {
        Ok(hash) => Reply::Map(
            hash.iter()
                .flat_map(|h| h.iter_bytes())
                .map(|(f, v)| (Reply::Bulk(f), Reply::Bulk(v)))
                .collect(),
        ),
        Err(e) => e,
    }
}
