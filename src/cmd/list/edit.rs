//! LSET LREM LTRIM LINSERT: in-place changes that never add a key.

use crate::config::keyspace_events as events;
use bytes::Bytes;

use super::shared::{list_len, peek_list, record_changes, resolve_index, resolve_range};
use crate::cmd::{Ctx, errors};
use crate::resp::Reply;
use crate::store::value::List;
use crate::util::num::parse_i64;

pub fn lset(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let key = &argv[1];
    let len = match list_len(ctx, key) {
        Ok(Some(len)) => len,
        Ok(None) => return Reply::error(errors::NO_SUCH_KEY),
        Err(e) => return e,
    };
    let Some(index) = parse_i64(&argv[2]) else {
        return Reply::error(errors::NOT_INTEGER);
    };
    let Some(position) = resolve_index(index, len) else {
        return Reply::error(errors::INDEX_OUT_OF_RANGE);
    };
    if let Ok(Some(list)) = ctx.write_list(key, false)
        && let Some(slot) = list.get_mut(position)
    {
        *slot = Bytes::copy_from_slice(&argv[3]);
    }
    ctx.modified(key);
    ctx.notify(events::LIST, "lset", key);
    Reply::ok()
}

/// Removes up to `limit` elements equal to `element`, from the head or (when `from_tail`)
/// from the tail. Returns how many went.
fn remove_matching(list: &mut List, element: &[u8], limit: usize, from_tail: bool) -> usize {
    let mut removed = 0;
    if !from_tail {
        list.retain(|e| {
            if removed < limit && e.as_ref() == element {
                removed += 1;
                false
            } else {
                true
            }
        });
        return removed;
    }
    let mut keep = vec![true; list.len()];
    for (i, e) in list.iter().enumerate().rev() {
        if removed == limit {
            break;
        }
        if e.as_ref() == element {
            keep[i] = false;
            removed += 1;
        }
    }
    let mut position = 0;
    list.retain(|_| {
        let kept = keep.get(position).copied().unwrap_or(true);
        position += 1;
        kept
    });
    removed
}

pub fn lrem(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let key = &argv[1];
    let element = &argv[3];
    let Some(count) = parse_i64(&argv[2]) else {
        return Reply::error(errors::NOT_INTEGER);
    };
    match peek_list(ctx, key) {
        Err(e) => return e,
        Ok(None) => return Reply::Integer(0),
        // Nothing to remove: leave the list alone rather than copy a snapshot-shared one.
        Ok(Some(list)) if !list.iter().any(|e| e == element) => return Reply::Integer(0),
        Ok(Some(_)) => {}
    }
    let limit = if count == 0 {
        usize::MAX
    } else {
        usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX)
    };
    let removed = match ctx.write_list(key, false) {
        Ok(Some(list)) => remove_matching(list, element, limit, count < 0),
        _ => 0,
    };
    record_changes(ctx, key, removed);
    if removed > 0 {
        ctx.notify(events::LIST, "lrem", key);
    }
    ctx.remove_if_emptied(key);
    Reply::integer(removed)
}

pub fn ltrim(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let key = &argv[1];
    let (Some(start), Some(end)) = (parse_i64(&argv[2]), parse_i64(&argv[3])) else {
        return Reply::error(errors::NOT_INTEGER);
    };
    let len = match list_len(ctx, key) {
        Ok(Some(len)) => len,
        Ok(None) => return Reply::ok(),
        Err(e) => return e,
    };
    let (keep_from, keep_to) = match resolve_range(start, end, len) {
        Some((from, to)) => (from, to + 1),
        None => (0, 0),
    };
    let trimmed = len - (keep_to - keep_from);
    if trimmed == 0 {
        // Redis signals the key (WATCH) even when nothing was trimmed, but counts no change,
        // so nothing is propagated.
        let db = ctx.db_index();
        ctx.state.watches.touch(db, key);
        ctx.notify(events::LIST, "ltrim", key);
        return Reply::ok();
    }
    if let Ok(Some(list)) = ctx.write_list(key, false) {
        list.truncate(keep_to);
        list.drain(..keep_from);
    }
    record_changes(ctx, key, trimmed);
    ctx.notify(events::LIST, "ltrim", key);
    ctx.remove_if_emptied(key);
    Reply::ok()
}

pub fn linsert(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let key = &argv[1];
    let after = if argv[2].eq_ignore_ascii_case(b"after") {
        true
    } else if argv[2].eq_ignore_ascii_case(b"before") {
        false
    } else {
        return Reply::error(errors::SYNTAX);
    };
    let pivot = &argv[3];
    let position = match peek_list(ctx, key) {
        Err(e) => return e,
        Ok(None) => return Reply::Integer(0),
        Ok(Some(list)) => list.iter().position(|e| e == pivot),
    };
    let Some(position) = position else {
        return Reply::Integer(-1);
    };
    let len = match ctx.write_list(key, false) {
        Ok(Some(list)) => {
            let at = if after { position + 1 } else { position };
            list.insert(at, Bytes::copy_from_slice(&argv[4]));
            list.len()
        }
        _ => 0,
    };
    ctx.modified(key);
    ctx.notify(events::LIST, "linsert", key);
    Reply::integer(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> List {
        items
            .iter()
            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
            .collect()
    }

    #[test]
    fn removal_from_either_end() {
        let mut l = list(&["a", "b", "a", "c", "a"]);
        assert_eq!(remove_matching(&mut l, b"a", 2, false), 2);
        assert_eq!(l, list(&["b", "c", "a"]));
        let mut l = list(&["a", "b", "a", "c", "a"]);
        assert_eq!(remove_matching(&mut l, b"a", 2, true), 2);
        assert_eq!(l, list(&["a", "b", "c"]));
        let mut l = list(&["a", "b", "a"]);
        assert_eq!(remove_matching(&mut l, b"a", usize::MAX, false), 2);
        assert_eq!(l, list(&["b"]));
    }
}
