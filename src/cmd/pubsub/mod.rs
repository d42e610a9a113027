//! SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE PUBLISH PUBSUB.

use bytes::Bytes;

use crate::cmd::flags::*;
use crate::cmd::{CommandSpec, Ctx, errors};
use crate::command;
use crate::resp::Reply;
use crate::server::State;
use crate::server::clients::Outbound;
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

/// Channels and patterns follow the same rules; only their sets and reply names differ.
#[derive(Clone, Copy)]
enum Target {
    Channel,
    Pattern,
}

impl Target {
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Target::Channel => ("subscribe", "unsubscribe"),
            Target::Pattern => ("psubscribe", "punsubscribe"),
        }
    }

    fn session_set<'a>(self, ctx: &'a mut Ctx<'_>) -> &'a mut std::collections::HashSet<Bytes> {
        match self {
            Target::Channel => &mut ctx.session.channels,
            Target::Pattern => &mut ctx.session.patterns,
        }
    }

    fn register(self, ctx: &mut Ctx<'_>, name: Bytes) {
        let id = ctx.session.id;
        match self {
            Target::Channel => ctx.state.pubsub.subscribe(id, name),
            Target::Pattern => ctx.state.pubsub.psubscribe(id, name),
        };
    }

    fn unregister(self, ctx: &mut Ctx<'_>, name: &[u8]) {
        let id = ctx.session.id;
        match self {
            Target::Channel => ctx.state.pubsub.unsubscribe(id, name),
            Target::Pattern => ctx.state.pubsub.punsubscribe(id, name),
        };
    }
}

fn subscribe_to(ctx: &mut Ctx<'_>, argv: &[Bytes], target: Target) -> Reply {
    let (kind, _) = target.names();
    let mut messages = Vec::new();
    for name in &argv[1..] {
        if target.session_set(ctx).insert(name.clone()) {
            target.register(ctx, name.clone());
        }
        messages.push(push(
            kind,
            Some(name.clone()),
            ctx.session.subscription_count(),
        ));
    }
    emit_all(ctx, messages)
}

/// Without arguments, leaves every subscription of that kind (one reply each).
fn unsubscribe_from(ctx: &mut Ctx<'_>, argv: &[Bytes], target: Target) -> Reply {
    let (_, kind) = target.names();
    let names: Vec<Bytes> = if argv.len() > 1 {
        argv[1..].to_vec()
    } else {
        target.session_set(ctx).iter().cloned().collect()
    };
    if names.is_empty() {
        return push(kind, None, ctx.session.subscription_count());
    }
    let mut messages = Vec::new();
    for name in names {
        if target.session_set(ctx).remove(&name) {
            target.unregister(ctx, &name);
        }
        messages.push(push(kind, Some(name), ctx.session.subscription_count()));
    }
    emit_all(ctx, messages)
}

fn subscribe(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    subscribe_to(ctx, argv, Target::Channel)
}

fn psubscribe(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    subscribe_to(ctx, argv, Target::Pattern)
}

fn unsubscribe(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    unsubscribe_from(ctx, argv, Target::Channel)
}

fn punsubscribe(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    unsubscribe_from(ctx, argv, Target::Pattern)
}

/// Drops every subscription of the session (RESET, disconnect) without replying.
pub fn unsubscribe_everything(ctx: &mut Ctx<'_>) {
    for channel in std::mem::take(&mut ctx.session.channels) {
        ctx.state.pubsub.unsubscribe(ctx.session.id, &channel);
    }
    for pattern in std::mem::take(&mut ctx.session.patterns) {
        ctx.state.pubsub.punsubscribe(ctx.session.id, &pattern);
    }
}

/// Delivers a message to channel and pattern subscribers; returns how many received it.
pub fn publish_message(state: &mut State, channel: &Bytes, message: &Bytes) -> usize {
    publish_message_from(state, channel, message, None).0
}

/// Outcome of delivering one message to the subscribers of a channel and its patterns.
struct Delivery {
    own: Vec<Reply>,
    receivers: usize,
    over_limit: Vec<u64>,
    publisher: Option<u64>,
}

impl Delivery {
    fn deliver(
        &mut self,
        clients: &crate::server::clients::Clients,
        ids: &std::collections::BTreeSet<u64>,
        reply: &Reply,
        hard_limit_bytes: usize,
    ) {
        let size = reply.encoded_len_hint();
        for id in ids {
            if Some(*id) == self.publisher {
                self.own.push(reply.clone());
                self.receivers += 1;
                continue;
            }
            if let Some(client) = clients.get(*id) {
                client.send(Outbound::Push(reply.clone()), size);
                self.receivers += 1;
                if hard_limit_bytes > 0 && client.queued() > hard_limit_bytes {
                    self.over_limit.push(*id);
                }
            }
        }
    }
}

/// Like [`publish_message`], but the messages for `publisher` itself (a RESP3 client may
/// publish to its own channels) are returned instead of queued, so that they go out before
/// PUBLISH's own reply, as in Redis.
pub fn publish_message_from(
    state: &mut State,
    channel: &Bytes,
    message: &Bytes,
    publisher: Option<u64>,
) -> (usize, Vec<Reply>) {
    let mut delivery = Delivery {
        own: Vec::new(),
        receivers: 0,
        over_limit: Vec::new(),
        publisher,
    };
    let hard = crate::util::num::usize_from(state.config.output_limit_pubsub.hard_bytes);
    if let Some(ids) = state.pubsub.channels.get(channel) {
        let reply = Reply::Push(vec![
            Reply::bulk(Bytes::from_static(b"message")),
            Reply::Bulk(channel.clone()),
            Reply::Bulk(message.clone()),
        ]);
        delivery.deliver(&state.clients, ids, &reply, hard);
    }
    for (pattern, ids) in &state.pubsub.patterns {
        if !glob::matches(pattern, channel, false) {
            continue;
        }
        let reply = Reply::Push(vec![
            Reply::bulk(Bytes::from_static(b"pmessage")),
            Reply::Bulk(pattern.clone()),
            Reply::Bulk(channel.clone()),
            Reply::Bulk(message.clone()),
        ]);
        delivery.deliver(&state.clients, ids, &reply, hard);
    }
    let Delivery {
        own,
        receivers,
        over_limit,
        ..
    } = delivery;
    for id in over_limit {
        tracing::warn!(
            client = id,
            "closing pub/sub client: output buffer over client-output-buffer-limit pubsub"
        );
        state.stats.client_output_buffer_kills += 1;
        state.clients.kill(id, "pubsub output buffer limit reached");
    }
    (receivers, own)
}

fn publish(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let (receivers, mut own) =
        publish_message_from(ctx.state, &argv[1], &argv[2], Some(ctx.session.id));
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
        b"channels" if argv.len() <= 3 => {
            let pattern = argv.get(2);
            let names: Vec<Reply> = ctx
                .state
                .pubsub
                .channels
                .keys()
                .filter(|c| pattern.is_none_or(|p| glob::matches(p, c, false)))
                .map(|c| Reply::Bulk(c.clone()))
                .collect();
            Reply::Array(names)
        }
        // A flat array even in RESP3, as Redis 7.0 sends it.
        b"numsub" => {
            let mut items = Vec::new();
            for channel in &argv[2..] {
                let n = ctx.state.pubsub.channels.get(channel).map_or(0, |s| s.len());
                items.push(Reply::Bulk(channel.clone()));
                items.push(Reply::integer(n));
            }
            Reply::Array(items)
        }
        b"numpat" if argv.len() == 2 => Reply::integer(ctx.state.pubsub.patterns.len()),
        b"shardchannels" if argv.len() <= 3 => Reply::Array(Vec::new()),
        b"shardnumsub" => Reply::Array(
            argv[2..]
                .iter()
                .flat_map(|c| [Reply::Bulk(c.clone()), Reply::Integer(0)])
                .collect(),
        ),
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
