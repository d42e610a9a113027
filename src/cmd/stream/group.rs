//! XGROUP CREATE SETID DESTROY CREATECONSUMER DELCONSUMER HELP (Redis 7.0).

use crate::config::keyspace_events as events;
use bytes::Bytes;

use super::id::parse_id;
use super::shared::{peek_stream, write_stream};
use crate::cmd::ctx::Ctx;
use crate::cmd::errors;
use crate::resp::Reply;
use crate::store::stream::{ConsumerGroup, StreamId};
use crate::util::num::parse_i64;

pub fn no_group(key: &[u8], group: &[u8]) -> Reply {
    Reply::error(format!(
        "NOGROUP No such consumer group '{}' for key name '{}'",
        String::from_utf8_lossy(group),
        String::from_utf8_lossy(key)
    ))
}

const HELP: &[&str] = &[
    "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
    "HELP",
    "    Print this help.",
];

pub fn xgroup(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let sub = argv[1].to_ascii_lowercase();
    // Subcommand arities, as Redis's command table checks them.
    let arity_ok = match sub.as_slice() {
        b"create" | b"setid" => argv.len() >= 5,
        b"destroy" => argv.len() == 4,
        b"createconsumer" | b"delconsumer" => argv.len() == 5,
        b"help" => argv.len() == 2,
        _ => return Reply::error(errors::unknown_subcommand(&argv[1], "xgroup")),
    };
    if !arity_ok {
        return Reply::error(errors::wrong_arity(&format!(
            "xgroup|{}",
            String::from_utf8_lossy(&sub)
        )));
    }
    if sub == b"help" {
        return Reply::Array(
            HELP.iter()
                .map(|l| Reply::Simple(std::borrow::Cow::Borrowed(l)))
                .collect(),
        );
    }
    let syntax = || {
        Reply::error(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try XGROUP HELP.",
            String::from_utf8_lossy(&argv[1])
        ))
    };
    let (key, group) = (&argv[2], &argv[3]);
    let mut mkstream = false;
    let mut entries_read: Option<u64> = None;
    let mut i = 5;
    while i < argv.len() {
        let create = sub == b"create";
        if create && argv[i].eq_ignore_ascii_case(b"MKSTREAM") {
            mkstream = true;
            i += 1;
        } else if (create || sub == b"setid")
            && argv[i].eq_ignore_ascii_case(b"ENTRIESREAD")
            && i + 1 < argv.len()
        {
            match parse_i64(&argv[i + 1]) {
                Some(-1) => entries_read = None,
                Some(n) if n >= 0 => entries_read = u64::try_from(n).ok(),
                Some(_) => return Reply::error("ERR value for ENTRIESREAD must be positive or -1"),
                None => return Reply::error(errors::NOT_INTEGER),
            }
            i += 2;
        } else {
            return syntax();
        }
    }
    let stream = match peek_stream(ctx, key) {
        Ok(s) => s,
        Err(e) => return e,
    };
    if !mkstream {
        let Some(stream) = &stream else {
            return Reply::error(
                "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
            );
        };
        if sub != b"create" && sub != b"destroy" && !stream.groups.contains_key(group) {
            return no_group(key, group);
        }
    }
    let last_id = stream.as_ref().map_or(StreamId::MIN, |s| s.last_id);
    let found = stream.as_ref().and_then(|s| s.groups.get(group));
    let exists = found.is_some();
    // CREATECONSUMER and DELCONSUMER name a consumer in argv[4].
    let consumer_known = argv
        .get(4)
        .is_some_and(|c| found.is_some_and(|g| g.consumers.contains_key(c)));
    drop(stream);
    match sub.as_slice() {
        b"create" => {
            if argv.len() > 8 {
                return syntax();
            }
            let id = if argv[4].as_ref() == b"$" {
                last_id
            } else {
                match parse_id(&argv[4]) {
                    Ok(id) => id,
                    Err(e) => return e,
                }
            };
            if exists {
                return Reply::error("BUSYGROUP Consumer Group name already exists");
            }
            let Some(stream) = write_stream(ctx, key, true) else {
                return Reply::error(errors::WRONGTYPE);
            };
            stream.groups.insert(
                Bytes::copy_from_slice(group),
                ConsumerGroup {
                    last_delivered_id: id,
                    entries_read,
                    ..ConsumerGroup::default()
                },
            );
            ctx.modified(key);
            ctx.notify(events::STREAM, "xgroup-create", key);
            Reply::ok()
        }
        b"setid" => {
            if argv.len() != 5 && argv.len() != 7 {
                return syntax();
            }
            // SETID takes `-` and `+` too (Redis parses it leniently, unlike CREATE).
            let id = match argv[4].as_ref() {
                b"$" => last_id,
                b"-" => StreamId::MIN,
                b"+" => StreamId::MAX,
                other => match parse_id(other) {
                    Ok(id) => id,
                    Err(e) => return e,
                },
            };
            if let Some(g) = write_stream(ctx, key, false).and_then(|s| s.groups.get_mut(group)) {
                g.last_delivered_id = id;
                g.entries_read = entries_read;
            }
            ctx.modified(key);
            ctx.notify(events::STREAM, "xgroup-setid", key);
            Reply::ok()
        }
        b"destroy" => {
            if !exists {
                return Reply::Integer(0);
            }
            if let Some(s) = write_stream(ctx, key, false) {
                s.groups.remove(group);
            }
            ctx.modified(key);
            ctx.notify(events::STREAM, "xgroup-destroy", key);
            // Clients blocked in XREADGROUP on this group get their error.
            ctx.key_ready(key);
            Reply::Integer(1)
        }
        b"createconsumer" => {
            let consumer = &argv[4];
            if consumer_known {
                return Reply::Integer(0);
            }
            let now_ms = ctx.now_ms;
            if let Some(g) = write_stream(ctx, key, false).and_then(|s| s.groups.get_mut(group)) {
                g.consumer_mut(consumer, now_ms);
            }
            ctx.modified(key);
            ctx.notify(events::STREAM, "xgroup-createconsumer", key);
            Reply::Integer(1)
        }
        b"delconsumer" => {
            let consumer = &argv[4];
            if !consumer_known {
                return Reply::Integer(0);
            }
            let pending = write_stream(ctx, key, false)
                .and_then(|s| s.groups.get_mut(group))
                .and_then(|g| g.delete_consumer(consumer))
                .unwrap_or(0);
            ctx.modified(key);
            ctx.notify(events::STREAM, "xgroup-delconsumer", key);
            Reply::integer(pending)
        }
        _ => syntax(),
    }
}
