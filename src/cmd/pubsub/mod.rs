//! SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE PUBLISH, the sharded SSUBSCRIBE
//! SUNSUBSCRIBE SPUBLISH (outside a cluster one shard: their own namespace, messages and
//! count, as in Redis 7.0), and PUBSUB.

use bytes::Bytes;

use crate::cmd::flags::*;
use crate::cmd::{CommandSpec, Ctx, errors};
use crate::command;
use crate::resp::Reply;
use crate::server::pubsub::{Kind, PubSub};
use crate::server::session::Session;
use crate::util::glob;

pub const COMMANDS: &[CommandSpec] = &[
    command!(
        "subscribe",
        -2,
        PUBSUB | NOSCRIPT | LOADING | STALE,
        (0, 0, 0),
        "pubsub",
        subscribe
    ),
    command!(
        "unsubscribe",
        -1,
        PUBSUB | NOSCRIPT | LOADING | STALE,
        (0, 0, 0),
        "pubsub",
        unsubscribe
    ),
    command!(
        "psubscribe",
        -2,
        PUBSUB | NOSCRIPT | LOADING | STALE,
        (0, 0, 0),
        "pubsub",
        psubscribe
    ),
    command!(
        "punsubscribe",
        -1,
        PUBSUB | NOSCRIPT | LOADING | STALE,
        (0, 0, 0),
        "pubsub",
        punsubscribe
    ),
    command!(
        "publish",
        3,
        PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE,
        (0, 0, 0),
        "pubsub",
        publish
    ),
    command!(
        "ssubscribe",
        -2,
        PUBSUB | NOSCRIPT | LOADING | STALE,
        (1, -1, 1),
        "pubsub",
        ssubscribe
    ),
    command!(
        "sunsubscribe",
        -1,
        PUBSUB | NOSCRIPT | LOADING | STALE,
        (1, -1, 1),
        "pubsub",
        sunsubscribe
    ),
    command!(
        "spublish",
        3,
        PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE,
        (1, 1, 1),
        "pubsub",
        spublish
    ),
    command!(
        "pubsub",
        -2,
        PUBSUB | LOADING | STALE,
        (0, 0, 0),
        "pubsub",
        pubsub
    ),
];

fn push(kind: &'static str, name: Option<Bytes>, count: usize) -> Reply {
    Reply::Push(vec![
        Reply::bulk(Bytes::from_static(kind.as_bytes())),
        name.map_or(Reply::Nil, Reply::Bulk),
        Reply::integer(count),
    ])
}

/// (P)SUBSCRIBE and (P)UNSUBSCRIBE answer with one message per channel.
fn emit_all(_ctx: &mut Ctx<'_>, mut messages: Vec<Reply>) -> Reply {
    if messages.len() == 1 {
        return messages.pop().unwrap_or(Reply::NilArray);
    }
    Reply::Sequence(messages)
}

/// The reply names of a kind's (un)subscriptions, and the count they carry.
fn names(kind: Kind) -> (&'static str, &'static str) {
    match kind {
        Kind::Channel => ("subscribe", "unsubscribe"),
        Kind::Pattern => ("psubscribe", "punsubscribe"),
        Kind::Shard => ("ssubscribe", "sunsubscribe"),
    }
}

/// Shard subscriptions are counted apart from channels and patterns.
fn count(session: &Session, kind: Kind) -> usize {
    match kind {
        Kind::Shard => session.shard_channels.len(),
        Kind::Channel | Kind::Pattern => session.subscription_count(),
    }
}

fn subscribe_to(ctx: &mut Ctx<'_>, argv: &[Bytes], kind: Kind) -> Reply {
    let (reply_name, _) = names(kind);
    let mut messages = Vec::new();
    for name in &argv[1..] {
        if ctx.session.subscriptions_mut(kind).insert(name.clone()) {
            ctx.state
                .pubsub
                .subscribe(kind, ctx.session.id, name.clone());
        }
        messages.push(push(
            reply_name,
            Some(name.clone()),
            count(ctx.session, kind),
        ));
    }
    emit_all(ctx, messages)
}

/// Without arguments, leaves every subscription of that kind (one reply each).
fn unsubscribe_from(ctx: &mut Ctx<'_>, argv: &[Bytes], kind: Kind) -> Reply {
    let (_, reply_name) = names(kind);
    let names: Vec<Bytes> = if argv.len() > 1 {
        argv[1..].to_vec()
    } else {
        ctx.session
            .subscriptions_mut(kind)
            .iter()
            .cloned()
            .collect()
    };
    if names.is_empty() {
        return push(reply_name, None, count(ctx.session, kind));
    }
    let mut messages = Vec::new();
    for name in names {
        if ctx.session.subscriptions_mut(kind).remove(&name) {
            ctx.state.pubsub.unsubscribe(kind, ctx.session.id, &name);
        }
        messages.push(push(reply_name, Some(name), count(ctx.session, kind)));
    }
    emit_all(ctx, messages)
}

fn subscribe(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    subscribe_to(ctx, argv, Kind::Channel)
}

fn psubscribe(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    subscribe_to(ctx, argv, Kind::Pattern)
}

/// SSUBSCRIBE is refused inside a transaction, as Redis refuses it to clients that may not
/// block (SUBSCRIBE is let through there).
fn ssubscribe(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    if ctx.nested {
        return Reply::error("ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client");
    }
    subscribe_to(ctx, argv, Kind::Shard)
}

fn unsubscribe(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    unsubscribe_from(ctx, argv, Kind::Channel)
}

fn punsubscribe(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    unsubscribe_from(ctx, argv, Kind::Pattern)
}

fn sunsubscribe(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    unsubscribe_from(ctx, argv, Kind::Shard)
}

/// Drops every subscription of the session (RESET, disconnect) without replying.
pub fn unsubscribe_everything(ctx: &mut Ctx<'_>) {
    forget_subscriptions(&mut ctx.state.pubsub, ctx.session);
}

/// Drops every subscription of `session` from the server's tables and the session's.
pub fn forget_subscriptions(pubsub: &mut PubSub, session: &mut Session) {
    for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
        for name in std::mem::take(session.subscriptions_mut(kind)) {
            pubsub.unsubscribe(kind, session.id, &name);
        }
    }
}

fn publish(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    publish_as(ctx, argv, Kind::Channel)
}

fn spublish(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    publish_as(ctx, argv, Kind::Shard)
}

fn publish_as(ctx: &mut Ctx<'_>, argv: &[Bytes], kind: Kind) -> Reply {
    let (receivers, mut own) = ctx
        .state
        .publish(kind, &argv[1], &argv[2], Some(ctx.session.id));
    // PUBLISH reaches replicas so their subscribers get the message too. A master with
    // none attached whose history since its last ID shift is still empty (just restarted,
    // or just promoted) does not start that history with a message nobody can receive:
    // Sentinel publishes hellos to every node, and one logged hello would make a returning
    // old master's history differ from the new master's, forcing a full sync where a
    // PSYNC could continue (pub/sub delivery is at most once anyway).
    let repl = &ctx.state.repl;
    let unheard =
        repl.master.is_none() && repl.replicas.is_empty() && repl.history_empty_since_shift();
    if !unheard {
        ctx.also_propagate(argv.to_vec());
    }
    if own.is_empty() {
        return Reply::integer(receivers);
    }
    own.push(Reply::integer(receivers));
    Reply::Sequence(own)
}

fn pubsub(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let sub = argv[1].to_ascii_lowercase();
    match sub.as_slice() {
        b"channels" if argv.len() <= 3 => channel_names(ctx, Kind::Channel, argv.get(2)),
        b"shardchannels" if argv.len() <= 3 => channel_names(ctx, Kind::Shard, argv.get(2)),
        // A flat array even in RESP3, as Redis 7.0 sends it.
        b"numsub" => subscriber_counts(ctx, Kind::Channel, &argv[2..]),
        b"shardnumsub" => subscriber_counts(ctx, Kind::Shard, &argv[2..]),
        b"numpat" if argv.len() == 2 => Reply::integer(ctx.state.pubsub.patterns.len()),
        // These take an optional pattern; Redis checks the count itself, with this text.
        b"channels" | b"shardchannels" if argv.len() > 3 => Reply::error(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
            String::from_utf8_lossy(&argv[1])
        )),
        b"help" if argv.len() == 2 => Reply::Array(
            [
                "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "CHANNELS [<pattern>]",
                "    Return the currently active channels matching a <pattern> (default: '*').",
                "NUMPAT",
                "    Return number of subscriptions to patterns.",
                "NUMSUB [<channel> ...]",
                "    Return the number of subscribers for the specified channels, excluding",
                "    pattern subscriptions(default: no channels).",
                "SHARDCHANNELS [<pattern>]",
                "    Return the currently active shard level channels matching a <pattern> (default: '*').",
                "SHARDNUMSUB [<shardchannel> ...]",
                "    Return the number of subscribers for the specified shard level channel(s)",
                "HELP",
                "    Print this help.",
            ]
            .iter()
            .map(|l| Reply::simple(*l))
            .collect(),
        ),
        b"channels" | b"numpat" | b"shardchannels" | b"help" => Reply::error(errors::wrong_arity(&format!(
            "pubsub|{}",
            String::from_utf8_lossy(&sub)
        ))),
        _ => Reply::error(errors::unknown_subcommand(&argv[1], "pubsub")),
    }
}

/// PUBSUB CHANNELS and SHARDCHANNELS: the names with subscribers, matching `pattern`.
fn channel_names(ctx: &Ctx<'_>, kind: Kind, pattern: Option<&Bytes>) -> Reply {
    Reply::Array(
        ctx.state
            .pubsub
            .of(kind)
            .keys()
            .filter(|c| pattern.is_none_or(|p| glob::matches(p, c, false)))
            .map(|c| Reply::Bulk(c.clone()))
            .collect(),
    )
}

/// PUBSUB NUMSUB and SHARDNUMSUB: each name and its number of subscribers.
fn subscriber_counts(ctx: &Ctx<'_>, kind: Kind, channels: &[Bytes]) -> Reply {
    let subscribers = ctx.state.pubsub.of(kind);
    Reply::Array(
        channels
            .iter()
            .flat_map(|c| {
                let n = subscribers.get(c).map_or(0, |s| s.len());
                [Reply::Bulk(c.clone()), Reply::integer(n)]
            })
            .collect(),
    )
}
