//! HKEYS HVALS HGETALL.

use bytes::Bytes;

use crate::cmd::Ctx;
use crate::resp::Reply;

pub fn hkeys(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    match ctx.read_hash(&argv[1]) {
        Ok(hash) => Reply::bulk_array(hash.iter().flat_map(|h| h.keys()).cloned()),
        Err(e) => e,
    }
}

pub fn hvals(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    match ctx.read_hash(&argv[1]) {
        Ok(hash) => Reply::bulk_array(hash.iter().flat_map(|h| h.values()).cloned()),
        Err(e) => e,
    }
}

pub fn hgetall(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    match ctx.read_hash(&argv[1]) {
        Ok(hash) => Reply::Map(
            hash.iter()
                .flat_map(|h| h.iter())
                .map(|(f, v)| (Reply::Bulk(f.clone()), Reply::Bulk(v.clone())))
                .collect(),
        ),
        Err(e) => e,
    }
}
