//! LLEN LRANGE LINDEX.

use bytes::Bytes;

use super::shared::{resolve_index, resolve_range};
use crate::cmd::{Ctx, errors};
use crate::resp::Reply;
use crate::util::num::parse_i64;

pub fn llen(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    match ctx.read_list(&argv[1]) {
        Ok(list) => Reply::integer(list.map_or(0, |l| l.len())),
        Err(e) => e,
    }
}

pub fn lrange(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let (Some(start), Some(end)) = (parse_i64(&argv[2]), parse_i64(&argv[3])) else {
        return Reply::error(errors::NOT_INTEGER);
    };
    let list = match ctx.read_list(&argv[1]) {
        Ok(Some(list)) => list,
        Ok(None) => return Reply::Array(Vec::new()),
        Err(e) => return e,
    };
    match resolve_range(start, end, list.len()) {
        Some((from, to)) => Reply::bulk_array(list.range(from..=to).cloned()),
        None => Reply::Array(Vec::new()),
    }
}

pub fn lindex(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    // The key is looked up before the index is parsed: a missing key answers nil even
    // for a malformed index, as in Redis.
    let list = match ctx.read_list(&argv[1]) {
        Ok(Some(list)) => list,
        Ok(None) => return Reply::Nil,
        Err(e) => return e,
    };
    let Some(index) = parse_i64(&argv[2]) else {
        return Reply::error(errors::NOT_INTEGER);
    };
    resolve_index(index, list.len())
        .and_then(|i| list.get(i))
        .map_or(Reply::Nil, |e| Reply::Bulk(e.clone()))
}
