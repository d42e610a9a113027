//! HGETEX HSETEX HGETDEL (Redis 8.0): reads and writes of fields that also set, keep or
//! clear their expiry times, or delete them.

use bytes::Bytes;

use super::field_args::{
    FIELDS_MISSING, TimeUnit, arg_u64, expire_at_ms, fields_block, trailing_fields,
    unknown_argument,
};
use super::shared::{peek_hash, record_changes};
use crate::cmd::Ctx;
use crate::resp::Reply;

/// What HGETEX does to the times of the fields it reads.
#[derive(Debug, Clone, Copy)]
enum GetExTime {
    Leave,
    /// Expire at this Unix ms (deleting the field if that is not in the future).
    At(u64),
    Persist,
}

/// `HGETEX key [EX s | PX ms | EXAT s | PXAT ms | PERSIST] FIELDS numfields field ...`
pub fn hgetex(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let key = &argv[1];
    let mut time = None;
    let mut fields = None;
    let mut i = 2;
    while i < argv.len() {
        let option = &argv[i];
        if fields.is_none() && option.eq_ignore_ascii_case(b"FIELDS") {
            match fields_block(argv, i, 1) {
                Ok((block, next)) => {
                    fields = Some(block);
                    i = next;
                }
                Err(e) => return e,
            }
            continue;
        }
        let parsed = if option.eq_ignore_ascii_case(b"PERSIST") {
            i += 1;
            GetExTime::Persist
        } else if let Some(unit) = TimeUnit::from_option(option) {
            let Some(arg) = argv.get(i + 1) else {
                return Reply::error(crate::cmd::errors::SYNTAX);
            };
            i += 2;
            match expire_at_ms(arg, unit, ctx.now_ms, "hgetex") {
                Ok(at) => GetExTime::At(at),
                Err(e) => return e,
            }
        } else {
            return unknown_argument(option);
        };
        if time.is_some() {
            return Reply::error(
                "ERR Only one of EX, PX, EXAT, PXAT or PERSIST arguments can be specified",
            );
        }
        time = Some(parsed);
    }
    let Some(fields) = fields else {
        return Reply::error(FIELDS_MISSING);
    };
    let hash = match peek_hash(ctx, key) {
        Ok(Some(hash)) => hash,
        Ok(None) => return Reply::Array(vec![Reply::Nil; fields.len()]),
        Err(e) => return e,
    };
    ctx.state.stats.keyspace_hits += 1;
    let values: Vec<Reply> = fields
        .iter()
        .map(|f| hash.get_bytes(f).map_or(Reply::Nil, Reply::Bulk))
        .collect();
    let touched: Vec<Bytes> = match time.unwrap_or(GetExTime::Leave) {
        GetExTime::Leave => Vec::new(),
        GetExTime::Persist => fields
            .iter()
            .filter(|f| hash.field_expiry(f).is_some())
            .cloned()
            .collect(),
        GetExTime::At(_) => fields
            .iter()
            .filter(|f| hash.contains_key(f))
            .cloned()
            .collect(),
    };
    drop(hash);
    if touched.is_empty() {
        return Reply::Array(values);
    }
    let now_ms = ctx.now_ms;
    let mut changed = Vec::new();
    let mut deleted = false;
    if let Ok(Some(hash)) = ctx.write_hash(key, false) {
        for field in &touched {
            let done = match time {
                Some(GetExTime::Persist) => hash.persist_field(field),
                Some(GetExTime::At(at)) if at <= now_ms => {
                    deleted = true;
                    hash.remove(field)
                }
                Some(GetExTime::At(at)) => hash.set_field_expiry(field, at),
                _ => false,
            };
            if done {
                changed.push(field.clone());
            }
        }
    }
    if changed.is_empty() {
        return Reply::Array(values);
    }
    let effect_head: Vec<Bytes> = match time {
        Some(GetExTime::Persist) => vec![Bytes::from_static(b"HPERSIST"), key.clone()],
        Some(GetExTime::At(_)) if deleted => vec![Bytes::from_static(b"HDEL"), key.clone()],
        Some(GetExTime::At(at)) => {
            ctx.db().note_field_expiry(key);
            vec![Bytes::from_static(b"HPEXPIREAT"), key.clone(), arg_u64(at)]
        }
        _ => Vec::new(),
    };
    let mut effect = effect_head;
    if !deleted {
        effect.push(Bytes::from_static(b"FIELDS"));
        effect.push(arg_u64(changed.len() as u64));
    }
    record_changes(ctx, key, changed.len());
    effect.extend(changed);
    ctx.remove_if_empty(key);
    ctx.suppress_own = true;
    ctx.also_propagate(effect);
    Reply::Array(values)
}

/// HSETEX's condition on the fields that exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetCondition {
    Always,
    /// None of the fields may exist.
    Fnx,
    /// Every field must exist.
    Fxx,
}

/// What HSETEX does to the times of the fields it sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetExTime {
    /// Drop them, as HSET does.
    Clear,
    Keep,
    At(u64),
}

/// `HSETEX key [FNX | FXX] [EX s | PX ms | EXAT s | PXAT ms | KEEPTTL] FIELDS numfields
/// field value ...`: 1 if the fields were set, 0 if the condition stopped it.
pub fn hsetex(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let key = &argv[1];
    let mut condition = None;
    let mut time = None;
    let mut pairs = None;
    let mut i = 2;
    while i < argv.len() {
        let option = &argv[i];
        if pairs.is_none() && option.eq_ignore_ascii_case(b"FIELDS") {
            match fields_block(argv, i, 2) {
                Ok((block, next)) => {
                    pairs = Some(block);
                    i = next;
                }
                Err(e) => return e,
            }
            continue;
        }
        let upper = option.to_ascii_uppercase();
        if upper == b"FNX" || upper == b"FXX" {
            if condition.is_some() {
                return Reply::error("ERR Only one of FXX or FNX arguments can be specified");
            }
            condition = Some(if upper == b"FNX" {
                SetCondition::Fnx
            } else {
                SetCondition::Fxx
            });
            i += 1;
            continue;
        }
        let parsed = if upper == b"KEEPTTL" {
            i += 1;
            SetExTime::Keep
        } else if let Some(unit) = TimeUnit::from_option(option) {
            let Some(arg) = argv.get(i + 1) else {
                return Reply::error(crate::cmd::errors::SYNTAX);
            };
            i += 2;
            match expire_at_ms(arg, unit, ctx.now_ms, "hsetex") {
                Ok(at) => SetExTime::At(at),
                Err(e) => return e,
            }
        } else {
            return unknown_argument(option);
        };
        if time.is_some() {
            return Reply::error(
                "ERR Only one of EX, PX, EXAT, PXAT or KEEPTTL arguments can be specified",
            );
        }
        time = Some(parsed);
    }
    let Some(pairs) = pairs else {
        return Reply::error(FIELDS_MISSING);
    };
    let condition = condition.unwrap_or(SetCondition::Always);
    let time = time.unwrap_or(SetExTime::Clear);
    let hash = match peek_hash(ctx, key) {
        Ok(hash) => hash,
        Err(e) => return e,
    };
    let exists = |field: &Bytes| hash.as_ref().is_some_and(|h| h.contains_key(field));
    let allowed = match condition {
        SetCondition::Always => true,
        SetCondition::Fnx => !pairs.chunks(2).any(|p| exists(&p[0])),
        SetCondition::Fxx => pairs.chunks(2).all(|p| exists(&p[0])),
    };
    drop(hash);
    if !allowed {
        return Reply::Integer(0);
    }
    let now_ms = ctx.now_ms;
    let past = matches!(time, SetExTime::At(at) if at <= now_ms);
    if let Ok(Some(hash)) = ctx.write_hash(key, true) {
        for pair in pairs.chunks(2) {
            let (field, value) = (&pair[0], &pair[1]);
            match time {
                SetExTime::Clear => {
                    hash.insert(field, value);
                }
                SetExTime::Keep => {
                    hash.insert_keep_expiry(field, value);
                }
                SetExTime::At(at) => {
                    hash.insert(field, value);
                    if past {
                        hash.remove(field);
                    } else {
                        hash.set_field_expiry(field, at);
                    }
                }
            }
        }
    }
    if matches!(time, SetExTime::At(_)) && !past {
        ctx.db().note_field_expiry(key);
    }
    record_changes(ctx, key, pairs.len() / 2);
    ctx.remove_if_empty(key);
    match time {
        // Set and at once gone: the replica only needs the deletion.
        SetExTime::At(_) if past => {
            ctx.suppress_own = true;
            let mut effect = vec![Bytes::from_static(b"HDEL"), key.clone()];
            effect.extend(pairs.chunks(2).map(|p| p[0].clone()));
            ctx.also_propagate(effect);
        }
        // A relative time becomes the absolute one this command used.
        SetExTime::At(at) => {
            let mut effect = vec![Bytes::from_static(b"HSETEX"), key.clone()];
            match condition {
                SetCondition::Always => {}
                SetCondition::Fnx => effect.push(Bytes::from_static(b"FNX")),
                SetCondition::Fxx => effect.push(Bytes::from_static(b"FXX")),
            }
            effect.extend([
                Bytes::from_static(b"PXAT"),
                arg_u64(at),
                Bytes::from_static(b"FIELDS"),
                arg_u64((pairs.len() / 2) as u64),
            ]);
            effect.extend(pairs.iter().cloned());
            ctx.rewrite(effect);
        }
        SetExTime::Clear | SetExTime::Keep => {}
    }
    Reply::Integer(1)
}

/// `HGETDEL key FIELDS numfields field ...`: the values, and the fields are deleted.
pub fn hgetdel(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let key = &argv[1];
    let fields = match trailing_fields(argv, 2) {
        Ok(fields) => fields,
        Err(e) => return e,
    };
    let hash = match peek_hash(ctx, key) {
        Ok(Some(hash)) => hash,
        Ok(None) => return Reply::Array(vec![Reply::Nil; fields.len()]),
        Err(e) => return e,
    };
    ctx.state.stats.keyspace_hits += 1;
    if !fields.iter().any(|f| hash.contains_key(f)) {
        return Reply::Array(vec![Reply::Nil; fields.len()]);
    }
    drop(hash);
    let mut values = Vec::with_capacity(fields.len());
    let mut deleted = 0;
    if let Ok(Some(hash)) = ctx.write_hash(key, false) {
        for field in fields {
            match hash.get_bytes(field) {
                Some(value) => {
                    hash.remove(field);
                    deleted += 1;
                    values.push(Reply::Bulk(value));
                }
                None => values.push(Reply::Nil),
            }
        }
    }
    record_changes(ctx, key, deleted);
    ctx.remove_if_empty(key);
    let mut effect = vec![Bytes::from_static(b"HDEL"), key.clone()];
    effect.extend(fields.iter().cloned());
    ctx.rewrite(effect);
    Reply::Array(values)
}
