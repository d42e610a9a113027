//! LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count], and the parsing and pop step
//! BLMPOP shares with it.

use bytes::Bytes;

use super::shared::{End, list_len, pop_elements};
use crate::cmd::{Ctx, errors};
use crate::resp::Reply;
use crate::util::num::parse_i64;

pub struct MultiPop<'a> {
    pub keys: &'a [Bytes],
    pub end: End,
    pub count: usize,
}

/// Parses `numkeys key... LEFT|RIGHT [COUNT count]`, numkeys being `argv[numkeys_idx]`.
pub fn parse_multi_pop(argv: &[Bytes], numkeys_idx: usize) -> Result<MultiPop<'_>, Reply> {
    let numkeys = parse_i64(&argv[numkeys_idx])
        .filter(|&n| n >= 1)
        .ok_or_else(|| Reply::error("ERR numkeys should be greater than 0"))?;
    let where_idx = usize::try_from(numkeys)
        .ok()
        .and_then(|n| n.checked_add(numkeys_idx + 1))
        .filter(|&i| i < argv.len())
        .ok_or_else(|| Reply::error(errors::SYNTAX))?;
    let end = End::parse_or_syntax(&argv[where_idx])?;
    let mut count = None;
    let mut i = where_idx + 1;
    while i < argv.len() {
        if count.is_none() && argv[i].eq_ignore_ascii_case(b"count") && i + 1 < argv.len() {
            let n = parse_i64(&argv[i + 1])
                .filter(|&n| n >= 1)
                .ok_or_else(|| Reply::error("ERR count should be greater than 0"))?;
            count = Some(usize::try_from(n).unwrap_or(usize::MAX));
            i += 2;
        } else {
            return Err(Reply::error(errors::SYNTAX));
        }
    }
    Ok(MultiPop {
        keys: &argv[numkeys_idx + 1..where_idx],
        end,
        count: count.unwrap_or(1),
    })
}

/// Pops from the first non-empty list among the keys. Keys of another type are an error
/// when `strict` (a client's own attempt) and skipped otherwise (serving a blocked client).
/// Propagates the pop as `LPOP|RPOP key count`, count being what was popped.
pub fn try_multi_pop(ctx: &mut Ctx<'_>, spec: &MultiPop<'_>, strict: bool) -> Option<Reply> {
    for key in spec.keys {
        match list_len(ctx, key) {
            Ok(Some(_)) => {
                let popped = pop_elements(ctx, key, spec.end, spec.count);
                ctx.suppress_own = true;
                ctx.also_propagate(vec![
                    spec.end.pop_command(),
                    key.clone(),
                    Bytes::from(popped.len().to_string()),
                ]);
                return Some(Reply::Array(vec![
                    Reply::Bulk(key.clone()),
                    Reply::bulk_array(popped),
                ]));
            }
            Ok(None) => {}
            Err(e) if strict => return Some(e),
            Err(_) => {}
        }
    }
    None
}

pub fn lmpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let spec = match parse_multi_pop(argv, 1) {
        Ok(s) => s,
        Err(e) => return e,
    };
    try_multi_pop(ctx, &spec, true).unwrap_or(Reply::NilArray)
}
