//! ZPOPMIN ZPOPMAX ZMPOP and the blocking BZPOPMIN BZPOPMAX BZMPOP.
//!
//! Effects are propagated as ZPOPMIN/ZPOPMAX (with the count actually popped where a
//! count applies), as Redis 7.0 does, so that replicas never block or choose keys.

use crate::config::keyspace_events as events;
use bytes::Bytes;

use crate::cmd::ctx::parse_timeout_seconds;
use crate::cmd::set::shared::{parse_long_in, parse_non_negative, peek_zset, touched};
use crate::cmd::{Ctx, errors};
use crate::resp::Reply;
use crate::server::blocking::Resume;

#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    Min,
    Max,
}

impl End {
    fn command(self) -> &'static [u8] {
        match self {
            End::Min => b"ZPOPMIN",
            End::Max => b"ZPOPMAX",
        }
    }
}

/// Reply layout of the pop family.
#[derive(Clone, Copy)]
struct Shape {
    /// Put the key name first (blocking pops and ZMPOP).
    with_key: bool,
    /// `[member, score]` pairs instead of a flat list.
    nested: bool,
    /// Null array instead of an empty one when nothing can be popped.
    nil_when_empty: bool,
}

/// What a pop did, for propagation.
struct Popped {
    key: Bytes,
    count: usize,
}

/// Pops up to `count` members (None: a single pop without COUNT) from the first non-empty
/// key. Errors with WRONGTYPE on the first key of another type.
fn pop_generic(
    ctx: &mut Ctx<'_>,
    keys: &[Bytes],
    end: End,
    count: Option<usize>,
    shape: Shape,
) -> (Reply, Option<Popped>) {
    let mut found = None;
    for key in keys {
        match peek_zset(ctx, key) {
            Ok(Some(z)) => {
                found = Some((key, z.len()));
                break;
            }
            Ok(None) => {}
            Err(e) => return (e, None),
        }
    }
    let Some((key, len)) = found else {
        let reply = if shape.nil_when_empty {
            Reply::NilArray
        } else {
            Reply::Array(Vec::new())
        };
        return (reply, None);
    };
    if count == Some(0) {
        return (Reply::Array(Vec::new()), None);
    }
    let wanted = count.unwrap_or(1).min(len);
    let mut items: Vec<(Bytes, f64)> = Vec::with_capacity(wanted);
    if let Ok(Some(zset)) = ctx.write_zset(key, false) {
        for _ in 0..wanted {
            let rank = match end {
                End::Min => 0,
                End::Max => zset.len().saturating_sub(1),
            };
            let Some((member, score)) = zset.by_rank(rank).map(|(m, s)| (m.clone(), s)) else {
                break;
            };
            zset.remove(&member);
            items.push((member, score));
        }
    }
    touched(ctx, key, items.len());
    if !items.is_empty() {
        let event = match end {
            End::Min => "zpopmin",
            End::Max => "zpopmax",
        };
        ctx.notify(events::ZSET, event, key);
    }
    ctx.remove_if_emptied(key);
    let popped = Popped {
        key: key.clone(),
        count: items.len(),
    };
    let mut body = Vec::with_capacity(items.len() * 2);
    for (member, score) in items {
        if shape.nested {
            body.push(Reply::Array(vec![
                Reply::Bulk(member),
                Reply::Double(score),
            ]));
        } else {
            body.push(Reply::Bulk(member));
            body.push(Reply::Double(score));
        }
    }
    let reply = match (shape.with_key, shape.nested) {
        (false, _) => Reply::Array(body),
        (true, false) => {
            body.insert(0, Reply::Bulk(key.clone()));
            Reply::Array(body)
        }
        (true, true) => Reply::Array(vec![Reply::Bulk(key.clone()), Reply::Array(body)]),
    };
    (reply, Some(popped))
}

fn zpop(ctx: &mut Ctx<'_>, argv: &[Bytes], end: End) -> Reply {
    if argv.len() > 3 {
        return Reply::error(errors::SYNTAX);
    }
    let count = match argv.get(2) {
        Some(arg) => match parse_non_negative(arg, None) {
            Ok(c) => Some(usize::try_from(c).unwrap_or(usize::MAX)),
            Err(e) => return e,
        },
        None => None,
    };
    let shape = Shape {
        with_key: false,
        nested: super::is_resp3(ctx) && count.is_some(),
        nil_when_empty: false,
    };
    pop_generic(ctx, &argv[1..2], end, count, shape).0
}

pub fn zpopmin(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    zpop(ctx, argv, End::Min)
}

pub fn zpopmax(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    zpop(ctx, argv, End::Max)
}

/// Parsed `numkeys key [key ...] MIN|MAX [COUNT count]` of ZMPOP and BZMPOP.
struct MultiPop<'a> {
    keys: &'a [Bytes],
    end: End,
    count: usize,
}

fn parse_multi_pop(argv: &[Bytes], numkeys_idx: usize) -> Result<MultiPop<'_>, Reply> {
    let numkeys = parse_long_in(
        &argv[numkeys_idx],
        1,
        i64::MAX,
        Some("ERR numkeys should be greater than 0"),
    )?;
    let numkeys = usize::try_from(numkeys).unwrap_or(usize::MAX);
    let where_idx = match (numkeys_idx + 1).checked_add(numkeys) {
        Some(i) if i < argv.len() => i,
        _ => return Err(Reply::error(errors::SYNTAX)),
    };
    let end = match argv[where_idx].to_ascii_lowercase().as_slice() {
        b"min" => End::Min,
        b"max" => End::Max,
        _ => return Err(Reply::error(errors::SYNTAX)),
    };
    let mut count = None;
    let mut j = where_idx + 1;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        if count.is_none() && argv[j].eq_ignore_ascii_case(b"count") && more > 0 {
            j += 1;
            let c = parse_long_in(
                &argv[j],
                1,
                i64::MAX,
                Some("ERR count should be greater than 0"),
            )?;
            count = Some(usize::try_from(c).unwrap_or(usize::MAX));
        } else {
            return Err(Reply::error(errors::SYNTAX));
        }
        j += 1;
    }
    Ok(MultiPop {
        keys: &argv[numkeys_idx + 1..where_idx],
        end,
        count: count.unwrap_or(1),
    })
}

const MULTI_SHAPE: Shape = Shape {
    with_key: true,
    nested: true,
    nil_when_empty: true,
};

const BLOCKING_SHAPE: Shape = Shape {
    with_key: true,
    nested: false,
    nil_when_empty: false,
};

/// Propagates a pop as `ZPOPMIN key [count]`, instead of the command itself.
fn propagate_pop(ctx: &mut Ctx<'_>, end: End, popped: &Popped, with_count: bool) {
    let mut argv = vec![Bytes::from_static(end.command()), popped.key.clone()];
    if with_count {
        argv.push(Bytes::from(popped.count.to_string()));
    }
    ctx.suppress_own = true;
    ctx.also_propagate(argv);
}

pub fn zmpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let spec = match parse_multi_pop(argv, 1) {
        Ok(s) => s,
        Err(e) => return e,
    };
    let (reply, popped) = pop_generic(ctx, spec.keys, spec.end, Some(spec.count), MULTI_SHAPE);
    if let Some(popped) = popped {
        propagate_pop(ctx, spec.end, &popped, true);
    }
    reply
}

/// One attempt of BZPOPMIN/BZPOPMAX on argv `[cmd, key..., timeout]`. Keys holding other
/// types are errors on the first attempt and skipped when serving a blocked client.
fn try_bzpop(ctx: &mut Ctx<'_>, argv: &[Bytes], end: End, strict: bool) -> Option<Reply> {
    let keys = &argv[1..argv.len() - 1];
    for key in keys {
        match peek_zset(ctx, key) {
            Ok(Some(z)) if !z.is_empty() => {
                let (reply, popped) =
                    pop_generic(ctx, std::slice::from_ref(key), end, None, BLOCKING_SHAPE);
                if let Some(popped) = popped {
                    propagate_pop(ctx, end, &popped, false);
                }
                return Some(reply);
            }
            Ok(_) => {}
            Err(e) if strict => return Some(e),
            Err(_) => {}
        }
    }
    None
}

pub(crate) fn serve_bzpopmin(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Option<Reply> {
    try_bzpop(ctx, argv, End::Min, false)
}

pub(crate) fn serve_bzpopmax(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Option<Reply> {
    try_bzpop(ctx, argv, End::Max, false)
}

fn bzpop(ctx: &mut Ctx<'_>, argv: &[Bytes], end: End) -> Reply {
    let deadline = match parse_timeout_seconds(&argv[argv.len() - 1], ctx.now_ms) {
        Ok(d) => d,
        Err(e) => return e,
    };
    if let Some(reply) = try_bzpop(ctx, argv, end, true) {
        return reply;
    }
    let resume = match end {
        End::Min => Resume::Bzpopmin,
        End::Max => Resume::Bzpopmax,
    };
    let keys = argv[1..argv.len() - 1].to_vec();
    ctx.block(keys, deadline, argv, resume, Reply::NilArray)
}

pub fn bzpopmin(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    bzpop(ctx, argv, End::Min)
}

pub fn bzpopmax(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    bzpop(ctx, argv, End::Max)
}

/// One attempt of BZMPOP on its full argv.
fn try_bzmpop(ctx: &mut Ctx<'_>, argv: &[Bytes], strict: bool) -> Option<Reply> {
    let spec = match parse_multi_pop(argv, 2) {
        Ok(s) => s,
        Err(e) => return strict.then_some(e),
    };
    for key in spec.keys {
        match peek_zset(ctx, key) {
            Ok(Some(z)) if !z.is_empty() => {
                let (reply, popped) = pop_generic(
                    ctx,
                    std::slice::from_ref(key),
                    spec.end,
                    Some(spec.count),
                    MULTI_SHAPE,
                );
                if let Some(popped) = popped {
                    propagate_pop(ctx, spec.end, &popped, true);
                }
                return Some(reply);
            }
            Ok(_) => {}
            Err(e) if strict => return Some(e),
            Err(_) => {}
        }
    }
    None
}

pub(crate) fn serve_bzmpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Option<Reply> {
    try_bzmpop(ctx, argv, false)
}

pub fn bzmpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let keys = match parse_multi_pop(argv, 2) {
        Ok(spec) => spec.keys.to_vec(),
        Err(e) => return e,
    };
    let deadline = match parse_timeout_seconds(&argv[1], ctx.now_ms) {
        Ok(d) => d,
        Err(e) => return e,
    };
    if let Some(reply) = try_bzmpop(ctx, argv, true) {
        return reply;
    }
    ctx.block(keys, deadline, argv, Resume::Bzmpop, Reply::NilArray)
}
