//! SORT and SORT_RO, as Redis 7.0's `sort.c`: the elements of a list, set or sorted set,
//! ordered by their numeric value, bytewise (ALPHA), or by the keys a BY pattern names
//! (`weight_*`, `h_*->field`); a BY pattern without `*` keeps the native order. GET patterns
//! fetch other keys per element (`#` is the element), LIMIT cuts, STORE writes a list.
//!
//! Strings compare bytewise: Redis uses `strcoll`, which is bytewise in the C locale its
//! packages start in. STORE is propagated as it came (replicas sort the same data the same
//! way; a set's native order, which could differ, is sorted ALPHA when storing, as in Redis).

use crate::config::keyspace_events as events;
use std::cmp::Ordering;

use bytes::Bytes;

use crate::cmd::ctx::Ctx;
use crate::cmd::errors;
use crate::cmd::zset::score::parse_sort_weight;
use crate::resp::Reply;
use crate::store::{Entry, Value};
use crate::util::num::parse_i64;

struct Options<'a> {
    desc: bool,
    alpha: bool,
    limit: Option<(i64, i64)>,
    store: Option<&'a Bytes>,
    by: Option<&'a Bytes>,
    gets: Vec<&'a Bytes>,
}

fn parse(argv: &[Bytes], read_only: bool) -> Result<Options<'_>, Reply> {
    let mut o = Options {
        desc: false,
        alpha: false,
        limit: None,
        store: None,
        by: None,
        gets: Vec::new(),
    };
    let mut j = 2;
    while j < argv.len() {
        let more = argv.len() - j - 1;
        let arg = &argv[j];
        if arg.eq_ignore_ascii_case(b"ASC") {
            o.desc = false;
        } else if arg.eq_ignore_ascii_case(b"DESC") {
            o.desc = true;
        } else if arg.eq_ignore_ascii_case(b"ALPHA") {
            o.alpha = true;
        } else if arg.eq_ignore_ascii_case(b"LIMIT") && more >= 2 {
            let (Some(start), Some(count)) = (parse_i64(&argv[j + 1]), parse_i64(&argv[j + 2]))
            else {
                return Err(Reply::error(errors::NOT_INTEGER));
            };
            o.limit = Some((start, count));
            j += 2;
        } else if !read_only && arg.eq_ignore_ascii_case(b"STORE") && more >= 1 {
            o.store = Some(&argv[j + 1]);
            j += 1;
        } else if arg.eq_ignore_ascii_case(b"BY") && more >= 1 {
            o.by = Some(&argv[j + 1]);
            j += 1;
        } else if arg.eq_ignore_ascii_case(b"GET") && more >= 1 {
            o.gets.push(&argv[j + 1]);
            j += 1;
        } else {
            return Err(Reply::error(errors::SYNTAX));
        }
        j += 1;
    }
    Ok(o)
}

/// What a BY or GET pattern names for `element`: the element for `#`, else the string at
/// the key with `*` replaced by it, or the hash field after `->`; `None` when the pattern
/// has no `*` or the key or field is missing or of another type.
fn lookup_pattern(ctx: &mut Ctx<'_>, pattern: &[u8], element: &[u8]) -> Option<Bytes> {
    if pattern == b"#" {
        return Some(Bytes::copy_from_slice(element));
    }
    let star = pattern.iter().position(|&b| b == b'*')?;
    let after = &pattern[star + 1..];
    let (postfix, field) = match after.windows(2).position(|w| w == b"->") {
        Some(at) if at + 2 < after.len() => (&after[..at], Some(&after[at + 2..])),
        _ => (after, None),
    };
    let mut key = Vec::with_capacity(star + element.len() + postfix.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(element);
    key.extend_from_slice(postfix);
    match (&ctx.lookup_read(&key)?.value, field) {
        (Value::Str(s), None) => Some(s.to_bytes()),
        (Value::Hash(h), Some(field)) => h.get(field).map(Bytes::copy_from_slice),
        _ => None,
    }
}

/// One element with what it sorts by.
struct Item {
    element: Bytes,
    score: f64,
    /// ALPHA with BY: the looked-up value (`None` when missing sorts first).
    by_value: Option<Bytes>,
}

fn compare(a: &Item, b: &Item, alpha: bool, by: bool) -> Ordering {
    if !alpha {
        return a
            .score
            .partial_cmp(&b.score)
            .unwrap_or(Ordering::Equal)
            .then_with(|| a.element.cmp(&b.element));
    }
    if by {
        return match (&a.by_value, &b.by_value) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(x), Some(y)) => x.cmp(y),
        };
    }
    a.element.cmp(&b.element)
}

pub fn sort(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    run(ctx, argv, false)
}

pub fn sort_ro(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    run(ctx, argv, true)
}

fn run(ctx: &mut Ctx<'_>, argv: &[Bytes], read_only: bool) -> Reply {
    let mut o = match parse(argv, read_only) {
        Ok(o) => o,
        Err(e) => return e,
    };
    // A BY pattern without `*` names no per-element key: nothing to sort by.
    let mut dont_sort = o.by.is_some_and(|p| !p.contains(&b'*'));
    let (elements, is_set) = match ctx.lookup_read(&argv[1]).map(|e| &e.value) {
        None => (Vec::new(), false),
        Some(Value::List(l)) => (l.iter().cloned().collect::<Vec<_>>(), false),
        Some(Value::Set(s)) => (s.iter().cloned().collect(), true),
        Some(Value::ZSet(z)) => (z.iter().map(|(m, _)| m.clone()).collect(), false),
        Some(_) => return Reply::error(errors::WRONGTYPE),
    };
    // A set has no order of its own: what is stored (and replicated), or what a script
    // sees (its effects must not depend on it), is sorted.
    if dont_sort && is_set && (o.store.is_some() || ctx.state.in_script()) {
        dont_sort = false;
        o.alpha = true;
        o.by = None;
    }
    let len = elements.len() as i64;
    let (limit_start, limit_count) = o.limit.unwrap_or((0, -1));
    let mut start = limit_start.max(0).min(len);
    let count = limit_count.max(-1).min(len);
    let mut end = if count < 0 {
        len - 1
    } else {
        start + count - 1
    };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    end = end.min(len - 1);

    let mut items: Vec<Item> = elements
        .into_iter()
        .map(|element| Item {
            element,
            score: 0.0,
            by_value: None,
        })
        .collect();
    if dont_sort {
        // The native order, reversed for DESC (lists and sorted sets).
        if o.desc && !is_set {
            items.reverse();
        }
    } else {
        let mut conversion_error = false;
        for item in &mut items {
            let weight = match o.by {
                Some(pattern) => match lookup_pattern(ctx, pattern, &item.element) {
                    Some(v) => v,
                    // A missing weight sorts as 0 (or first, ALPHA).
                    None => continue,
                },
                None => item.element.clone(),
            };
            if o.alpha {
                if o.by.is_some() {
                    item.by_value = Some(weight);
                }
            } else {
                match parse_sort_weight(&weight) {
                    Some(score) => item.score = score,
                    None => conversion_error = true,
                }
            }
        }
        if conversion_error {
            return Reply::error("ERR One or more scores can't be converted into double");
        }
        let (alpha, by) = (o.alpha, o.by.is_some());
        items.sort_by(|a, b| {
            let order = compare(a, b, alpha, by);
            if o.desc { order.reverse() } else { order }
        });
    }
    let selected: &[Item] = if start <= end && end >= 0 {
        usize::try_from(start)
            .ok()
            .zip(usize::try_from(end).ok())
            .and_then(|(s, e)| items.get(s..=e))
            .unwrap_or(&[])
    } else {
        &[]
    };
    let mut out: Vec<Option<Bytes>> = Vec::new();
    for item in selected {
        if o.gets.is_empty() {
            out.push(Some(item.element.clone()));
        }
        for pattern in &o.gets {
            out.push(lookup_pattern(ctx, pattern, &item.element));
        }
    }
    let Some(dest) = o.store else {
        return Reply::Array(
            out.into_iter()
                .map(|v| v.map_or(Reply::Nil, Reply::Bulk))
                .collect(),
        );
    };
    let stored = out.len();
    if stored > 0 {
        let list: crate::store::value::List =
            out.into_iter().map(Option::unwrap_or_default).collect();
        // Like SET: the destination is replaced whatever it held, without its expiry.
        ctx.insert_entry(dest, Entry::new(Value::List(std::sync::Arc::new(list))));
        ctx.modified(dest);
        ctx.add_changes(stored as u64 - 1);
        ctx.key_ready(dest);
        ctx.notify(events::LIST, "sortstore", dest);
    } else if ctx.lookup_write(dest).is_some() {
        ctx.db().remove(dest);
        ctx.modified(dest);
        ctx.notify(events::GENERIC, "del", dest);
    }
    Reply::integer(stored)
}
