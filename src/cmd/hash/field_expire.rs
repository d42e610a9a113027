//! HEXPIRE HPEXPIRE HEXPIREAT HPEXPIREAT, HTTL HPTTL HEXPIRETIME HPEXPIRETIME, HPERSIST:
//! expiry times of single hash fields (Redis 7.4).
//!
//! Replicas receive effects, as from Redis 8: the fields that got a time as
//! `HPEXPIREAT key <abs ms> [cond] FIELDS n ...`, fields deleted because the time was already
//! past as `HDEL`, and HPERSIST as itself.

use bytes::Bytes;

use super::field_args::{
    TimeUnit, arg_u64, expire_at_ms, fields_block, trailing_fields, unknown_argument,
};
use super::shared::{peek_hash, record_changes};
use crate::cmd::Ctx;
use crate::resp::Reply;

/// Per-field results, as Redis numbers them.
const NO_FIELD: i64 = -2;
const NO_TIME: i64 = -1;
const CONDITION_NOT_MET: i64 = 0;
const TIME_SET: i64 = 1;
const FIELD_DELETED: i64 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Condition {
    Always,
    /// Only fields without a time.
    Nx,
    /// Only fields with a time.
    Xx,
    /// Only a later time; a field without one counts as never expiring.
    Gt,
    /// Only an earlier time; a field without one counts as never expiring.
    Lt,
}

impl Condition {
    fn parse(arg: &[u8]) -> Option<Condition> {
        Some(match arg.to_ascii_uppercase().as_slice() {
            b"NX" => Condition::Nx,
            b"XX" => Condition::Xx,
            b"GT" => Condition::Gt,
            b"LT" => Condition::Lt,
            _ => return None,
        })
    }

    fn allows(self, current: Option<u64>, new: u64) -> bool {
        match self {
            Condition::Always => true,
            Condition::Nx => current.is_none(),
            Condition::Xx => current.is_some(),
            Condition::Gt => current.is_some_and(|c| new > c),
            Condition::Lt => current.is_none_or(|c| new < c),
        }
    }

    fn name(self) -> Option<&'static [u8]> {
        match self {
            Condition::Always => None,
            Condition::Nx => Some(b"NX"),
            Condition::Xx => Some(b"XX"),
            Condition::Gt => Some(b"GT"),
            Condition::Lt => Some(b"LT"),
        }
    }
}

pub fn hexpire(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    expire_generic(ctx, argv, TimeUnit::EX, "hexpire")
}

pub fn hpexpire(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    expire_generic(ctx, argv, TimeUnit::PX, "hpexpire")
}

pub fn hexpireat(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    expire_generic(ctx, argv, TimeUnit::EXAT, "hexpireat")
}

pub fn hpexpireat(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    expire_generic(ctx, argv, TimeUnit::PXAT, "hpexpireat")
}

/// `H[P]EXPIRE[AT] key time [NX|XX|GT|LT] FIELDS numfields field ...` (the condition may also
/// follow the fields, as Redis 8 accepts).
fn expire_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], unit: TimeUnit, name: &str) -> Reply {
    let key = &argv[1];
    let at_ms = match expire_at_ms(&argv[2], unit, ctx.now_ms, name) {
        Ok(at) => at,
        Err(e) => return e,
    };
    let mut condition = None;
    let mut fields = None;
    let mut i = 3;
    while i < argv.len() {
        if fields.is_none() && argv[i].eq_ignore_ascii_case(b"FIELDS") {
            match fields_block(argv, i, 1) {
                Ok((block, next)) => {
                    fields = Some(block);
                    i = next;
                }
                Err(e) => return e,
            }
        } else if let Some(c) = Condition::parse(&argv[i]) {
            if condition.is_some() {
                return Reply::error("ERR Multiple condition flags specified");
            }
            condition = Some(c);
            i += 1;
        } else {
            return unknown_argument(&argv[i]);
        }
    }
    let Some(fields) = fields else {
        return Reply::error(super::field_args::FIELDS_MISSING);
    };
    let condition = condition.unwrap_or(Condition::Always);
    match peek_hash(ctx, key) {
        Err(e) => return e,
        Ok(None) => return Reply::Array(vec![Reply::Integer(NO_FIELD); fields.len()]),
        // No field to change: answer without copying a hash a snapshot shares.
        Ok(Some(hash)) if !fields.iter().any(|f| hash.contains_key(f)) => {
            return Reply::Array(vec![Reply::Integer(NO_FIELD); fields.len()]);
        }
        Ok(Some(_)) => {}
    }
    let now_ms = ctx.now_ms;
    let mut results = Vec::with_capacity(fields.len());
    let mut timed = Vec::new();
    let mut deleted = Vec::new();
    if let Ok(Some(hash)) = ctx.write_hash(key, false) {
        for field in fields {
            if !hash.contains_key(field) {
                results.push(Reply::Integer(NO_FIELD));
            } else if !condition.allows(hash.field_expiry(field), at_ms) {
                results.push(Reply::Integer(CONDITION_NOT_MET));
            } else if at_ms <= now_ms {
                hash.remove(field);
                deleted.push(field.clone());
                results.push(Reply::Integer(FIELD_DELETED));
            } else {
                hash.set_field_expiry(field, at_ms);
                timed.push(field.clone());
                results.push(Reply::Integer(TIME_SET));
            }
        }
    }
    if !timed.is_empty() {
        ctx.db().note_field_expiry(key);
    }
    record_changes(ctx, key, timed.len() + deleted.len());
    ctx.remove_if_empty(key);
    ctx.suppress_own = true;
    if !timed.is_empty() {
        let mut effect = vec![
            Bytes::from_static(b"HPEXPIREAT"),
            key.clone(),
            arg_u64(at_ms),
        ];
        effect.extend(condition.name().map(Bytes::from_static));
        effect.push(Bytes::from_static(b"FIELDS"));
        effect.push(arg_u64(timed.len() as u64));
        effect.extend(timed);
        ctx.also_propagate(effect);
    }
    if !deleted.is_empty() {
        let mut effect = vec![Bytes::from_static(b"HDEL"), key.clone()];
        effect.extend(deleted);
        ctx.also_propagate(effect);
    }
    Reply::Array(results)
}

/// What HTTL and its siblings report for a field's time.
#[derive(Debug, Clone, Copy)]
enum TimeReport {
    /// Seconds left (HTTL).
    SecondsLeft,
    /// Milliseconds left (HPTTL).
    MillisLeft,
    /// Unix seconds (HEXPIRETIME).
    UnixSeconds,
    /// Unix milliseconds (HPEXPIRETIME).
    UnixMillis,
}

pub fn httl(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    time_generic(ctx, argv, TimeReport::SecondsLeft)
}

pub fn hpttl(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    time_generic(ctx, argv, TimeReport::MillisLeft)
}

pub fn hexpiretime(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    time_generic(ctx, argv, TimeReport::UnixSeconds)
}

pub fn hpexpiretime(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    time_generic(ctx, argv, TimeReport::UnixMillis)
}

fn time_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], report: TimeReport) -> Reply {
    let fields = match trailing_fields(argv, 2) {
        Ok(fields) => fields,
        Err(e) => return e,
    };
    let hash = match ctx.read_hash(&argv[1]) {
        Ok(hash) => hash,
        Err(e) => return e,
    };
    let now_ms = ctx.now_ms;
    let results = fields
        .iter()
        .map(|field| {
            let Some(hash) = hash.as_ref().filter(|h| h.contains_key(field)) else {
                return Reply::Integer(NO_FIELD);
            };
            let Some(at_ms) = hash.field_expiry(field) else {
                return Reply::Integer(NO_TIME);
            };
            let left_ms = at_ms.saturating_sub(now_ms);
            Reply::integer(match report {
                TimeReport::SecondsLeft => left_ms.div_ceil(1000),
                TimeReport::MillisLeft => left_ms,
                TimeReport::UnixSeconds => at_ms / 1000,
                TimeReport::UnixMillis => at_ms,
            })
        })
        .collect();
    Reply::Array(results)
}

/// `HPERSIST key FIELDS numfields field ...`: propagated as received when a time went.
pub fn hpersist(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let key = &argv[1];
    let fields = match trailing_fields(argv, 2) {
        Ok(fields) => fields,
        Err(e) => return e,
    };
    let hash = match peek_hash(ctx, key) {
        Ok(Some(hash)) => hash,
        Ok(None) => return Reply::Array(vec![Reply::Integer(NO_FIELD); fields.len()]),
        Err(e) => return e,
    };
    if !fields.iter().any(|f| hash.field_expiry(f).is_some()) {
        let results = fields
            .iter()
            .map(|f| {
                Reply::Integer(if hash.contains_key(f) {
                    NO_TIME
                } else {
                    NO_FIELD
                })
            })
            .collect();
        return Reply::Array(results);
    }
    drop(hash);
    let mut results = Vec::with_capacity(fields.len());
    let mut persisted = 0;
    if let Ok(Some(hash)) = ctx.write_hash(key, false) {
        for field in fields {
            results.push(Reply::Integer(if !hash.contains_key(field) {
                NO_FIELD
            } else if hash.persist_field(field) {
                persisted += 1;
                TIME_SET
            } else {
                NO_TIME
            }));
        }
    }
    record_changes(ctx, key, persisted);
    Reply::Array(results)
}
