//! SADD SREM SMOVE SISMEMBER SMISMEMBER SCARD SMEMBERS.

use crate::config::keyspace_events as events;
use bytes::Bytes;

use super::shared::{peek_set, touched};
use crate::cmd::{Ctx, errors};
use crate::resp::Reply;
use crate::store::ValueType;

pub fn sadd(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let key = &argv[1];
    let set = match ctx.write_set(key, true) {
        Ok(Some(set)) => set,
        Ok(None) => return Reply::Integer(0),
        Err(e) => return e,
    };
    let mut added = 0;
    for member in &argv[2..] {
        if !set.contains(member) {
            set.insert(Bytes::copy_from_slice(member));
            added += 1;
        }
    }
    touched(ctx, key, added);
    if added > 0 {
        ctx.notify(events::SET, "sadd", key);
    }
    Reply::integer(added)
}

pub fn srem(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let key = &argv[1];
    let set = match ctx.write_set(key, false) {
        Ok(Some(set)) => set,
        Ok(None) => return Reply::Integer(0),
        Err(e) => return e,
    };
    let mut removed = 0;
    for member in &argv[2..] {
        if set.remove(&member[..]) {
            removed += 1;
            if set.is_empty() {
                break;
            }
        }
    }
    touched(ctx, key, removed);
    if removed > 0 {
        ctx.notify(events::SET, "srem", key);
    }
    ctx.remove_if_emptied(key);
    Reply::integer(removed)
}

pub fn smove(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let (src, dst, member) = (&argv[1], &argv[2], &argv[3]);
    let src_type = ctx.type_of(src);
    let dst_type = ctx.type_of(dst);
    match (src_type, dst_type) {
        (None, _) => return Reply::Integer(0),
        (Some(ValueType::Set), None | Some(ValueType::Set)) => {}
        _ => return Reply::error(errors::WRONGTYPE),
    }
    if src == dst {
        let is_member = matches!(peek_set(ctx, src), Ok(Some(s)) if s.contains(&member[..]));
        return Reply::Integer(i64::from(is_member));
    }
    let removed = match ctx.write_set(src, false) {
        Ok(Some(set)) => set.remove(&member[..]),
        Ok(None) => false,
        Err(e) => return e,
    };
    if !removed {
        return Reply::Integer(0);
    }
    ctx.notify(events::SET, "srem", src);
    ctx.remove_if_emptied(src);
    ctx.modified(src);
    let added = match ctx.write_set(dst, true) {
        Ok(Some(set)) => set.insert(Bytes::copy_from_slice(member)),
        Ok(None) => false,
        Err(e) => return e,
    };
    if added {
        ctx.modified(dst);
        ctx.notify(events::SET, "sadd", dst);
    }
    Reply::Integer(1)
}

pub fn sismember(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    match ctx.read_set(&argv[1]) {
        Ok(set) => Reply::Integer(i64::from(set.is_some_and(|s| s.contains(&argv[2][..])))),
        Err(e) => e,
    }
}

pub fn smismember(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let set = match ctx.read_set(&argv[1]) {
        Ok(set) => set,
        Err(e) => return e,
    };
    Reply::Array(
        argv[2..]
            .iter()
            .map(|m| Reply::Integer(i64::from(set.as_ref().is_some_and(|s| s.contains(&m[..])))))
            .collect(),
    )
}

pub fn scard(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    match ctx.read_set(&argv[1]) {
        Ok(set) => Reply::integer(set.map_or(0, |s| s.len())),
        Err(e) => e,
    }
}

pub fn smembers(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    match ctx.read_set(&argv[1]) {
        Ok(Some(set)) => {
            let members = super::storage_order(ctx, set.iter().cloned().collect());
            Reply::Set(members.into_iter().map(Reply::Bulk).collect())
        }
        Ok(None) => Reply::Set(Vec::new()),
        Err(e) => e,
    }
}
