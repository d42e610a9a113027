//! SPOP and SRANDMEMBER.

use crate::config::keyspace_events as events;
use std::collections::HashSet;

use bytes::Bytes;
use rand::Rng;

use super::shared::{parse_long_in, parse_non_negative, peek_set, touched};
use crate::cmd::{Ctx, errors};
use crate::resp::Reply;
use crate::store::value::Set;

/// `count` distinct indices below `n` (Floyd's sampling), ascending.
pub(crate) fn distinct_indices(rng: &mut impl Rng, n: usize, count: usize) -> Vec<usize> {
    let mut chosen = HashSet::with_capacity(count.min(n));
    for j in n - count.min(n)..n {
        let t = rng.random_range(0..=j);
        if !chosen.insert(t) {
            chosen.insert(j);
        }
    }
    let mut indices: Vec<usize> = chosen.into_iter().collect();
    indices.sort_unstable();
    indices
}

/// The members at the given ascending positions of the set's iteration order.
fn members_at(set: &Set, indices: &[usize]) -> Vec<Bytes> {
    let mut wanted = indices.iter().peekable();
    let mut out = Vec::with_capacity(indices.len());
    for (i, member) in set.iter().enumerate() {
        match wanted.peek() {
            Some(&&w) if w == i => {
                out.push(member.clone());
                wanted.next();
            }
            Some(_) => {}
            None => break,
        }
    }
    out
}

fn random_member(ctx: &mut Ctx<'_>, set: &Set) -> Option<Bytes> {
    if set.is_empty() {
        return None;
    }
    let i = ctx.state.rng.random_range(0..set.len());
    set.iter().nth(i).cloned()
}

pub fn spop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    match argv.len() {
        2 => spop_one(ctx, &argv[1]),
        3 => match parse_non_negative(&argv[2], None) {
            Ok(count) => spop_count(ctx, &argv[1], usize::try_from(count).unwrap_or(usize::MAX)),
            Err(e) => e,
        },
        _ => Reply::error(errors::SYNTAX),
    }
}

fn spop_one(ctx: &mut Ctx<'_>, key: &Bytes) -> Reply {
    let set = match peek_set(ctx, key) {
        Ok(Some(set)) => set,
        Ok(None) => return Reply::Nil,
        Err(e) => return e,
    };
    let Some(member) = random_member(ctx, &set) else {
        return Reply::Nil;
    };
    drop(set);
    if let Ok(Some(set)) = ctx.write_set(key, false) {
        set.remove(&member);
    }
    ctx.modified(key);
    ctx.notify(events::SET, "spop", key);
    ctx.remove_if_emptied(key);
    // The pick is random: replicas must remove the same member.
    ctx.rewrite(vec![
        Bytes::from_static(b"SREM"),
        key.clone(),
        member.clone(),
    ]);
    Reply::Bulk(member)
}

fn spop_count(ctx: &mut Ctx<'_>, key: &Bytes, count: usize) -> Reply {
    let set = match peek_set(ctx, key) {
        Ok(Some(set)) => set,
        Ok(None) => return Reply::Set(Vec::new()),
        Err(e) => return e,
    };
    if count == 0 {
        return Reply::Set(Vec::new());
    }
    let size = set.len();
    if count >= size {
        let members = super::storage_order(ctx, set.iter().cloned().collect());
        drop(set);
        ctx.db().remove(key);
        touched(ctx, key, size);
        ctx.notify(events::SET, "spop", key);
        ctx.notify(events::GENERIC, "del", key);
        ctx.rewrite(vec![Bytes::from_static(b"DEL"), key.clone()]);
        return Reply::Set(members.into_iter().map(Reply::Bulk).collect());
    }
    let indices = distinct_indices(&mut ctx.state.rng, size, count);
    let mut popped = members_at(&set, &indices);
    drop(set);
    // Reply in random order, as Redis does.
    for i in (1..popped.len()).rev() {
        let j = ctx.state.rng.random_range(0..=i);
        popped.swap(i, j);
    }
    if let Ok(Some(set)) = ctx.write_set(key, false) {
        for member in &popped {
            set.remove(member);
        }
    }
    touched(ctx, key, popped.len());
    ctx.notify(events::SET, "spop", key);
    ctx.suppress_own = true;
    for member in &popped {
        ctx.also_propagate(vec![
            Bytes::from_static(b"SREM"),
            key.clone(),
            member.clone(),
        ]);
    }
    Reply::Set(popped.into_iter().map(Reply::Bulk).collect())
}

pub fn srandmember(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    match argv.len() {
        2 => match ctx.read_set(&argv[1]) {
            Ok(Some(set)) => random_member(ctx, &set).map_or(Reply::Nil, Reply::Bulk),
            Ok(None) => Reply::Nil,
            Err(e) => e,
        },
        3 => match parse_long_in(&argv[2], -i64::MAX, i64::MAX, None) {
            Ok(count) => srandmember_count(ctx, &argv[1], count),
            Err(e) => e,
        },
        _ => Reply::error(errors::SYNTAX),
    }
}

fn srandmember_count(ctx: &mut Ctx<'_>, key: &Bytes, count: i64) -> Reply {
    let set = match ctx.read_set(key) {
        Ok(Some(set)) => set,
        Ok(None) => return Reply::Array(Vec::new()),
        Err(e) => return e,
    };
    let wanted = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
    if wanted == 0 {
        return Reply::Array(Vec::new());
    }
    let size = set.len();
    if size == 0 {
        return Reply::Array(Vec::new());
    }
    if count < 0 || wanted == 1 {
        // With repetitions: every pick samples the whole set.
        let all: Vec<&Bytes> = set.iter().collect();
        let mut out = Vec::new();
        for _ in 0..wanted {
            let i = ctx.state.rng.random_range(0..size);
            out.push(Reply::Bulk(all[i].clone()));
        }
        return Reply::Array(out);
    }
    if wanted >= size {
        let members = super::storage_order(ctx, set.iter().cloned().collect());
        return Reply::Array(members.into_iter().map(Reply::Bulk).collect());
    }
    let indices = distinct_indices(&mut ctx.state.rng, size, wanted);
    let mut picked = members_at(&set, &indices);
    for i in (1..picked.len()).rev() {
        let j = ctx.state.rng.random_range(0..=i);
        picked.swap(i, j);
    }
    Reply::Array(picked.into_iter().map(Reply::Bulk).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn floyd_sampling_is_distinct_and_in_range() {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        for (n, k) in [(10, 3), (10, 10), (5, 0), (1000, 999), (3, 5)] {
            let idx = distinct_indices(&mut rng, n, k);
            assert_eq!(idx.len(), k.min(n));
            assert!(idx.windows(2).all(|w| w[0] < w[1]));
            assert!(idx.iter().all(|&i| i < n));
        }
    }
}
