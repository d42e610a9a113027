//! Redis 8.2's XDELEX and XACKDEL: deletion (and for XACKDEL acknowledgement) of entries by
//! ID, each under a reference policy (KEEPREF, DELREF, ACKED), with one reply per ID. Both
//! are propagated as they came when they changed anything, as Redis 8.2 propagates them.

use bytes::Bytes;

use super::id::parse_id;
use super::shared::{peek_stream, write_stream};
use super::trim::parse_ref_policy;
use crate::cmd::ctx::Ctx;
use crate::resp::Reply;
use crate::store::stream::{Deletion, RefPolicy, StreamId};
use crate::util::num::parse_i64;

/// An ID not in the stream (or not pending in the group).
const MISSING: i64 = -1;
const DELETED: i64 = 1;
/// Kept because some group still references it (ACKED).
const REFERENCED: i64 = 2;

struct Request {
    refs: RefPolicy,
    ids: Vec<StreamId>,
}

/// `[KEEPREF|DELREF|ACKED] IDS numids id ...` from `argv[start..]`; the policy may also follow
/// the IDs.
fn parse(argv: &[Bytes], start: usize) -> Result<Request, Reply> {
    let mut refs = None;
    let mut ids = None;
    let mut i = start;
    while i < argv.len() {
        let arg = &argv[i];
        if arg.eq_ignore_ascii_case(b"IDS") && ids.is_none() {
            let count = argv
                .get(i + 1)
                .and_then(|n| parse_i64(n))
                .and_then(|n| usize::try_from(n).ok())
                .filter(|&n| n > 0)
                .ok_or_else(|| Reply::error("ERR Number of IDs must be a positive integer"))?;
            let first = i + 2;
            let Some(given) = argv.get(first..first.saturating_add(count)) else {
                return Err(Reply::error(
                    "ERR The `numids` parameter must match the number of arguments",
                ));
            };
            ids = Some(
                given
                    .iter()
                    .map(|a| parse_id(a))
                    .collect::<Result<Vec<_>, _>>()?,
            );
            i = first + count;
        } else if let Some(policy) = parse_ref_policy(arg).filter(|_| refs.is_none()) {
            refs = Some(policy);
            i += 1;
        } else {
            return Err(Reply::error(crate::cmd::errors::SYNTAX));
        }
    }
    let Some(ids) = ids else {
        return Err(Reply::error(crate::cmd::errors::SYNTAX));
    };
    Ok(Request {
        refs: refs.unwrap_or_default(),
        ids,
    })
}

fn replies(codes: Vec<i64>) -> Reply {
    Reply::Array(codes.into_iter().map(Reply::Integer).collect())
}

/// `XDELEX key [KEEPREF|DELREF|ACKED] IDS numids id ...`
pub fn xdelex(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let key = &argv[1];
    let request = match parse(argv, 2) {
        Ok(r) => r,
        Err(e) => return e,
    };
    match peek_stream(ctx, key) {
        Ok(Some(_)) => {}
        Ok(None) => return replies(vec![MISSING; request.ids.len()]),
        Err(e) => return e,
    }
    let Some(stream) = write_stream(ctx, key, false) else {
        return replies(vec![MISSING; request.ids.len()]);
    };
    let codes: Vec<i64> = request
        .ids
        .iter()
        .map(|id| match stream.delete_with(*id, request.refs) {
            Deletion::Missing => MISSING,
            Deletion::Deleted => DELETED,
            Deletion::Referenced => REFERENCED,
        })
        .collect();
    let deleted = codes.iter().filter(|&&c| c == DELETED).count();
    if deleted > 0 {
        ctx.modified(key);
        ctx.add_changes(deleted as u64 - 1);
    }
    replies(codes)
}

/// `XACKDEL key group [KEEPREF|DELREF|ACKED] IDS numids id ...`
pub fn xackdel(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let (key, group_name) = (&argv[1], &argv[2]);
    let request = match parse(argv, 3) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let all_missing = || replies(vec![MISSING; request.ids.len()]);
    match peek_stream(ctx, key) {
        Ok(Some(s)) if s.groups.contains_key(group_name.as_ref()) => {}
        Ok(_) => return all_missing(),
        Err(e) => return e,
    }
    let Some(stream) = write_stream(ctx, key, false) else {
        return all_missing();
    };
    let mut acked = 0usize;
    let mut codes = Vec::with_capacity(request.ids.len());
    for id in &request.ids {
        let Some(group) = stream.groups.get_mut(group_name.as_ref()) else {
            codes.push(MISSING);
            continue;
        };
        if !group.acknowledge(*id) {
            codes.push(MISSING);
            continue;
        }
        acked += 1;
        codes.push(match stream.delete_with(*id, request.refs) {
            // Acknowledged, and the entry was already gone: nothing keeps it.
            Deletion::Missing | Deletion::Deleted => DELETED,
            Deletion::Referenced => REFERENCED,
        });
    }
    if acked > 0 {
        ctx.modified(key);
        ctx.add_changes(acked as u64 - 1);
    }
    replies(codes)
}
