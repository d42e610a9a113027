//! SINTER SINTERCARD SINTERSTORE SUNION SUNIONSTORE SDIFF SDIFFSTORE.

use crate::config::keyspace_events as events;
use std::sync::Arc;

use bytes::Bytes;

use super::shared::{parse_long_in, parse_non_negative};
use crate::cmd::{Ctx, errors};
use crate::resp::Reply;
use crate::store::Value;
use crate::store::value::Set;

/// The sets at `keys` in order (absent keys as None); WRONGTYPE for the first non-set.
fn load(ctx: &mut Ctx<'_>, keys: &[Bytes]) -> Result<Vec<Option<Arc<Set>>>, Reply> {
    keys.iter().map(|k| ctx.read_set(k)).collect()
}

/// Members common to all sets, stopping after `limit` (0 = no limit).
fn intersection(sets: &[Option<Arc<Set>>], limit: usize) -> Vec<Bytes> {
    let mut present: Vec<&Arc<Set>> = Vec::with_capacity(sets.len());
    for set in sets {
        match set {
            Some(s) => present.push(s),
            None => return Vec::new(),
        }
    }
    present.sort_by_key(|s| s.len());
    let Some((smallest, others)) = present.split_first() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for member in smallest.iter() {
        if others
            .iter()
            .all(|s| Arc::ptr_eq(s, smallest) || s.contains(member))
        {
            out.push(member.clone());
            if limit != 0 && out.len() >= limit {
                break;
            }
        }
    }
    out
}

fn union(sets: &[Option<Arc<Set>>]) -> Set {
    let mut out = Set::default();
    for set in sets.iter().flatten() {
        out.extend(set.iter().cloned());
    }
    out
}

fn difference(sets: &[Option<Arc<Set>>]) -> Set {
    let Some(Some(first)) = sets.first() else {
        return Set::default();
    };
    let others: Vec<&Arc<Set>> = sets[1..].iter().flatten().collect();
    first
        .iter()
        .filter(|m| others.iter().all(|s| !s.contains(*m)))
        .cloned()
        .collect()
}

fn set_reply(ctx: &Ctx<'_>, members: Vec<Bytes>) -> Reply {
    let members = super::storage_order(ctx, members);
    Reply::Set(members.into_iter().map(Reply::Bulk).collect())
}

/// Stores a result set at `dst`, or deletes `dst` when the result is empty.
/// `event` is the command's own (`sinterstore`, `sunionstore`, `sdiffstore`).
fn store(ctx: &mut Ctx<'_>, dst: &Bytes, result: Set, event: &str) -> Reply {
    let len = result.len();
    if len == 0 {
        ctx.delete(dst);
        return Reply::Integer(0);
    }
    ctx.set_value(dst, Value::Set(Arc::new(result)));
    ctx.notify(events::SET, event, dst);
    Reply::integer(len)
}

pub fn sinter(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    match load(ctx, &argv[1..]) {
        Ok(sets) => {
            let members = intersection(&sets, 0);
            set_reply(ctx, members)
        }
        Err(e) => e,
    }
}

pub fn sinterstore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    match load(ctx, &argv[2..]) {
        Ok(sets) => {
            let result: Set = intersection(&sets, 0).into_iter().collect();
            store(ctx, &argv[1], result, "sinterstore")
        }
        Err(e) => e,
    }
}

pub fn sintercard(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let numkeys = match parse_long_in(
        &argv[1],
        1,
        i64::MAX,
        Some("ERR numkeys should be greater than 0"),
    ) {
        Ok(n) => n,
        Err(e) => return e,
    };
    let numkeys = usize::try_from(numkeys).unwrap_or(usize::MAX);
    if numkeys > argv.len() - 2 {
        return Reply::error("ERR Number of keys can't be greater than number of args");
    }
    let mut limit = 0;
    let mut i = 2 + numkeys;
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        if argv[i].eq_ignore_ascii_case(b"limit") && more > 0 {
            i += 1;
            match parse_non_negative(&argv[i], Some("ERR LIMIT can't be negative")) {
                Ok(l) => limit = usize::try_from(l).unwrap_or(usize::MAX),
                Err(e) => return e,
            }
        } else {
            return Reply::error(errors::SYNTAX);
        }
        i += 1;
    }
    match load(ctx, &argv[2..2 + numkeys]) {
        Ok(sets) => Reply::integer(intersection(&sets, limit).len()),
        Err(e) => e,
    }
}

pub fn sunion(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    match load(ctx, &argv[1..]) {
        Ok(sets) => {
            let members = union(&sets).into_iter().collect();
            set_reply(ctx, members)
        }
        Err(e) => e,
    }
}

pub fn sunionstore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    match load(ctx, &argv[2..]) {
        Ok(sets) => {
            let result = union(&sets);
            store(ctx, &argv[1], result, "sunionstore")
        }
        Err(e) => e,
    }
}

pub fn sdiff(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    match load(ctx, &argv[1..]) {
        Ok(sets) => {
            let members = difference(&sets).into_iter().collect();
            set_reply(ctx, members)
        }
        Err(e) => e,
    }
}

pub fn sdiffstore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    match load(ctx, &argv[2..]) {
        Ok(sets) => {
            let result = difference(&sets);
            store(ctx, &argv[1], result, "sdiffstore")
        }
        Err(e) => e,
    }
}
