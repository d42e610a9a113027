//! LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]: longest common subsequence
//! by the classic dynamic-programming table, walked back from the end to recover the string
//! and the matching ranges (reported from the last match to the first, as Redis does).

use bytes::Bytes;

use crate::cmd::{Ctx, errors};
use crate::resp::Reply;
use crate::store::Value;
use crate::util::num::parse_i64;

fn string_or_empty(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Bytes, ()> {
    match ctx.lookup_read(key).map(|e| &e.value) {
        None => Ok(Bytes::new()),
        Some(Value::Str(v)) => Ok(v.to_bytes()),
        Some(_) => Err(()),
    }
}

pub fn lcs(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let a = string_or_empty(ctx, &argv[1]);
    let b = string_or_empty(ctx, &argv[2]);
    let (Ok(a), Ok(b)) = (a, b) else {
        return Reply::error("ERR The specified keys must contain string values");
    };
    let mut want_len = false;
    let mut want_idx = false;
    let mut with_match_len = false;
    let mut min_match_len: u64 = 0;
    let mut j = 3;
    while j < argv.len() {
        let opt = argv[j].to_ascii_uppercase();
        let more = j + 1 < argv.len();
        match opt.as_slice() {
            b"IDX" => want_idx = true,
            b"LEN" => want_len = true,
            b"WITHMATCHLEN" => with_match_len = true,
            b"MINMATCHLEN" if more => {
                let Some(v) = parse_i64(&argv[j + 1]) else {
                    return Reply::error(errors::NOT_INTEGER);
                };
                min_match_len = v.max(0) as u64;
                j += 1;
            }
            _ => return Reply::error(errors::SYNTAX),
        }
        j += 1;
    }
    if want_len && want_idx {
        return Reply::error("ERR If you want both the length and indexes, please just use IDX.");
    }
    if a.len() >= u32::MAX as usize - 1 || b.len() >= u32::MAX as usize - 1 {
        return Reply::error("ERR String too long for LCS");
    }
    let cells = (a.len() as u64 + 1) * (b.len() as u64 + 1);
    let table_bytes = cells.saturating_mul(4);
    if table_bytes > ctx.state.config.proto_max_bulk_len {
        return Reply::error(
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        );
    }
    let mut table: Vec<u32> = Vec::new();
    if table
        .try_reserve_exact(crate::util::num::usize_from(cells))
        .is_err()
    {
        return Reply::error("ERR Insufficient memory, failed allocating transient memory for LCS");
    }
    table.resize(crate::util::num::usize_from(cells), 0);
    let width = b.len() + 1;
    let at = |i: usize, j: usize| i * width + j;
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            table[at(i, j)] = if a[i - 1] == b[j - 1] {
                table[at(i - 1, j - 1)] + 1
            } else {
                table[at(i - 1, j)].max(table[at(i, j - 1)])
            };
        }
    }
    let total = table[at(a.len(), b.len())];
    if want_len {
        return Reply::Integer(i64::from(total));
    }

    let mut result = vec![0u8; total as usize];
    let mut remaining = total as usize;
    let mut matches = Vec::new();
    // A range being extended backwards: (a_start, a_end, b_start, b_end).
    let mut range: Option<(usize, usize, usize, usize)> = None;
    let (mut i, mut j) = (a.len(), b.len());
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            result[remaining - 1] = a[i - 1];
            range = match range {
                None => Some((i - 1, i - 1, j - 1, j - 1)),
                Some((a_start, a_end, b_start, b_end)) if a_start == i && b_start == j => {
                    Some((a_start - 1, a_end, b_start - 1, b_end))
                }
                Some(r) => {
                    emit = true;
                    Some(r)
                }
            };
            if let Some((a_start, _, b_start, _)) = range
                && (a_start == 0 || b_start == 0)
            {
                emit = true;
            }
            remaining -= 1;
            i -= 1;
            j -= 1;
        } else {
            if table[at(i - 1, j)] > table[at(i, j - 1)] {
                i -= 1;
            } else {
                j -= 1;
            }
            emit = range.is_some();
        }
        if emit && let Some((a_start, a_end, b_start, b_end)) = range.take() {
            let match_len = (a_end - a_start + 1) as u64;
            if want_idx && (min_match_len == 0 || match_len >= min_match_len) {
                let mut item = vec![
                    Reply::Array(vec![Reply::integer(a_start), Reply::integer(a_end)]),
                    Reply::Array(vec![Reply::integer(b_start), Reply::integer(b_end)]),
                ];
                if with_match_len {
                    item.push(Reply::integer(match_len));
                }
                matches.push(Reply::Array(item));
            }
        }
    }
    if want_idx {
        Reply::Map(vec![
            (Reply::bulk_str("matches"), Reply::Array(matches)),
            (Reply::bulk_str("len"), Reply::Integer(i64::from(total))),
        ])
    } else {
        Reply::Bulk(Bytes::from(result))
    }
}
