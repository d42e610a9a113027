//! XREADGROUP: delivery of new entries to a group's consumers (recorded in the group's
//! pending entries list unless NOACK), and a consumer's own history.
//!
//! Replicas get Redis 7.0's effects: one XCLAIM per delivered entry, or for NOACK the
//! group's new last ID (XGROUP SETID) after an XGROUP CREATECONSUMER when the read created
//! the consumer; several of them in MULTI/EXEC.

use crate::config::keyspace_events as events;
use bytes::Bytes;

use super::id::parse_id;
use super::pel::{propagate_all, setid_effect, xclaim_effect};
use super::read_args;
use super::shared::{entry_reply, peek_stream, streams_reply, write_stream};
use crate::cmd::ctx::Ctx;
use crate::resp::Reply;
use crate::server::blocking::Resume;
use crate::store::stream::StreamId;

struct Request<'a> {
    group: &'a Bytes,
    consumer: &'a Bytes,
    count: usize,
    block_ms: Option<u64>,
    noack: bool,
    keys: &'a [Bytes],
    ids: &'a [Bytes],
}

fn parse(argv: &[Bytes]) -> Result<Request<'_>, Reply> {
    let args = read_args::parse(argv, true)?;
    let Some((group, consumer)) = args.group else {
        return Err(Reply::error("ERR Missing GROUP option for XREADGROUP"));
    };
    Ok(Request {
        group,
        consumer,
        count: args.count,
        block_ms: args.block_ms,
        noack: args.noack,
        keys: args.keys,
        ids: args.ids,
    })
}

/// What one stream of the request asks for.
#[derive(Clone, Copy)]
enum Wanted {
    /// `>`: entries never delivered to the group.
    New,
    /// The consumer's pending entries after this ID.
    History(StreamId),
}

fn no_group(key: &[u8], group: &[u8]) -> Reply {
    Reply::error(format!(
        "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
        String::from_utf8_lossy(key),
        String::from_utf8_lossy(group)
    ))
}

/// Checks every stream and group and reads what is to be read; `Ok(None)` when nothing is.
fn run(ctx: &mut Ctx<'_>, request: &Request<'_>) -> Result<Option<Reply>, Reply> {
    let mut wanted = Vec::with_capacity(request.keys.len());
    for (key, arg) in request.keys.iter().zip(request.ids) {
        match peek_stream(ctx, key)? {
            Some(s) if s.groups.contains_key(request.group) => {}
            _ => return Err(no_group(key, request.group)),
        }
        wanted.push(match arg.as_ref() {
            b"$" => {
                return Err(Reply::error(
                    "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.",
                ));
            }
            b">" => Wanted::New,
            other => Wanted::History(parse_id(other)?),
        });
    }
    let now_ms = ctx.now_ms;
    let mut found = Vec::new();
    let mut effects = Vec::new();
    // Whether the request created its consumer in the stream at hand (Redis raises an event).
    let mut consumer_created = false;
    for (key, want) in request.keys.iter().zip(wanted) {
        let serve = match want {
            Wanted::History(_) => true,
            Wanted::New => peek_stream(ctx, key)?.is_some_and(|s| {
                s.groups.get(request.group).is_some_and(|g| {
                    s.last_entry()
                        .is_some_and(|(id, _)| id > g.last_delivered_id)
                })
            }),
        };
        if !serve {
            continue;
        }
        let Some(stream) = write_stream(ctx, key, false) else {
            continue;
        };
        let Some(group) = stream.groups.get_mut(request.group) else {
            continue;
        };
        let (consumer, created) = group.consumer_mut(request.consumer, now_ms);
        consumer.seen_time_ms = now_ms;
        consumer_created |= created;
        if created && request.noack {
            effects.push(vec![
                Bytes::from_static(b"XGROUP"),
                Bytes::from_static(b"CREATECONSUMER"),
                key.clone(),
                request.group.clone(),
                request.consumer.clone(),
            ]);
        }
        let mut replies = Vec::new();
        match want {
            Wanted::History(after) => {
                let Some(start) = after.successor() else {
                    found.push((key.clone(), Reply::Array(replies)));
                    continue;
                };
                let ids: Vec<StreamId> = group
                    .consumers
                    .get(request.consumer)
                    .map(|c| {
                        c.pending
                            .range(start..)
                            .take(request.count)
                            .copied()
                            .collect()
                    })
                    .unwrap_or_default();
                for id in ids {
                    match stream.get(id) {
                        Some(fields) => {
                            if let Some(p) = stream
                                .groups
                                .get_mut(request.group)
                                .and_then(|g| g.pel.get_mut(&id))
                            {
                                p.delivery_time_ms = now_ms;
                                p.delivery_count += 1;
                            }
                            replies.push(entry_reply(id, fields));
                        }
                        // Deleted since it was delivered: its ID with no fields.
                        None => replies.push(Reply::Array(vec![
                            Reply::Bulk(id.to_bytes()),
                            Reply::NilArray,
                        ])),
                    }
                }
            }
            Wanted::New => {
                let last = group.last_delivered_id;
                let entries = stream.after(last, request.count);
                for (id, fields) in entries {
                    stream.advance_group(request.group, id);
                    replies.push(entry_reply(id, fields));
                    if request.noack {
                        continue;
                    }
                    let Some(group) = stream.groups.get_mut(request.group) else {
                        break;
                    };
                    let entry = group.assign(id, request.consumer, now_ms, 1);
                    effects.push(xclaim_effect(
                        key,
                        request.group,
                        id,
                        &entry,
                        group.last_delivered_id,
                    ));
                }
                if request.noack
                    && let Some(effect) = setid_effect(key, request.group, stream)
                {
                    effects.push(effect);
                }
            }
        }
        ctx.modified(key);
        if std::mem::take(&mut consumer_created) {
            ctx.notify(events::STREAM, "xgroup-createconsumer", key);
        }
        found.push((key.clone(), Reply::Array(replies)));
    }
    propagate_all(ctx, effects);
    if found.is_empty() {
        return Ok(None);
    }
    Ok(Some(streams_reply(ctx.session.protocol, found)))
}

/// `XREADGROUP GROUP group consumer [COUNT n] [BLOCK ms] [NOACK] STREAMS key ... id ...`
pub fn xreadgroup(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let request = match parse(argv) {
        Ok(r) => r,
        Err(e) => return e,
    };
    if request.block_ms.is_some() && ctx.state.in_script() {
        return Reply::error(
            "ERR xreadgroup command is not allowed with BLOCK option from scripts",
        );
    }
    match run(ctx, &request) {
        Ok(Some(reply)) => return reply,
        Ok(None) => {}
        Err(e) => return e,
    }
    let Some(block_ms) = request.block_ms else {
        return Reply::NilArray;
    };
    let deadline = (block_ms > 0).then(|| ctx.now_ms.saturating_add(block_ms));
    ctx.block(
        request.keys.to_vec(),
        deadline,
        argv,
        Resume::Xreadgroup,
        Reply::NilArray,
    )
}

/// Serves a blocked XREADGROUP once one of its streams got an entry (or lost its group).
pub(crate) fn serve_xreadgroup(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Option<Reply> {
    let request = parse(argv).ok()?;
    for key in request.keys {
        let group_exists = matches!(
            peek_stream(ctx, key),
            Ok(Some(s)) if s.groups.contains_key(request.group)
        );
        if !group_exists {
            return Some(Reply::error(
                "NOGROUP the consumer group this client was blocked on no longer exists",
            ));
        }
    }
    match run(ctx, &request) {
        Ok(found) => found,
        Err(e) => Some(e),
    }
}
