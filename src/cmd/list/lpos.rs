//! LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len].

use bytes::Bytes;

use crate::cmd::{Ctx, errors};
use crate::resp::Reply;
use crate::store::value::List;
use crate::util::num::parse_i64;

const RANK_ZERO: &str = "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list";
const COUNT_NEGATIVE: &str = "ERR COUNT can't be negative";
const MAXLEN_NEGATIVE: &str = "ERR MAXLEN can't be negative";

struct Options {
    rank: i64,
    /// `None` without COUNT (single reply); `Some(0)` means every match.
    count: Option<u64>,
    /// 0 means the whole list.
    maxlen: u64,
}

fn parse_options(argv: &[Bytes]) -> Result<Options, Reply> {
    let mut options = Options {
        rank: 1,
        count: None,
        maxlen: 0,
    };
    let mut i = 3;
    while i < argv.len() {
        let Some(value) = argv.get(i + 1) else {
            return Err(Reply::error(errors::SYNTAX));
        };
        let name = &argv[i];
        if name.eq_ignore_ascii_case(b"rank") {
            let rank = parse_i64(value).ok_or_else(|| Reply::error(errors::NOT_INTEGER))?;
            if rank == 0 {
                return Err(Reply::error(RANK_ZERO));
            }
            options.rank = rank;
        } else if name.eq_ignore_ascii_case(b"count") {
            let count = parse_i64(value)
                .and_then(|c| u64::try_from(c).ok())
                .ok_or_else(|| Reply::error(COUNT_NEGATIVE))?;
            options.count = Some(count);
        } else if name.eq_ignore_ascii_case(b"maxlen") {
            let maxlen = parse_i64(value)
                .and_then(|c| u64::try_from(c).ok())
                .ok_or_else(|| Reply::error(MAXLEN_NEGATIVE))?;
            options.maxlen = maxlen;
        } else {
            return Err(Reply::error(errors::SYNTAX));
        }
        i += 2;
    }
    Ok(options)
}

/// Positions (from the head) of matches, skipping the first `rank - 1` ones and stopping
/// after `wanted` (0: no limit) or after `maxlen` compared elements (0: no limit).
fn find_matches(list: &List, element: &[u8], options: &Options) -> Vec<i64> {
    let from_tail = options.rank < 0;
    // Redis negates the rank in a C long; i64::MIN stays negative there, so every match
    // qualifies. Wrapping negation keeps that behaviour.
    let rank = if from_tail {
        options.rank.wrapping_neg()
    } else {
        options.rank
    };
    let wanted = options.count.unwrap_or(1);
    let len = list.len();
    let mut found = Vec::new();
    let mut matches: i64 = 0;
    for scanned in 0..len {
        if options.maxlen != 0 && scanned as u64 >= options.maxlen {
            break;
        }
        let position = if from_tail {
            len - 1 - scanned
        } else {
            scanned
        };
        if list[position].as_ref() != element {
            continue;
        }
        matches += 1;
        if matches >= rank {
            found.push(position as i64);
            if wanted != 0 && found.len() as u64 >= wanted {
                break;
            }
        }
    }
    found
}

pub fn lpos(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let options = match parse_options(argv) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let list = match ctx.read_list(&argv[1]) {
        Ok(list) => list,
        Err(e) => return e,
    };
    let found = match &list {
        Some(list) => find_matches(list, &argv[2], &options),
        None => Vec::new(),
    };
    if options.count.is_some() {
        Reply::Array(found.into_iter().map(Reply::Integer).collect())
    } else {
        found.first().map_or(Reply::Nil, |&p| Reply::Integer(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> List {
        items
            .iter()
            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
            .collect()
    }

    fn opts(rank: i64, count: Option<u64>, maxlen: u64) -> Options {
        Options {
            rank,
            count,
            maxlen,
        }
    }

    #[test]
    fn ranks_counts_and_maxlen() {
        let l = list(&["a", "b", "c", "1", "2", "3", "c", "c"]);
        assert_eq!(find_matches(&l, b"c", &opts(1, None, 0)), vec![2]);
        assert_eq!(find_matches(&l, b"c", &opts(2, None, 0)), vec![6]);
        assert_eq!(find_matches(&l, b"c", &opts(-1, None, 0)), vec![7]);
        assert_eq!(find_matches(&l, b"c", &opts(1, Some(0), 0)), vec![2, 6, 7]);
        assert_eq!(find_matches(&l, b"c", &opts(-1, Some(0), 0)), vec![7, 6, 2]);
        assert_eq!(find_matches(&l, b"c", &opts(1, Some(0), 4)), vec![2]);
        assert_eq!(find_matches(&l, b"c", &opts(i64::MIN, None, 0)), vec![7]);
        assert!(find_matches(&l, b"c", &opts(i64::MAX, None, 0)).is_empty());
    }
}
