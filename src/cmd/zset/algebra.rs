//! ZUNION ZINTER ZDIFF, their STORE forms, and ZINTERCARD. Inputs may be sorted sets or
//! plain sets (whose members score 1).

use crate::config::keyspace_events as events;
use std::sync::Arc;

use bytes::Bytes;

use super::score::parse_score;
use crate::cmd::set::shared::{parse_long, parse_non_negative};
use crate::cmd::{Ctx, errors};
use crate::resp::Reply;
use crate::store::value::{FastMap, Set};
use crate::store::{Value, ZSet};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

impl Aggregate {
    fn apply(self, target: &mut f64, value: f64) {
        match self {
            Aggregate::Sum => {
                *target += value;
                // inf + -inf: Redis settles on 0.
                if target.is_nan() {
                    *target = 0.0;
                }
            }
            Aggregate::Min => {
                if value < *target {
                    *target = value;
                }
            }
            Aggregate::Max => {
                if value > *target {
                    *target = value;
                }
            }
        }
    }
}

enum Source {
    Missing,
    Sorted(Arc<ZSet>),
    Plain(Arc<Set>),
}

impl Source {
    fn len(&self) -> usize {
        match self {
            Source::Missing => 0,
            Source::Sorted(z) => z.len(),
            Source::Plain(s) => s.len(),
        }
    }

    fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            Source::Missing => None,
            Source::Sorted(z) => z.score(member),
            Source::Plain(s) => s.contains(member).then_some(1.0),
        }
    }

    /// Members and scores in the order Redis iterates them.
    fn entries(&self) -> Box<dyn Iterator<Item = (&Bytes, f64)> + '_> {
        match self {
            Source::Missing => Box::new(std::iter::empty()),
            Source::Sorted(z) => Box::new(z.iter()),
            Source::Plain(s) => Box::new(s.iter().map(|m| (m, 1.0))),
        }
    }

    fn same_as(&self, other: &Source) -> bool {
        match (self, other) {
            (Source::Sorted(a), Source::Sorted(b)) => Arc::ptr_eq(a, b),
            (Source::Plain(a), Source::Plain(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

struct Input {
    source: Source,
    weight: f64,
}

pub fn zunionstore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    generic(ctx, argv, Some(&argv[1]), 2, Op::Union, false)
}

pub fn zinterstore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    generic(ctx, argv, Some(&argv[1]), 2, Op::Inter, false)
}

pub fn zdiffstore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    generic(ctx, argv, Some(&argv[1]), 2, Op::Diff, false)
}

pub fn zunion(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    generic(ctx, argv, None, 1, Op::Union, false)
}

pub fn zinter(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    generic(ctx, argv, None, 1, Op::Inter, false)
}

pub fn zdiff(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    generic(ctx, argv, None, 1, Op::Diff, false)
}

pub fn zintercard(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    generic(ctx, argv, None, 1, Op::Inter, true)
}

fn generic(
    ctx: &mut Ctx<'_>,
    argv: &[Bytes],
    dst: Option<&Bytes>,
    numkeys_idx: usize,
    op: Op,
    cardinality_only: bool,
) -> Reply {
    let numkeys = match parse_long(&argv[numkeys_idx], None) {
        Ok(n) => n,
        Err(e) => return e,
    };
    if numkeys < 1 {
        return Reply::error(format!(
            "ERR at least 1 input key is needed for '{}' command",
            String::from_utf8_lossy(&argv[0]).to_ascii_lowercase()
        ));
    }
    let first_key = numkeys_idx + 1;
    let numkeys = usize::try_from(numkeys).unwrap_or(usize::MAX);
    if numkeys > argv.len() - first_key {
        return Reply::error(errors::SYNTAX);
    }
    let mut inputs = Vec::with_capacity(numkeys);
    for key in &argv[first_key..first_key + numkeys] {
        let source = match ctx.lookup_read(key).map(|e| &e.value) {
            None => Source::Missing,
            Some(Value::ZSet(z)) => Source::Sorted(z.clone()),
            Some(Value::Set(s)) => Source::Plain(s.clone()),
            Some(_) => return Reply::error(errors::WRONGTYPE),
        };
        inputs.push(Input {
            source,
            weight: 1.0,
        });
    }
    let mut aggregate = Aggregate::Sum;
    let mut with_scores = false;
    let mut limit = 0usize;
    let mut j = first_key + numkeys;
    while j < argv.len() {
        let remaining = argv.len() - j;
        let opt = argv[j].to_ascii_lowercase();
        if op != Op::Diff && !cardinality_only && remaining > numkeys && opt == b"weights" {
            for (input, arg) in inputs.iter_mut().zip(&argv[j + 1..j + 1 + numkeys]) {
                match parse_score(arg) {
                    Some(w) => input.weight = w,
                    None => return Reply::error("ERR weight value is not a float"),
                }
            }
            j += 1 + numkeys;
        } else if op != Op::Diff && !cardinality_only && remaining >= 2 && opt == b"aggregate" {
            aggregate = match argv[j + 1].to_ascii_lowercase().as_slice() {
                b"sum" => Aggregate::Sum,
                b"min" => Aggregate::Min,
                b"max" => Aggregate::Max,
                _ => return Reply::error(errors::SYNTAX),
            };
            j += 2;
        } else if dst.is_none() && !cardinality_only && opt == b"withscores" {
            with_scores = true;
            j += 1;
        } else if cardinality_only && remaining >= 2 && opt == b"limit" {
            match parse_non_negative(&argv[j + 1], Some("ERR LIMIT can't be negative")) {
                Ok(l) => limit = usize::try_from(l).unwrap_or(usize::MAX),
                Err(e) => return e,
            }
            j += 2;
        } else {
            return Reply::error(errors::SYNTAX);
        }
    }
    if op != Op::Diff {
        // Smallest first; a stable sort keeps the order of equal sizes as glibc's qsort
        // (a merge sort) does, which fixes the order of floating-point sums.
        inputs.sort_by_key(|i| i.source.len());
    }
    if cardinality_only {
        return Reply::integer(intersect(&inputs, aggregate, limit).len());
    }
    let result = match op {
        Op::Inter => intersect(&inputs, aggregate, 0),
        Op::Union => unite(&inputs, aggregate),
        Op::Diff => subtract(&inputs),
    };
    let mut zset = ZSet::with_encoding(false);
    for (member, score) in result {
        zset.insert(member, score);
    }
    match dst {
        Some(dst) => {
            if zset.is_empty() {
                ctx.delete(dst);
                return Reply::Integer(0);
            }
            zset.fit_compact(super::compact_limits(ctx));
            let len = zset.len();
            ctx.set_value(dst, Value::ZSet(Arc::new(zset)));
            ctx.key_ready(dst);
            let event = match op {
                Op::Inter => "zinterstore",
                Op::Union => "zunionstore",
                Op::Diff => "zdiffstore",
            };
            ctx.notify(events::ZSET, event, dst);
            Reply::integer(len)
        }
        None => {
            let items = zset.iter().map(|(m, s)| (m.clone(), s)).collect();
            super::members_reply(ctx, items, with_scores)
        }
    }
}

/// A source score times its weight; Redis turns the NaN of 0 * inf into 0.
fn weighted(score: f64, weight: f64) -> f64 {
    let v = score * weight;
    if v.is_nan() { 0.0 } else { v }
}

fn intersect(inputs: &[Input], aggregate: Aggregate, limit: usize) -> Vec<(Bytes, f64)> {
    let Some((first, others)) = inputs.split_first() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if first.source.len() == 0 {
        return out;
    }
    'members: for (member, score) in first.source.entries() {
        let mut total = weighted(score, first.weight);
        for other in others {
            let value = if other.source.same_as(&first.source) {
                score * other.weight
            } else {
                match other.source.score(member) {
                    Some(s) => s * other.weight,
                    None => continue 'members,
                }
            };
            aggregate.apply(&mut total, value);
        }
        out.push((member.clone(), total));
        if limit != 0 && out.len() >= limit {
            break;
        }
    }
    out
}

fn unite(inputs: &[Input], aggregate: Aggregate) -> Vec<(Bytes, f64)> {
    let mut totals: FastMap<Bytes, f64> = FastMap::default();
    for input in inputs {
        for (member, score) in input.source.entries() {
            let value = weighted(score, input.weight);
            match totals.get_mut(member) {
                Some(total) => aggregate.apply(total, value),
                None => {
                    totals.insert(member.clone(), value);
                }
            }
        }
    }
    totals.into_iter().collect()
}

fn subtract(inputs: &[Input]) -> Vec<(Bytes, f64)> {
    let Some((first, others)) = inputs.split_first() else {
        return Vec::new();
    };
    if others.iter().any(|o| o.source.same_as(&first.source)) {
        return Vec::new();
    }
    first
        .source
        .entries()
        .filter(|(m, _)| others.iter().all(|o| o.source.score(m).is_none()))
        .map(|(m, s)| (m.clone(), s))
        .collect()
}
