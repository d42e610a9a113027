//! XACK XPENDING XCLAIM XAUTOCLAIM: the pending entries lists of consumer groups.
//!
//! Replicas get every ownership change as Redis 7.0 sends it, an idempotent
//! `XCLAIM key group consumer 0 id TIME ms RETRYCOUNT n FORCE JUSTID LASTID id`.

use crate::config::keyspace_events as events;
use bytes::Bytes;

use super::id::{Bound, parse_id, parse_range_bound};
use super::shared::{entry_reply, peek_stream, write_stream};
use crate::cmd::ctx::Ctx;
use crate::cmd::errors;
use crate::resp::Reply;
use crate::store::stream::{PendingEntry, Stream, StreamId};
use crate::util::num::parse_i64;

fn no_key_or_group(key: &[u8], group: &[u8]) -> Reply {
    Reply::error(format!(
        "NOGROUP No such key '{}' or consumer group '{}'",
        String::from_utf8_lossy(key),
        String::from_utf8_lossy(group)
    ))
}

/// The effect that gives pending entry `id` to its owner on a replica.
pub fn xclaim_effect(
    key: &Bytes,
    group: &Bytes,
    id: StreamId,
    pending: &PendingEntry,
    group_last_id: StreamId,
) -> Vec<Bytes> {
    vec![
        Bytes::from_static(b"XCLAIM"),
        key.clone(),
        group.clone(),
        pending.consumer.clone(),
        Bytes::from_static(b"0"),
        id.to_bytes(),
        Bytes::from_static(b"TIME"),
        Bytes::from(pending.delivery_time_ms.to_string()),
        Bytes::from_static(b"RETRYCOUNT"),
        Bytes::from(pending.delivery_count.to_string()),
        Bytes::from_static(b"FORCE"),
        Bytes::from_static(b"JUSTID"),
        Bytes::from_static(b"LASTID"),
        group_last_id.to_bytes(),
    ]
}

/// The effect that sets a group's last ID and read counter on a replica.
pub fn setid_effect(key: &Bytes, group_name: &Bytes, stream: &Stream) -> Option<Vec<Bytes>> {
    let group = stream.groups.get(group_name)?;
    let read = group
        .entries_read
        .map_or_else(|| "-1".to_string(), |n| n.to_string());
    Some(vec![
        Bytes::from_static(b"XGROUP"),
        Bytes::from_static(b"SETID"),
        key.clone(),
        group_name.clone(),
        group.last_delivered_id.to_bytes(),
        Bytes::from_static(b"ENTRIESREAD"),
        Bytes::from(read),
    ])
}

/// Propagates `effects` as one unit: in MULTI/EXEC when there are several, as Redis wraps
/// what one command propagates.
pub fn propagate_all(ctx: &mut Ctx<'_>, effects: Vec<Vec<Bytes>>) {
    ctx.suppress_own = true;
    if effects.len() > 1 && !ctx.nested {
        ctx.also_propagate(vec![Bytes::from_static(b"MULTI")]);
        effects.into_iter().for_each(|e| ctx.also_propagate(e));
        ctx.also_propagate(vec![Bytes::from_static(b"EXEC")]);
    } else {
        effects.into_iter().for_each(|e| ctx.also_propagate(e));
    }
}

/// `XACK key group id ...`: how many entries were pending.
pub fn xack(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let (key, group) = (&argv[1], &argv[2]);
    let stream = match peek_stream(ctx, key) {
        Ok(Some(s)) if s.groups.contains_key(group) => s,
        Ok(_) => return Reply::Integer(0),
        Err(e) => return e,
    };
    let mut ids = Vec::with_capacity(argv.len() - 3);
    for arg in &argv[3..] {
        match parse_id(arg) {
            Ok(id) => ids.push(id),
            Err(e) => return e,
        }
    }
    let pending = stream.groups.get(group).map_or(0, |g| {
        ids.iter().filter(|id| g.pel.contains_key(id)).count()
    });
    drop(stream);
    if pending == 0 {
        return Reply::Integer(0);
    }
    let mut acknowledged = 0;
    if let Some(g) = write_stream(ctx, key, false).and_then(|s| s.groups.get_mut(group)) {
        acknowledged = ids.iter().filter(|id| g.acknowledge(**id)).count();
    }
    ctx.modified(key);
    ctx.add_changes((acknowledged as u64).saturating_sub(1));
    Reply::integer(acknowledged)
}

/// `XPENDING key group [[IDLE min-idle] start end count [consumer]]`.
pub fn xpending(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let (key, group_name) = (&argv[1], &argv[2]);
    let summary = argv.len() == 3;
    if !summary && !(6..=9).contains(&argv.len()) {
        return Reply::error(errors::SYNTAX);
    }
    let mut min_idle = 0u64;
    let mut range = None;
    let mut consumer_name = None;
    if !summary {
        let mut start_at = 3;
        if argv[3].eq_ignore_ascii_case(b"IDLE") {
            match parse_i64(&argv[4]) {
                Some(n) => min_idle = u64::try_from(n).unwrap_or(0),
                None => return Reply::error(errors::NOT_INTEGER),
            }
            if argv.len() < 8 {
                return Reply::error(errors::SYNTAX);
            }
            start_at += 2;
        }
        let count = match argv.get(start_at + 2).and_then(|a| parse_i64(a)) {
            Some(n) => usize::try_from(n.max(0)).unwrap_or(usize::MAX),
            None => return Reply::error(errors::NOT_INTEGER),
        };
        let start = match parse_range_bound(&argv[start_at], Bound::Start) {
            Ok(id) => id,
            Err(e) => return e,
        };
        let end = match parse_range_bound(&argv[start_at + 1], Bound::End) {
            Ok(id) => id,
            Err(e) => return e,
        };
        range = Some((start, end, count));
        consumer_name = argv.get(start_at + 3).cloned();
    }
    let stream = match super::shared::read_stream(ctx, key) {
        Ok(Some(s)) => s,
        Ok(None) => return no_key_or_group(key, group_name),
        Err(e) => return e,
    };
    let Some(group) = stream.groups.get(group_name) else {
        return no_key_or_group(key, group_name);
    };
    let Some((start, end, count)) = range else {
        let (Some((first, _)), Some((last, _))) =
            (group.pel.iter().next(), group.pel.iter().next_back())
        else {
            return Reply::Array(vec![
                Reply::Integer(0),
                Reply::Nil,
                Reply::Nil,
                Reply::NilArray,
            ]);
        };
        let owners = group
            .consumers
            .iter()
            .filter(|(_, c)| !c.pending.is_empty())
            .map(|(name, c)| {
                Reply::Array(vec![
                    Reply::Bulk(name.clone()),
                    Reply::Bulk(Bytes::from(c.pending.len().to_string())),
                ])
            })
            .collect();
        return Reply::Array(vec![
            Reply::integer(group.pel.len()),
            Reply::Bulk(first.to_bytes()),
            Reply::Bulk(last.to_bytes()),
            Reply::Array(owners),
        ]);
    };
    let now_ms = ctx.now_ms;
    let ids: Vec<StreamId> = match &consumer_name {
        Some(name) => match group.consumers.get(name) {
            Some(c) => c.pending.range(start..=end.max(start)).copied().collect(),
            None => return Reply::Array(Vec::new()),
        },
        None => group
            .pel
            .range(start..=end.max(start))
            .map(|(id, _)| *id)
            .collect(),
    };
    let mut out = Vec::new();
    for id in ids {
        if out.len() >= count || id > end {
            break;
        }
        let Some(p) = group.pel.get(&id) else {
            continue;
        };
        let idle = now_ms.saturating_sub(p.delivery_time_ms);
        if min_idle > 0 && idle < min_idle {
            continue;
        }
        out.push(Reply::Array(vec![
            Reply::Bulk(id.to_bytes()),
            Reply::Bulk(p.consumer.clone()),
            Reply::integer(idle),
            Reply::integer(p.delivery_count),
        ]));
    }
    Reply::Array(out)
}

/// `XCLAIM key group consumer min-idle-time id ... [IDLE ms] [TIME ms] [RETRYCOUNT n] [FORCE]
/// [JUSTID] [LASTID id]`.
pub fn xclaim(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let (key, group_name, consumer) = (&argv[1], &argv[2], &argv[3]);
    match peek_stream(ctx, key) {
        Ok(Some(s)) if s.groups.contains_key(group_name) => {}
        Ok(_) => return no_key_or_group(key, group_name),
        Err(e) => return e,
    }
    let Some(min_idle) = parse_i64(&argv[4]) else {
        return Reply::error("ERR Invalid min-idle-time argument for XCLAIM");
    };
    let min_idle = u64::try_from(min_idle).unwrap_or(0);
    let mut ids = Vec::new();
    let mut j = 5;
    while j < argv.len() {
        match parse_id(&argv[j]) {
            Ok(id) => ids.push(id),
            Err(_) => break,
        }
        j += 1;
    }
    let now_ms = ctx.now_ms;
    let (mut force, mut justid) = (false, false);
    let mut delivery_time: Option<i64> = None;
    let mut retry_count: Option<u64> = None;
    let mut last_id = StreamId::MIN;
    while j < argv.len() {
        let more = j + 1 < argv.len();
        let opt = argv[j].to_ascii_uppercase();
        match opt.as_slice() {
            b"FORCE" => force = true,
            b"JUSTID" => justid = true,
            b"IDLE" | b"TIME" | b"RETRYCOUNT" if more => {
                j += 1;
                let Some(n) = parse_i64(&argv[j]) else {
                    let name = String::from_utf8_lossy(&opt).into_owned();
                    return Reply::error(format!("ERR Invalid {name} option argument for XCLAIM"));
                };
                match opt.as_slice() {
                    b"IDLE" => delivery_time = Some(i64::try_from(now_ms).unwrap_or(i64::MAX) - n),
                    b"TIME" => delivery_time = Some(n),
                    _ => retry_count = u64::try_from(n).ok(),
                }
            }
            b"LASTID" if more => {
                j += 1;
                match parse_id(&argv[j]) {
                    Ok(id) => last_id = id,
                    Err(e) => return e,
                }
            }
            _ => {
                return Reply::error(format!(
                    "ERR Unrecognized XCLAIM option '{}'",
                    String::from_utf8_lossy(&argv[j])
                ));
            }
        }
        j += 1;
    }
    // A time in the future becomes now, as in Redis, except from our master: its XCLAIM
    // carries the time it delivered at, read from its clock, which may be a millisecond
    // ahead of ours; taking it as sent keeps the PEL identical to the master's.
    let from_master = ctx.session.source.from_master();
    let delivery_time_ms = delivery_time
        .and_then(|t| u64::try_from(t).ok())
        .filter(|t| *t <= now_ms || from_master)
        .unwrap_or(now_ms);
    let Some(stream) = write_stream(ctx, key, false) else {
        return no_key_or_group(key, group_name);
    };
    let mut effects = Vec::new();
    // Redis creates the consumer at its first claim, and says so.
    let mut consumer_created = false;
    let mut propagate_last_id = false;
    if let Some(g) = stream.groups.get_mut(group_name)
        && last_id > g.last_delivered_id
    {
        g.last_delivered_id = last_id;
        propagate_last_id = true;
    }
    let mut replies = Vec::new();
    let mut changed = 0u64;
    for id in ids {
        let fields = stream.get(id);
        let exists = fields.is_some();
        let Some(group) = stream.groups.get_mut(group_name) else {
            break;
        };
        let group_last = group.last_delivered_id;
        let current = group.pel.get(&id).cloned();
        if !exists {
            // An entry deleted from the stream leaves the PEL when claimed.
            if let Some(p) = current {
                effects.push(xclaim_effect(key, group_name, id, &p, group_last));
                group.acknowledge(id);
                propagate_last_id = false;
                changed += 1;
            }
            continue;
        }
        let current = match current {
            Some(p) => Some(p),
            // Redis creates the entry as delivered once, now, to nobody yet.
            None if force => Some(PendingEntry {
                delivery_time_ms: now_ms,
                delivery_count: 1,
                consumer: Bytes::new(),
            }),
            None => None,
        };
        let Some(current) = current else {
            continue;
        };
        let owned = !current.consumer.is_empty();
        if owned && min_idle > 0 && now_ms.saturating_sub(current.delivery_time_ms) < min_idle {
            continue;
        }
        consumer_created |= group.consumer_mut(consumer, now_ms).1;
        let count = match retry_count {
            Some(n) => n,
            None if justid => current.delivery_count,
            None => current.delivery_count + 1,
        };
        let entry = group.assign(id, consumer, delivery_time_ms, count);
        effects.push(xclaim_effect(key, group_name, id, &entry, group_last));
        propagate_last_id = false;
        changed += 1;
        replies.push(if justid {
            Reply::Bulk(id.to_bytes())
        } else {
            match fields {
                Some(f) => entry_reply(id, f),
                None => Reply::Nil,
            }
        });
    }
    if propagate_last_id && let Some(effect) = setid_effect(key, group_name, stream) {
        effects.push(effect);
        changed += 1;
    }
    if changed > 0 {
        ctx.modified(key);
        ctx.add_changes(changed - 1);
    }
    if consumer_created {
        ctx.notify(events::STREAM, "xgroup-createconsumer", key);
    }
    propagate_all(ctx, effects);
    Reply::Array(replies)
}

/// `XAUTOCLAIM key group consumer min-idle-time start [COUNT n] [JUSTID]`.
pub fn xautoclaim(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let (key, group_name, consumer) = (&argv[1], &argv[2], &argv[3]);
    let Some(min_idle) = parse_i64(&argv[4]) else {
        return Reply::error("ERR Invalid min-idle-time argument for XAUTOCLAIM");
    };
    let min_idle = u64::try_from(min_idle).unwrap_or(0);
    let start = match parse_range_bound(&argv[5], Bound::Start) {
        Ok(id) => id,
        Err(e) => return e,
    };
    let mut count = 100usize;
    let mut justid = false;
    let mut j = 6;
    while j < argv.len() {
        if argv[j].eq_ignore_ascii_case(b"COUNT") && j + 1 < argv.len() {
            // Redis caps COUNT so that COUNT * 10 attempts cannot overflow.
            const COUNT_MAX: i64 = i64::MAX / 16;
            match parse_i64(&argv[j + 1]) {
                Some(n) if (1..=COUNT_MAX).contains(&n) => {
                    count = usize::try_from(n).unwrap_or(usize::MAX);
                }
                _ => return Reply::error("ERR COUNT must be > 0"),
            }
            j += 2;
        } else if argv[j].eq_ignore_ascii_case(b"JUSTID") {
            justid = true;
            j += 1;
        } else {
            return Reply::error(errors::SYNTAX);
        }
    }
    match peek_stream(ctx, key) {
        Ok(Some(s)) if s.groups.contains_key(group_name) => {}
        Ok(_) => return no_key_or_group(key, group_name),
        Err(e) => return e,
    }
    let now_ms = ctx.now_ms;
    let Some(stream) = write_stream(ctx, key, false) else {
        return no_key_or_group(key, group_name);
    };
    let mut attempts = count.saturating_mul(10);
    let mut claimed = Vec::new();
    let mut deleted = Vec::new();
    let mut effects = Vec::new();
    // Redis creates the consumer at its first claim, and says so.
    let mut consumer_created = false;
    let candidates: Vec<StreamId> = stream
        .groups
        .get(group_name)
        .map(|g| g.pel.range(start..).map(|(id, _)| *id).collect())
        .unwrap_or_default();
    let mut next = StreamId::MIN;
    let mut iter = candidates.into_iter();
    while attempts > 0 && count > 0 {
        let Some(id) = iter.next() else {
            break;
        };
        attempts -= 1;
        let fields = stream.get(id);
        let Some(group) = stream.groups.get_mut(group_name) else {
            break;
        };
        let group_last = group.last_delivered_id;
        let Some(current) = group.pel.get(&id).cloned() else {
            continue;
        };
        let Some(fields) = fields else {
            effects.push(xclaim_effect(key, group_name, id, &current, group_last));
            group.acknowledge(id);
            deleted.push(Reply::Bulk(id.to_bytes()));
            count -= 1;
            continue;
        };
        if min_idle > 0 && now_ms.saturating_sub(current.delivery_time_ms) < min_idle {
            continue;
        }
        consumer_created |= group.consumer_mut(consumer, now_ms).1;
        let delivery_count = if justid {
            current.delivery_count
        } else {
            current.delivery_count + 1
        };
        let entry = group.assign(id, consumer, now_ms, delivery_count);
        effects.push(xclaim_effect(key, group_name, id, &entry, group_last));
        claimed.push(if justid {
            Reply::Bulk(id.to_bytes())
        } else {
            entry_reply(id, fields)
        });
        count -= 1;
    }
    if let Some(id) = iter.next() {
        next = id;
    }
    let changed = effects.len() as u64;
    if changed > 0 {
        ctx.modified(key);
        ctx.add_changes(changed - 1);
    }
    if consumer_created {
        ctx.notify(events::STREAM, "xgroup-createconsumer", key);
    }
    propagate_all(ctx, effects);
    Reply::Array(vec![
        Reply::Bulk(next.to_bytes()),
        Reply::Array(claimed),
        Reply::Array(deleted),
    ])
}
