//! LMOVE and RPOPLPUSH, and the move step BLMOVE/BRPOPLPUSH share with them.

use crate::config::keyspace_events as events;
use bytes::Bytes;

use super::shared::{End, list_len, record_changes};
use crate::cmd::Ctx;
use crate::resp::Reply;

/// Moves one element from `end_from` of `src` (a non-empty list) to `end_to` of `dst`.
/// WRONGTYPE when `dst` holds something else; nothing changes then.
pub fn move_element(
    ctx: &mut Ctx<'_>,
    src: &[u8],
    dst: &[u8],
    end_from: End,
    end_to: End,
) -> Result<Option<Bytes>, Reply> {
    list_len(ctx, dst)?;
    let value = match ctx.write_list(src, false)? {
        Some(list) => match end_from {
            End::Left => list.pop_front(),
            End::Right => list.pop_back(),
        },
        None => None,
    };
    let Some(value) = value else {
        return Ok(None);
    };
    // Pushed before the source is checked for emptiness: with src == dst the list (and
    // its TTL) survives, as in Redis.
    if let Some(list) = ctx.write_list(dst, true)? {
        match end_to {
            End::Left => list.push_front(value.clone()),
            End::Right => list.push_back(value.clone()),
        }
    }
    record_changes(ctx, src, 1);
    if src != dst {
        ctx.modified(dst);
    }
    ctx.notify(events::LIST, end_to.push_event(), dst);
    ctx.notify(events::LIST, end_from.pop_event(), src);
    ctx.remove_if_emptied(src);
    ctx.key_ready(dst);
    Ok(Some(value))
}

fn lmove_generic(ctx: &mut Ctx<'_>, src: &[u8], dst: &[u8], end_from: End, end_to: End) -> Reply {
    match list_len(ctx, src) {
        Err(e) => return e,
        Ok(None) => return Reply::Nil,
        Ok(Some(_)) => {}
    }
    match move_element(ctx, src, dst, end_from, end_to) {
        Ok(Some(value)) => Reply::Bulk(value),
        Ok(None) => Reply::Nil,
        Err(e) => e,
    }
}

pub fn lmove(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let (end_from, end_to) = match (
        End::parse_or_syntax(&argv[3]),
        End::parse_or_syntax(&argv[4]),
    ) {
        (Ok(from), Ok(to)) => (from, to),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    lmove_generic(ctx, &argv[1], &argv[2], end_from, end_to)
}

pub fn rpoplpush(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    lmove_generic(ctx, &argv[1], &argv[2], End::Right, End::Left)
}
