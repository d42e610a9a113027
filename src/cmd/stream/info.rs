//! XINFO STREAM [FULL [COUNT n]], XINFO GROUPS, XINFO CONSUMERS (Redis 7.0's fields).

use bytes::Bytes;

use super::shared::{entry_reply, parse_count, read_stream};
use crate::cmd::ctx::Ctx;
use crate::cmd::errors;
use crate::resp::Reply;
use crate::store::stream::{ConsumerGroup, Stream, StreamId};

fn bulk(text: &'static str) -> Reply {
    Reply::Bulk(Bytes::from_static(text.as_bytes()))
}

fn id_reply(id: StreamId) -> Reply {
    Reply::Bulk(id.to_bytes())
}

const HELP: &[&str] = &[
    "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
    "HELP",
    "    Print this help.",
];

pub fn xinfo(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let sub = argv[1].to_ascii_uppercase();
    let arity_error = || {
        Reply::error(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try XINFO HELP.",
            String::from_utf8_lossy(&argv[1])
        ))
    };
    // Subcommand arities, as Redis's command table checks them.
    let arity_ok = match sub.as_slice() {
        b"STREAM" => argv.len() >= 3,
        b"GROUPS" => argv.len() == 3,
        b"CONSUMERS" => argv.len() == 4,
        b"HELP" => argv.len() == 2,
        _ => true,
    };
    if !arity_ok {
        return Reply::error(errors::wrong_arity(&format!(
            "xinfo|{}",
            String::from_utf8_lossy(&sub)
        )));
    }
    match sub.as_slice() {
        b"HELP" => Reply::Array(
            HELP.iter()
                .map(|l| Reply::Simple(std::borrow::Cow::Borrowed(l)))
                .collect(),
        ),
        b"STREAM" if argv.len() >= 3 => stream_info(ctx, argv).unwrap_or_else(arity_error),
        b"GROUPS" if argv.len() == 3 => groups_info(ctx, &argv[2]),
        b"CONSUMERS" if argv.len() == 4 => consumers_info(ctx, &argv[2], &argv[3]),
        b"STREAM" | b"GROUPS" | b"CONSUMERS" => arity_error(),
        _ => Reply::error(errors::unknown_subcommand(&argv[1], "xinfo")),
    }
}

fn existing(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<std::sync::Arc<Stream>, Reply> {
    read_stream(ctx, key)?.ok_or_else(|| Reply::error(errors::NO_SUCH_KEY))
}

/// A group's lag as XINFO reports it (null when unknown).
fn lag(stream: &Stream, group: &ConsumerGroup) -> Reply {
    if stream.entries_added == 0 {
        return Reply::Integer(0);
    }
    if let Some(read) = group.entries_read
        && !stream.has_tombstones_after(group.last_delivered_id)
    {
        return Reply::integer(stream.entries_added.saturating_sub(read));
    }
    match stream.entries_before_or_at(group.last_delivered_id) {
        Some(read) => Reply::integer(stream.entries_added.saturating_sub(read)),
        None => Reply::Nil,
    }
}

fn entries_read_reply(group: &ConsumerGroup) -> Reply {
    group.entries_read.map_or(Reply::Nil, Reply::integer)
}

/// `None` for arguments XINFO STREAM does not take (the caller's syntax error).
fn stream_info(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Option<Reply> {
    let mut full = false;
    let mut count = 10usize;
    match argv.len() {
        3 => {}
        4 | 6 if argv[3].eq_ignore_ascii_case(b"FULL") => {
            full = true;
            if argv.len() == 6 {
                if !argv[4].eq_ignore_ascii_case(b"COUNT") {
                    return Some(Reply::error(errors::SYNTAX));
                }
                match parse_count(&argv[5]) {
                    Ok(n) => count = n,
                    Err(e) => return Some(e),
                }
            }
        }
        _ => return None,
    }
    let stream = match existing(ctx, &argv[2]) {
        Ok(s) => s,
        Err(e) => return Some(e),
    };
    // Redis's radix tree has a key per node and, for the few keys of a stream, about one
    // inner node more; its exact shape is not kept here.
    let nodes = stream.node_count();
    let mut fields = vec![
        (bulk("length"), Reply::integer(stream.len())),
        (bulk("radix-tree-keys"), Reply::integer(nodes)),
        (bulk("radix-tree-nodes"), Reply::integer(nodes + 1)),
        (bulk("last-generated-id"), id_reply(stream.last_id)),
        (
            bulk("max-deleted-entry-id"),
            id_reply(stream.max_deleted_entry_id),
        ),
        (bulk("entries-added"), Reply::integer(stream.entries_added)),
        (bulk("recorded-first-entry-id"), id_reply(stream.first_id())),
    ];
    if !full {
        fields.push((bulk("groups"), Reply::integer(stream.groups.len())));
        let end = |e: Option<(StreamId, crate::store::stream::Fields)>| {
            e.map_or(Reply::Nil, |(id, f)| entry_reply(id, f))
        };
        fields.push((bulk("first-entry"), end(stream.first_entry())));
        fields.push((bulk("last-entry"), end(stream.last_entry())));
        return Some(Reply::Map(fields));
    }
    let entries = stream
        .range(StreamId::MIN, StreamId::MAX, false, count)
        .into_iter()
        .map(|(id, f)| entry_reply(id, f))
        .collect();
    fields.push((bulk("entries"), Reply::Array(entries)));
    let groups = stream
        .groups
        .iter()
        .map(|(name, group)| {
            let pel = group
                .pel
                .iter()
                .take(count)
                .map(|(id, p)| {
                    Reply::Array(vec![
                        id_reply(*id),
                        Reply::Bulk(p.consumer.clone()),
                        Reply::integer(p.delivery_time_ms),
                        Reply::integer(p.delivery_count),
                    ])
                })
                .collect();
            let consumers = group
                .consumers
                .iter()
                .map(|(name, c)| {
                    let pending = c
                        .pending
                        .iter()
                        .take(count)
                        .filter_map(|id| {
                            let p = group.pel.get(id)?;
                            Some(Reply::Array(vec![
                                id_reply(*id),
                                Reply::integer(p.delivery_time_ms),
                                Reply::integer(p.delivery_count),
                            ]))
                        })
                        .collect();
                    Reply::Map(vec![
                        (bulk("name"), Reply::Bulk(name.clone())),
                        (bulk("seen-time"), Reply::integer(c.seen_time_ms)),
                        (bulk("pel-count"), Reply::integer(c.pending.len())),
                        (bulk("pending"), Reply::Array(pending)),
                    ])
                })
                .collect();
            Reply::Map(vec![
                (bulk("name"), Reply::Bulk(name.clone())),
                (bulk("last-delivered-id"), id_reply(group.last_delivered_id)),
                (bulk("entries-read"), entries_read_reply(group)),
                (bulk("lag"), lag(&stream, group)),
                (bulk("pel-count"), Reply::integer(group.pel.len())),
                (bulk("pending"), Reply::Array(pel)),
                (bulk("consumers"), Reply::Array(consumers)),
            ])
        })
        .collect();
    fields.push((bulk("groups"), Reply::Array(groups)));
    Some(Reply::Map(fields))
}

fn groups_info(ctx: &mut Ctx<'_>, key: &[u8]) -> Reply {
    let stream = match existing(ctx, key) {
        Ok(s) => s,
        Err(e) => return e,
    };
    Reply::Array(
        stream
            .groups
            .iter()
            .map(|(name, group)| {
                Reply::Map(vec![
                    (bulk("name"), Reply::Bulk(name.clone())),
                    (bulk("consumers"), Reply::integer(group.consumers.len())),
                    (bulk("pending"), Reply::integer(group.pel.len())),
                    (bulk("last-delivered-id"), id_reply(group.last_delivered_id)),
                    (bulk("entries-read"), entries_read_reply(group)),
                    (bulk("lag"), lag(&stream, group)),
                ])
            })
            .collect(),
    )
}

fn consumers_info(ctx: &mut Ctx<'_>, key: &Bytes, group_name: &Bytes) -> Reply {
    let stream = match existing(ctx, key) {
        Ok(s) => s,
        Err(e) => return e,
    };
    let Some(group) = stream.groups.get(group_name) else {
        return Reply::error(format!(
            "NOGROUP No such consumer group '{}' for key name '{}'",
            String::from_utf8_lossy(group_name),
            String::from_utf8_lossy(key)
        ));
    };
    let now_ms = ctx.now_ms;
    Reply::Array(
        group
            .consumers
            .iter()
            .map(|(name, c)| {
                Reply::Map(vec![
                    (bulk("name"), Reply::Bulk(name.clone())),
                    (bulk("pending"), Reply::integer(c.pending.len())),
                    (
                        bulk("idle"),
                        Reply::integer(now_ms.saturating_sub(c.seen_time_ms)),
                    ),
                ])
            })
            .collect(),
    )
}
