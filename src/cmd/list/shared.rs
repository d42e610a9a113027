//! Pieces the list commands share: the list ends, write-side lookups, and the pop and push
//! steps (with the bookkeeping every change needs: dirty counter, WATCH, blocked clients,
//! deletion of emptied keys).

use crate::config::keyspace_events as events;
use std::sync::Arc;

use bytes::Bytes;

use crate::cmd::{Ctx, errors};
use crate::resp::Reply;
use crate::store::Value;
use crate::store::value::List;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Left,
    Right,
}

impl End {
    /// `LEFT` / `RIGHT`, any case (LMOVE, LMPOP).
    pub fn parse(arg: &[u8]) -> Option<End> {
        if arg.eq_ignore_ascii_case(b"left") {
            Some(End::Left)
        } else if arg.eq_ignore_ascii_case(b"right") {
            Some(End::Right)
        } else {
            None
        }
    }

    pub fn parse_or_syntax(arg: &[u8]) -> Result<End, Reply> {
        End::parse(arg).ok_or_else(|| Reply::error(errors::SYNTAX))
    }

    /// The non-blocking pop that replicas receive for a pop at this end.
    pub fn pop_command(self) -> Bytes {
        Bytes::from_static(match self {
            End::Left => b"LPOP",
            End::Right => b"RPOP",
        })
    }

    /// The keyspace events of a pop and a push at this end.
    pub fn pop_event(self) -> &'static str {
        match self {
            End::Left => "lpop",
            End::Right => "rpop",
        }
    }

    pub fn push_event(self) -> &'static str {
        match self {
            End::Left => "lpush",
            End::Right => "rpush",
        }
    }

    /// The spelling Redis uses when it builds an LMOVE for replicas itself.
    pub fn lower_name(self) -> Bytes {
        Bytes::from_static(match self {
            End::Left => b"left",
            End::Right => b"right",
        })
    }
}

/// The list at `key` for a write command: expires it if due, no keyspace hit/miss
/// accounting (Redis's `lookupKeyWrite`). The returned `Arc` must be dropped before the
/// list is changed, or the change copies it.
pub fn peek_list(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<Arc<List>>, Reply> {
    match ctx.lookup(key).map(|e| &e.value) {
        None => Ok(None),
        Some(Value::List(l)) => Ok(Some(l.clone())),
        Some(_) => Err(Reply::error(errors::WRONGTYPE)),
    }
}

/// Length of the list at `key` (None when absent), for write commands.
pub fn list_len(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<usize>, Reply> {
    match ctx.lookup(key).map(|e| &e.value) {
        None => Ok(None),
        Some(Value::List(l)) => Ok(Some(l.len())),
        Some(_) => Err(Reply::error(errors::WRONGTYPE)),
    }
}

/// Records `n` changed elements of `key`: Redis adds them all to its dirty counter, and
/// WATCH hears about the key once.
pub fn record_changes(ctx: &mut Ctx<'_>, key: &[u8], n: usize) {
    if n > 0 {
        ctx.modified(key);
        ctx.add_changes(n as u64 - 1);
    }
}

/// Pops up to `count` elements from `end` of the list at `key` (which must be a list),
/// deleting the key when it empties. Returns them in pop order.
pub fn pop_elements(ctx: &mut Ctx<'_>, key: &[u8], end: End, count: usize) -> Vec<Bytes> {
    let popped: Vec<Bytes> = match ctx.write_list(key, false) {
        Ok(Some(list)) => {
            let n = count.min(list.len());
            match end {
                End::Left => list.drain(..n).collect(),
                End::Right => (0..n).filter_map(|_| list.pop_back()).collect(),
            }
        }
        _ => Vec::new(),
    };
    record_changes(ctx, key, popped.len());
    if !popped.is_empty() {
        ctx.notify(events::LIST, end.pop_event(), key);
    }
    ctx.remove_if_emptied(key);
    popped
}

/// Pushes `elements` one by one at `end` of the list at `key`, creating it. Returns the
/// new length, or WRONGTYPE.
pub fn push_elements(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    end: End,
    elements: &[Bytes],
) -> Result<usize, Reply> {
    let len = {
        let Some(list) = ctx.write_list(key, true)? else {
            return Ok(0);
        };
        for element in elements {
            let owned = Bytes::copy_from_slice(element);
            match end {
                End::Left => list.push_front(owned),
                End::Right => list.push_back(owned),
            }
        }
        list.len()
    };
    record_changes(ctx, key, elements.len());
    ctx.key_ready(key);
    ctx.notify(events::LIST, end.push_event(), key);
    Ok(len)
}

/// Redis's rule for turning a possibly negative index into a position: `None` when it
/// falls outside the list.
pub fn resolve_index(index: i64, len: usize) -> Option<usize> {
    let len = i64::try_from(len).ok()?;
    let position = if index < 0 { len + index } else { index };
    (0..len)
        .contains(&position)
        .then(|| usize::try_from(position).ok())
        .flatten()
}

/// The inclusive range `start..=end` of LRANGE/LTRIM after Redis's clamping, or `None`
/// when it selects nothing.
pub fn resolve_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = i64::try_from(len).ok()?;
    let mut start = if start < 0 { len + start } else { start };
    let mut end = if end < 0 { len + end } else { end };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= len {
        return None;
    }
    if end >= len {
        end = len - 1;
    }
    Some((usize::try_from(start).ok()?, usize::try_from(end).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_from_either_end() {
        assert_eq!(resolve_index(0, 3), Some(0));
        assert_eq!(resolve_index(-1, 3), Some(2));
        assert_eq!(resolve_index(-3, 3), Some(0));
        assert_eq!(resolve_index(-4, 3), None);
        assert_eq!(resolve_index(3, 3), None);
        assert_eq!(resolve_index(i64::MIN, 3), None);
        assert_eq!(resolve_index(0, 0), None);
    }

    #[test]
    fn ranges_clamp_like_redis() {
        assert_eq!(resolve_range(0, -1, 5), Some((0, 4)));
        assert_eq!(resolve_range(-100, 100, 5), Some((0, 4)));
        assert_eq!(resolve_range(5, 1, 5), None);
        assert_eq!(resolve_range(10, 20, 5), None);
        assert_eq!(resolve_range(-2, -1, 5), Some((3, 4)));
        assert_eq!(resolve_range(i64::MIN, i64::MAX, 5), Some((0, 4)));
        assert_eq!(resolve_range(0, -1, 0), None);
        assert_eq!(resolve_range(0, -6, 5), None);
    }

    #[test]
    fn ends_parse_in_any_case() {
        assert_eq!(End::parse(b"LeFt"), Some(End::Left));
        assert_eq!(End::parse(b"RIGHT"), Some(End::Right));
        assert_eq!(End::parse(b"up"), None);
    }
}
