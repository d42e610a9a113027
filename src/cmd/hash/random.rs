//! HRANDFIELD key [count [WITHVALUES]].

use bytes::Bytes;
use rand::Rng;
use rand::seq::index;

use crate::cmd::{Ctx, errors};
use crate::resp::{Protocol, Reply};
use crate::store::value::Hash;
use crate::util::num::parse_i64;

/// Elements preallocated at most for a reply: a huge negative count grows its reply as it
/// goes rather than asking for all the memory up front.
const PREALLOCATED_MAX: usize = 1 << 16;

pub fn hrandfield(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    if argv.len() == 2 {
        return match ctx.read_hash(&argv[1]) {
            Ok(Some(hash)) => random_entry(&hash).map_or(Reply::Nil, |(f, _)| Reply::Bulk(f)),
            Ok(None) => Reply::Nil,
            Err(e) => e,
        };
    }
    let count = match parse_i64(&argv[2]) {
        Some(c) if c != i64::MIN => c,
        Some(_) => {
            return Reply::error(
                "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            );
        }
        None => return Reply::error(errors::NOT_INTEGER),
    };
    let with_values = match argv.get(3) {
        None => false,
        Some(arg) if argv.len() == 4 && arg.eq_ignore_ascii_case(b"withvalues") => true,
        Some(_) => return Reply::error(errors::SYNTAX),
    };
    // With values the reply holds two entries per pick, and Redis refuses counts whose
    // double would overflow.
    if with_values && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        return Reply::error("ERR value is out of range");
    }
    let hash = match ctx.read_hash(&argv[1]) {
        Ok(Some(hash)) => hash,
        Ok(None) => return Reply::Array(Vec::new()),
        Err(e) => return e,
    };
    let resp3 = ctx.session.protocol == Protocol::Resp3;
    let picks = pick(&hash, count);
    let mut items = Vec::with_capacity(picks.len().saturating_mul(2).min(PREALLOCATED_MAX));
    for (field, value) in picks {
        if !with_values {
            items.push(Reply::Bulk(field));
        } else if resp3 {
            items.push(Reply::Array(vec![Reply::Bulk(field), Reply::Bulk(value)]));
        } else {
            items.push(Reply::Bulk(field));
            items.push(Reply::Bulk(value));
        }
    }
    Reply::Array(items)
}

fn random_entry(hash: &Hash) -> Option<(Bytes, Bytes)> {
    if hash.is_empty() {
        return None;
    }
    let at = rand::rng().random_range(0..hash.len());
    hash.iter().nth(at).map(copy_pair)
}

fn copy_pair((field, value): (&[u8], &[u8])) -> (Bytes, Bytes) {
    (Bytes::copy_from_slice(field), Bytes::copy_from_slice(value))
}

/// The entries HRANDFIELD returns for `count`: negative counts may repeat entries, positive
/// ones are distinct and capped at the hash's size.
fn pick(hash: &Hash, count: i64) -> Vec<(Bytes, Bytes)> {
    // Borrowed: only the picks are copied into the reply.
    let entries: Vec<(&[u8], &[u8])> = hash.iter().collect();
    if entries.is_empty() || count == 0 {
        return Vec::new();
    }
    let mut rng = rand::rng();
    if count < 0 {
        let wanted = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
        let mut picks = Vec::with_capacity(wanted.min(PREALLOCATED_MAX));
        for _ in 0..wanted {
            picks.push(copy_pair(entries[rng.random_range(0..entries.len())]));
        }
        return picks;
    }
    let wanted = usize::try_from(count).unwrap_or(usize::MAX);
    if wanted >= entries.len() {
        return entries.into_iter().map(copy_pair).collect();
    }
    index::sample(&mut rng, entries.len(), wanted)
        .into_iter()
        .map(|i| copy_pair(entries[i]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(n: usize) -> Hash {
        (0..n)
            .map(|i| (Bytes::from(format!("f{i}")), Bytes::from(format!("v{i}"))))
            .collect()
    }

    #[test]
    fn positive_counts_are_distinct_and_capped() {
        let h = hash(10);
        let picks = pick(&h, 4);
        assert_eq!(picks.len(), 4);
        let distinct: std::collections::HashSet<_> = picks.iter().map(|p| &p.0).collect();
        assert_eq!(distinct.len(), 4);
        assert!(picks.iter().all(|(f, v)| h.get(f) == Some(&v[..])));
        assert_eq!(pick(&h, 100).len(), 10);
        assert!(pick(&h, 0).is_empty());
    }

    #[test]
    fn negative_counts_repeat() {
        let h = hash(2);
        assert_eq!(pick(&h, -7).len(), 7);
        assert!(pick(&Hash::default(), -7).is_empty());
    }
}
