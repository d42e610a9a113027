//! BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP.
//!
//! Each command first tries its non-blocking form; if every key is empty the client blocks
//! with the command to resume, whose `serve_*` attempt the dispatcher calls again whenever one of the keys gets
//! elements. Both paths propagate the non-blocking effect (`LPOP key`, `LMOVE ...`,
//! `LPOP key count`) instead of the blocking command, so replicas never block.

use bytes::Bytes;

use super::lmove::move_element;
use super::lmpop::{parse_multi_pop, try_multi_pop};
use super::shared::{End, list_len, pop_elements};
use crate::cmd::Ctx;
use crate::cmd::ctx::parse_timeout_seconds;
use crate::resp::Reply;
use crate::server::blocking::Resume;

/// Owned copies of the arguments a blocked client keeps, so that they do not pin the
/// connection's read buffer for as long as the client waits.
fn owned(args: &[Bytes]) -> Vec<Bytes> {
    args.iter().map(|a| Bytes::copy_from_slice(a)).collect()
}

/// One BLPOP/BRPOP attempt on argv `[cmd, key..., timeout]`. Keys of another type are an
/// error on the client's own attempt (`strict`) and skipped when serving it later.
fn try_pop(ctx: &mut Ctx<'_>, argv: &[Bytes], end: End, strict: bool) -> Option<Reply> {
    let keys = argv.get(1..argv.len().saturating_sub(1))?;
    for key in keys {
        match list_len(ctx, key) {
            Ok(Some(_)) => {
                let value = pop_elements(ctx, key, end, 1).into_iter().next()?;
                ctx.suppress_own = true;
                ctx.also_propagate(vec![end.pop_command(), key.clone()]);
                return Some(Reply::Array(vec![
                    Reply::Bulk(key.clone()),
                    Reply::Bulk(value),
                ]));
            }
            Ok(None) => {}
            Err(e) if strict => return Some(e),
            Err(_) => {}
        }
    }
    None
}

pub(crate) fn serve_blpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Option<Reply> {
    try_pop(ctx, argv, End::Left, false)
}

pub(crate) fn serve_brpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Option<Reply> {
    try_pop(ctx, argv, End::Right, false)
}

fn blocking_pop(ctx: &mut Ctx<'_>, argv: &[Bytes], end: End, resume: Resume) -> Reply {
    let deadline = match parse_timeout_seconds(&argv[argv.len() - 1], ctx.now_ms) {
        Ok(d) => d,
        Err(e) => return e,
    };
    if let Some(reply) = try_pop(ctx, argv, end, true) {
        return reply;
    }
    let args = owned(argv);
    let keys = args[1..args.len() - 1].to_vec();
    ctx.block(keys, deadline, &args, resume, Reply::NilArray)
}

pub fn blpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    blocking_pop(ctx, argv, End::Left, Resume::Blpop)
}

pub fn brpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    blocking_pop(ctx, argv, End::Right, Resume::Brpop)
}

/// One BLMOVE/BRPOPLPUSH attempt; `effect` is what replicas receive if it moves something.
fn try_move(
    ctx: &mut Ctx<'_>,
    (src, dst): (&Bytes, &Bytes),
    (end_from, end_to): (End, End),
    effect: Vec<Bytes>,
    strict: bool,
) -> Option<Reply> {
    match list_len(ctx, src) {
        Ok(Some(_)) => {}
        Ok(None) => return None,
        Err(e) => return strict.then_some(e),
    }
    match move_element(ctx, src, dst, end_from, end_to) {
        Ok(Some(value)) => {
            ctx.suppress_own = true;
            ctx.also_propagate(effect);
            Some(Reply::Bulk(value))
        }
        Ok(None) => None,
        // A destination of another type ends the wait with the error, as in Redis.
        Err(e) => Some(e),
    }
}

/// `(from, to)` of a BLMOVE argv (validated before the client blocked).
fn blmove_ends(argv: &[Bytes]) -> Option<(End, End)> {
    Some((End::parse(argv.get(3)?)?, End::parse(argv.get(4)?)?))
}

pub(crate) fn serve_blmove(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Option<Reply> {
    let (end_from, end_to) = blmove_ends(argv)?;
    // Served later, Redis spells the ends itself, in lower case.
    let effect = vec![
        Bytes::from_static(b"LMOVE"),
        argv[1].clone(),
        argv[2].clone(),
        end_from.lower_name(),
        end_to.lower_name(),
    ];
    try_move(ctx, (&argv[1], &argv[2]), (end_from, end_to), effect, false)
}

fn rpoplpush_effect(argv: &[Bytes]) -> Vec<Bytes> {
    vec![
        Bytes::from_static(b"RPOPLPUSH"),
        argv[1].clone(),
        argv[2].clone(),
    ]
}

pub(crate) fn serve_brpoplpush(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Option<Reply> {
    let effect = rpoplpush_effect(argv);
    try_move(
        ctx,
        (&argv[1], &argv[2]),
        (End::Right, End::Left),
        effect,
        false,
    )
}

fn blocking_move(
    ctx: &mut Ctx<'_>,
    argv: &[Bytes],
    ends: (End, End),
    effect: Vec<Bytes>,
    resume: Resume,
) -> Reply {
    let deadline = match parse_timeout_seconds(&argv[argv.len() - 1], ctx.now_ms) {
        Ok(d) => d,
        Err(e) => return e,
    };
    if let Some(reply) = try_move(ctx, (&argv[1], &argv[2]), ends, effect, true) {
        return reply;
    }
    if ctx.nested {
        // Inside MULTI the answer is a null bulk; a real timeout answers a null array.
        return Reply::Nil;
    }
    let args = owned(argv);
    let keys = vec![args[1].clone()];
    ctx.block(keys, deadline, &args, resume, Reply::NilArray)
}

pub fn blmove(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let (end_from, end_to) = match (
        End::parse_or_syntax(&argv[3]),
        End::parse_or_syntax(&argv[4]),
    ) {
        (Ok(from), Ok(to)) => (from, to),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    // Run at once, the command is propagated as LMOVE with the ends as the client spelt
    // them.
    let effect = vec![
        Bytes::from_static(b"LMOVE"),
        argv[1].clone(),
        argv[2].clone(),
        argv[3].clone(),
        argv[4].clone(),
    ];
    blocking_move(ctx, argv, (end_from, end_to), effect, Resume::Blmove)
}

pub fn brpoplpush(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let effect = rpoplpush_effect(argv);
    blocking_move(
        ctx,
        argv,
        (End::Right, End::Left),
        effect,
        Resume::Brpoplpush,
    )
}

pub(crate) fn serve_blmpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Option<Reply> {
    let spec = parse_multi_pop(argv, 2).ok()?;
    try_multi_pop(ctx, &spec, false)
}

pub fn blmpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let spec = match parse_multi_pop(argv, 2) {
        Ok(s) => s,
        Err(e) => return e,
    };
    let deadline = match parse_timeout_seconds(&argv[1], ctx.now_ms) {
        Ok(d) => d,
        Err(e) => return e,
    };
    if let Some(reply) = try_multi_pop(ctx, &spec, true) {
        return reply;
    }
    let keys = owned(spec.keys);
    let args = owned(argv);
    ctx.block(keys, deadline, &args, Resume::Blmpop, Reply::NilArray)
}
