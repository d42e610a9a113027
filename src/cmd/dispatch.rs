//! From argv to reply: lookup, arity, auth and context checks, execution, and what follows a
//! write (propagation, serving blocked clients, MONITOR).

use std::time::Instant;

use bytes::Bytes;

use super::key_positions::key_positions;
use super::table::{CommandSpec, lookup};
use super::{Ctx, errors, flags};
use crate::resp::Reply;
use crate::resp::parse::canonical_len;
use crate::server::blocking::Resume;
use crate::server::clients::Outbound;
use crate::server::migrate::{MigrateJob, TransferOutcome};
use crate::server::pause::PauseKind;
use crate::server::propagate::CommandEffects;
use crate::server::session::ReplyMode;
use crate::server::slowlog::SlowlogEntry;
use crate::server::stats::CommandStat;
use crate::server::{Server, Session, State, unix_time_ms, unix_time_us};

/// Commands a transaction does not queue.
fn runs_inside_multi(name: &str) -> bool {
    matches!(
        name,
        "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
    )
}

/// Commands allowed to a RESP2 client with subscriptions.
fn allowed_in_pubsub(name: &str) -> bool {
    matches!(
        name,
        "subscribe"
            | "unsubscribe"
            | "psubscribe"
            | "punsubscribe"
            | "ssubscribe"
            | "sunsubscribe"
            | "ping"
            | "quit"
            | "reset"
    )
}

/// Whether this request must wait before it runs, as Redis 7.0 postpones a client:
/// - under a pause of everything (CLIENT PAUSE ALL), every command of a normal client;
/// - under a pause of writes (CLIENT PAUSE WRITE, FAILOVER), commands that write or may
///   replicate (PUBLISH, PFCOUNT), queued ones included, and EXEC of a transaction holding
///   one;
/// - a write to a key a MIGRATE is moving, until the target has answered.
///
/// A request with a wrong arity is answered at once, as in Redis. The master's stream is
/// never held here (it applies through `link::apply`).
pub fn must_wait(state: &mut State, session: &Session, argv: &[Bytes]) -> bool {
    // The common case, checked before anything costs: nothing pauses, nothing is held.
    if state.pauses.idle() || session.source.from_master() {
        return false;
    }
    state.pauses.refresh(unix_time_ms());
    let Some(spec) = argv.first().and_then(|name| lookup(name)) else {
        return false;
    };
    if !spec.arity_ok(argv.len()) {
        return false;
    }
    let queued = match &session.multi {
        Some(multi) if spec.name == "exec" => Some(multi.queued.as_slice()),
        _ => None,
    };
    match state.pauses.active() {
        Some(PauseKind::All) => return true,
        Some(PauseKind::Write) => {
            let replicates = |spec: &CommandSpec| spec.has(flags::WRITE | flags::MAY_REPLICATE);
            let waits = match queued {
                Some(queued) => queued
                    .iter()
                    .any(|q| q.first().and_then(|n| lookup(n)).is_some_and(replicates)),
                None => replicates(spec),
            };
            if waits {
                return true;
            }
        }
        None => {}
    }
    if !state.pauses.holds_any_key() {
        return false;
    }
    let db = session.db;
    let touches_held = |argv: &[Bytes]| {
        let Some(spec) = argv.first().and_then(|name| lookup(name)) else {
            return false;
        };
        if !spec.has(flags::WRITE) {
            return false;
        }
        // SWAPDB moves every key of two databases: it waits for every migration.
        if spec.name == "swapdb" {
            return true;
        }
        key_positions(spec, argv).is_some_and(|positions| {
            positions
                .iter()
                .any(|&at| state.pauses.is_held(db, &argv[at]))
        })
    };
    match queued {
        Some(queued) => queued.iter().any(|q| touches_held(q)),
        None => touches_held(argv),
    }
}

/// Executes one request. Returns the reply to send, or None when nothing is to be sent
/// (CLIENT REPLY OFF/SKIP, or the command blocked: see `session.pending_block`).
pub fn execute(
    server: &Server,
    state: &mut State,
    session: &mut Session,
    argv: &[Bytes],
) -> Option<Reply> {
    execute_request(server, state, session, argv, None)
}

/// [`execute`] for a request whose bytes as received (`frame`, a multibulk) are at hand: a
/// write propagated unchanged is logged by copying them instead of encoding argv again.
pub fn execute_request(
    server: &Server,
    state: &mut State,
    session: &mut Session,
    argv: &[Bytes],
    frame: Option<Bytes>,
) -> Option<Reply> {
    let log_end_before = state.repl.log.end_offset();
    state.request_frame = frame;
    state.error_reply_counted = false;
    let reply = check_and_run(server, state, session, argv);
    state.request_frame = None;
    after_request(server, state, session, log_end_before, reply)
}

/// Completes a MIGRATE whose transfer the connection ran outside the lock: its keys are
/// released, the moved ones deleted and propagated, and the reply produced, as if the
/// command had run in one piece.
pub fn complete_migration(
    server: &Server,
    state: &mut State,
    session: &mut Session,
    job: Box<MigrateJob>,
    outcome: TransferOutcome,
) -> Option<Reply> {
    let log_end_before = state.repl.log.end_offset();
    state.pauses.release_keys(job.source_db, &job.keys);
    let reply = match lookup(b"migrate") {
        Some(spec) => run_in_ctx(server, state, session, spec, &job.argv, false, |ctx| {
            super::keys::migrate::finish(ctx, &job, outcome)
        }),
        None => Reply::error("ERR MIGRATE is not in the command table"),
    };
    after_request(server, state, session, log_end_before, reply)
}

/// What follows every request: blocked clients served by its writes, the batch's
/// bookkeeping, WAIT's offset, error counters, and the reply mode.
fn after_request(
    server: &Server,
    state: &mut State,
    session: &mut Session,
    log_end_before: u64,
    reply: Reply,
) -> Option<Reply> {
    if state.blocking.has_ready() {
        serve_blocked(server, state);
    }
    state.finish_request(session.source);
    if !session.source.from_master() {
        let log_end = state.repl.log.end_offset();
        if log_end != log_end_before {
            // WAIT waits for replicas to acknowledge this client's writes.
            session.last_write_offset = log_end;
        }
    }
    let counted = std::mem::take(&mut state.error_reply_counted);
    if let Reply::Error(text) = &reply
        && !counted
    {
        state.stats.record_error(text);
    }
    apply_reply_mode(session, reply)
}

fn apply_reply_mode(session: &mut Session, reply: Reply) -> Option<Reply> {
    if session.pending_block.is_some() || session.pending_migrate.is_some() {
        return None;
    }
    match session.reply_mode {
        ReplyMode::On => Some(reply),
        ReplyMode::Off => pushes_of(reply),
        // CLIENT REPLY SKIP itself is not answered either, nor the command after it.
        ReplyMode::SkipNext => {
            session.reply_mode = ReplyMode::Skipping;
            pushes_of(reply)
        }
        ReplyMode::Skipping => {
            session.reply_mode = ReplyMode::On;
            pushes_of(reply)
        }
    }
}

/// What a client that turned replies off still gets: pushes (pub/sub confirmations and
/// messages), which Redis sends whatever the reply mode.
fn pushes_of(reply: Reply) -> Option<Reply> {
    match reply {
        Reply::Push(_) => Some(reply),
        Reply::Sequence(items) => {
            let pushes: Vec<Reply> = items
                .into_iter()
                .filter(|r| matches!(r, Reply::Push(_)))
                .collect();
            (!pushes.is_empty()).then_some(Reply::Sequence(pushes))
        }
        _ => None,
    }
}

/// Redis's `maxmemory` check before a command: past the limit, commands that may grow the
/// dataset are refused, and so is queueing anything in a transaction (a queue takes memory
/// too) but its end; EXEC is refused when what it would run may grow the dataset. Our
/// master's stream is always obeyed.
fn refused_for_memory(
    state: &State,
    session: &Session,
    spec: &CommandSpec,
    command_flags: u32,
) -> bool {
    if state.config.maxmemory_bytes == 0 || session.source.from_master() {
        return false;
    }
    let denies = command_flags & flags::DENYOOM != 0
        || match &session.multi {
            Some(multi) if spec.name == "exec" => multi.queued.iter().any(|argv| {
                argv.first()
                    .and_then(|name| lookup(name))
                    .is_some_and(|queued| queued.has(flags::DENYOOM))
            }),
            Some(_) => !matches!(spec.name, "discard" | "quit" | "reset"),
            None => false,
        };
    denies && super::server::info_memory::out_of_memory(state)
}

/// Commands whose first argument names a subcommand; Redis reports them as `name|sub`.
pub fn has_subcommands(name: &str) -> bool {
    matches!(
        name,
        "client"
            | "config"
            | "command"
            | "pubsub"
            | "object"
            | "memory"
            | "script"
            | "function"
            | "acl"
            | "latency"
            | "slowlog"
            | "module"
            | "cluster"
            | "xinfo"
            | "xgroup"
    )
}

/// The name Redis uses for a command in errors: `client|id` for subcommands.
fn full_name(spec: &CommandSpec, argv: &[Bytes]) -> String {
    match argv.get(1) {
        Some(sub) if has_subcommands(spec.name) => format!(
            "{}|{}",
            spec.name,
            String::from_utf8_lossy(sub).to_ascii_lowercase()
        ),
        _ => spec.name.to_string(),
    }
}

/// Refuses a command before it runs. Inside MULTI this dooms the transaction; a refused EXEC
/// discards the transaction (and its watches) at once and says why, as Redis does.
fn reject(
    state: &mut State,
    session: &mut Session,
    spec: Option<&'static CommandSpec>,
    text: impl Into<std::borrow::Cow<'static, str>>,
) -> Reply {
    let text = text.into();
    if let Some(spec) = spec {
        command_stat(state, spec, None).rejected_calls += 1;
    }
    if spec.is_some_and(|s| s.name == "exec") {
        session.multi = None;
        let watched = std::mem::take(&mut session.watched);
        state.watches.unwatch_all(session.id, &watched);
        let reason = text.strip_prefix("ERR ").unwrap_or(&text);
        return Reply::error(format!(
            "EXECABORT Transaction discarded because of: {reason}"
        ));
    }
    if let Some(multi) = session.multi.as_mut() {
        multi.aborted = true;
    }
    Reply::Error(text)
}

fn check_and_run(
    server: &Server,
    state: &mut State,
    session: &mut Session,
    argv: &[Bytes],
) -> Reply {
    let spec = lookup(&argv[0]);
    session.last_cmd = spec.map_or("NULL", |c| c.name);
    session.last_subcommand = match (spec, argv.get(1)) {
        (Some(spec), Some(sub)) if has_subcommands(spec.name) => {
            Some(Bytes::from(sub.to_ascii_lowercase()))
        }
        _ => None,
    };
    let Some(spec) = spec else {
        return reject(state, session, None, errors::unknown_command(argv));
    };
    if !spec.arity_ok(argv.len()) {
        return reject(state, session, Some(spec), errors::wrong_arity(spec.name));
    }
    // A container's subcommand is looked up and its arity checked here, as Redis does,
    // so that the errors (and a transaction they doom) are Redis's.
    // A container's flags are its subcommand's (FUNCTION LOAD writes, FUNCTION LIST does not).
    let mut command_flags = spec.flags;
    if has_subcommands(spec.name) && super::subcommands::is_container(spec.name) {
        match super::subcommands::lookup(spec.name, &argv[1]) {
            None => {
                let container = String::from_utf8_lossy(&argv[0]).into_owned();
                return reject(
                    state,
                    session,
                    Some(spec),
                    errors::unknown_subcommand(&argv[1], &container),
                );
            }
            Some(sub) if !sub.arity_ok(argv.len()) => {
                return reject(
                    state,
                    session,
                    Some(spec),
                    errors::wrong_arity(sub.full_name),
                );
            }
            Some(sub) => command_flags = sub.flags,
        }
    }
    if !session.authenticated && state.config.requirepass.is_some() && !spec.has(flags::NO_AUTH) {
        return reject(state, session, Some(spec), errors::NOAUTH);
    }
    if refused_for_memory(state, session, spec, command_flags) {
        return reject(state, session, Some(spec), errors::OOM);
    }
    // Checked before queueing, as Redis does, so a refused write aborts the transaction.
    if let Some(refusal) = replication_refusal(state, session, spec, command_flags) {
        return reject(state, session, Some(spec), refusal);
    }
    if state.loading && !spec.has(flags::LOADING) && !session.source.from_master() {
        return reject(
            state,
            session,
            Some(spec),
            "LOADING Redis is loading the dataset in memory",
        );
    }
    if session.multi.is_some() && !runs_inside_multi(spec.name) {
        if spec.has(flags::NO_MULTI) {
            return reject(
                state,
                session,
                Some(spec),
                "ERR Command not allowed inside a transaction",
            );
        }
        if let Some(multi) = session.multi.as_mut() {
            multi.queued.push(argv.to_vec());
        }
        return super::transaction::queued_reply();
    }
    if state.tracking.active() {
        state.limit_tracking_table();
    }
    if session.in_pubsub_mode() && !allowed_in_pubsub(spec.name) {
        return reject(
            state,
            session,
            Some(spec),
            format!(
                "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
                full_name(spec, argv)
            ),
        );
    }
    call(server, state, session, spec, argv, false)
}

/// Runs a command that passed the checks; also used by EXEC for queued commands.
pub fn call(
    server: &Server,
    state: &mut State,
    session: &mut Session,
    spec: &'static CommandSpec,
    argv: &[Bytes],
    nested: bool,
) -> Reply {
    if !state.clients.monitors.is_empty() && !spec.has(flags::ADMIN | flags::SKIP_MONITOR) {
        feed_monitors(state, session, &super::redact::redacted(spec.name, argv));
    }
    run_in_ctx(server, state, session, spec, argv, nested, |ctx| {
        (spec.handler)(ctx, argv)
    })
}

/// Runs `body` as command `spec` with arguments `argv`, then does what follows every
/// command: own pushes, tracking, propagation of its effects, the dirty counter, stats.
fn run_in_ctx(
    server: &Server,
    state: &mut State,
    session: &mut Session,
    spec: &'static CommandSpec,
    argv: &[Bytes],
    nested: bool,
    body: impl FnOnce(&mut Ctx<'_>) -> Reply,
) -> Reply {
    let started = state.batch_clock.unwrap_or_else(Instant::now);
    let now_ms = state
        .script_time_ms
        .unwrap_or_else(|| crate::server::clock::unix_ms_at(started));
    let mut ctx = Ctx::new(state, session, server, now_ms);
    ctx.nested = nested;
    let reply = body(&mut ctx);
    let Ctx {
        changes,
        rewritten,
        also,
        suppress_own,
        pushes,
        after_pushes,
        ..
    } = ctx;
    let reply = with_own_pushes(state, session.id, nested, pushes, reply);
    let reply = track_after(state, session.id, spec, argv, nested, after_pushes, reply);
    let db = session.db;
    let propagate_own = changes > 0 && !suppress_own && spec.has(flags::WRITE);
    // Only a frame with minimal headers is Redis's own encoding of argv.
    let frame = if propagate_own && !nested && rewritten.is_none() {
        state
            .request_frame
            .take()
            .filter(|frame| canonical_len(argv) == frame.len())
    } else {
        None
    };
    state.propagate_command(
        session.source,
        CommandEffects {
            db,
            argv,
            frame,
            propagate_own,
            rewritten,
            also,
            nested,
        },
    );
    state.dirty += changes;
    if session.pending_migrate.is_some() {
        // Counted once, when the transfer is done and the command completes.
        return reply;
    }
    let ended = Instant::now();
    let duration_us =
        crate::util::num::u64_saturating(ended.saturating_duration_since(started).as_micros());
    let sub = if has_subcommands(spec.name) {
        argv.get(1)
            .and_then(|name| super::subcommands::lookup(spec.name, name))
    } else {
        None
    };
    let tracking = state.config.introspection.latency_tracking && session.pending_block.is_none();
    let stat = command_stat(state, spec, sub);
    stat.calls += 1;
    stat.usec += duration_us;
    if reply.is_error() {
        stat.failed_calls += 1;
    }
    if tracking {
        stat.record_latency_us(duration_us);
    }
    state.stats.total_commands_processed += 1;
    if session.pending_block.is_none() && spec.name != "exec" {
        // A blocked command is logged when it is served; EXEC's commands are logged, not
        // EXEC (Redis's SKIP_SLOWLOG).
        note_duration(
            state,
            session.id,
            session.name.as_ref(),
            spec,
            argv,
            duration_us,
        );
    }
    if state.batch_clock.is_some() {
        state.batch_clock = Some(ended);
    }
    reply
}

/// The statistics of a command, or of its subcommand (Redis counts `client|id`, not
/// `client`). Keyed by the address of the static spec: hashing a pointer is far cheaper
/// than hashing a name on every call.
pub fn command_stat<'s>(
    state: &'s mut State,
    spec: &'static CommandSpec,
    sub: Option<&'static super::subcommands::Subcommand>,
) -> &'s mut CommandStat {
    let (key, name) = match sub {
        Some(sub) => (sub as *const _ as usize, sub.full_name),
        None => (spec as *const CommandSpec as usize, spec.name),
    };
    state
        .stats
        .commands
        .entry(key)
        .or_insert_with(|| CommandStat {
            name,
            ..CommandStat::default()
        })
}

/// The slow log and the latency monitor hear of a command that took `duration_us`;
/// `client_name` is the name as the command left it (CLIENT SETNAME shows its new name).
fn note_duration(
    state: &mut State,
    client: u64,
    client_name: Option<&Bytes>,
    spec: &'static CommandSpec,
    argv: &[Bytes],
    duration_us: u64,
) {
    let settings = &state.config.introspection;
    let latency_ms = duration_us / 1000;
    if settings.latency_threshold_ms > 0 && latency_ms >= settings.latency_threshold_ms {
        let event = if spec.has(flags::FAST) {
            "fast-command"
        } else {
            "command"
        };
        state.latency.add(event, unix_time_ms() / 1000, latency_ms);
    }
    let slower_than_us = settings.slowlog_slower_than_us;
    if slower_than_us < 0 || i64::try_from(duration_us).unwrap_or(i64::MAX) < slower_than_us {
        return;
    }
    let len_max = settings.slowlog_len_max;
    let peer = state.clients.addr_of(client);
    let client_name = client_name.cloned().unwrap_or_default();
    let argv = super::redact::redacted(spec.name, argv);
    state.slowlog.push(
        SlowlogEntry {
            id: 0,
            unix_seconds: unix_time_ms() / 1000,
            duration_us,
            argv: crate::server::slowlog::trimmed_args(&argv),
            peer,
            client_name,
        },
        len_max,
    );
}

/// A blocked command's non-blocking attempt: `None` means "still nothing to serve".
pub type TryServe = fn(&mut Ctx<'_>, &[Bytes]) -> Option<Reply>;

/// The attempt that resumes a blocked command, if keys serve it.
pub fn resumer(resume: Resume) -> Option<TryServe> {
    use super::{list::blocking as list, zset::pop as zset};
    Some(match resume {
        Resume::Blpop => list::serve_blpop,
        Resume::Brpop => list::serve_brpop,
        Resume::Blmove => list::serve_blmove,
        Resume::Brpoplpush => list::serve_brpoplpush,
        Resume::Blmpop => list::serve_blmpop,
        Resume::Bzpopmin => zset::serve_bzpopmin,
        Resume::Bzpopmax => zset::serve_bzpopmax,
        Resume::Bzmpop => zset::serve_bzmpop,
        Resume::Xread => super::stream::serve_xread,
        Resume::Xreadgroup => super::stream::serve_xreadgroup,
        Resume::Never => return None,
    })
}

/// Keyspace events the command raised for its own client: before its reply, as Redis
/// writes them; inside EXEC (whose reply is one array) they are queued beside it.
fn with_own_pushes(
    state: &State,
    id: u64,
    nested: bool,
    pushes: Vec<Reply>,
    reply: Reply,
) -> Reply {
    if pushes.is_empty() {
        return reply;
    }
    if nested {
        state.clients.push_all(id, pushes);
        return reply;
    }
    let mut sequence = pushes;
    match reply {
        Reply::Sequence(items) => sequence.extend(items),
        other => sequence.push(other),
    }
    Reply::Sequence(sequence)
}

/// CLIENT TRACKING after a command: a read-only command's keys are remembered for its
/// client, CLIENT CACHING's one-command effect ends, broadcasts go out, and the caller's
/// own invalidations follow its reply.
fn track_after(
    state: &mut State,
    id: u64,
    spec: &'static CommandSpec,
    argv: &[Bytes],
    nested: bool,
    mut after: Vec<Reply>,
    reply: Reply,
) -> Reply {
    if !state.tracking.active() && after.is_empty() {
        return reply;
    }
    if state.tracking.of(id).is_some() {
        if spec.has(flags::READONLY)
            && !spec.has(flags::PUBSUB)
            && let Some(positions) = super::key_positions::key_positions(spec, argv)
        {
            state
                .tracking
                .remember(id, positions.into_iter().map(|i| argv[i].clone()));
        }
        // CLIENT CACHING covers the next command, or a whole transaction (commands run by
        // EXEC do not end it; EXEC's own end does).
        if spec.name != "client" && !nested {
            state.tracking.command_done(id);
        }
    }
    // Broadcasts gather a whole command's changes (EXEC's included), as Redis sends them
    // once per event-loop turn.
    if !nested {
        after.extend(state.send_tracking_broadcasts(Some(id)));
    }
    if after.is_empty() {
        return reply;
    }
    if nested {
        state.clients.push_all(id, after);
        return reply;
    }
    let mut sequence = match reply {
        Reply::Sequence(items) => items,
        other => vec![other],
    };
    sequence.extend(after);
    Reply::Sequence(sequence)
}

/// Serves clients blocked on keys that writes made ready, oldest first.
pub fn serve_blocked(server: &Server, state: &mut State) {
    while let Some((db, key)) = state.blocking.next_ready() {
        for id in state.blocking.waiters(db, &key) {
            let Some(blocked) = state.blocking.clients.get(&id) else {
                continue;
            };
            let blocked_resume = blocked.request.resume;
            let Some(serve) = resumer(blocked_resume) else {
                continue;
            };
            let args = blocked.request.args.clone();
            let protocol = state
                .clients
                .get(id)
                .map(|c| c.protocol)
                .unwrap_or_default();
            let mut session = Session::new(id, true);
            session.db = db;
            session.protocol = protocol;
            let serve_started = Instant::now();
            let mut ctx = Ctx::new(state, &mut session, server, unix_time_ms());
            ctx.nested = true;
            let served = serve(&mut ctx, &args);
            let Ctx {
                changes,
                also,
                pushes,
                after_pushes,
                ..
            } = ctx;
            also.into_iter()
                .for_each(|effect| state.queue_effect(effect));
            state.clients.push_all(id, pushes);
            state.dirty += changes;
            match served {
                Some(reply) => {
                    state.blocking.unblock(id);
                    if let Some(spec) = args.first().and_then(|name| super::lookup(name)) {
                        // Counted as Redis counts a served blocked command: the time the
                        // serving took, not the time it waited.
                        let serve_us =
                            crate::util::num::u64_saturating(serve_started.elapsed().as_micros());
                        if state.config.introspection.latency_tracking {
                            command_stat(state, spec, None).record_latency_us(serve_us);
                        }
                        let name = state.clients.get(id).and_then(|c| c.name.clone());
                        note_duration(state, id, name.as_ref(), spec, &args, serve_us);
                    }
                    // A blocked command that ends in an error counts as a failed call, as
                    // in Redis (its call was counted when it blocked).
                    if let Reply::Error(text) = &reply {
                        state.stats.record_error(text);
                        if let Some(spec) = args.first().and_then(|name| super::lookup(name)) {
                            command_stat(state, spec, None).failed_calls += 1;
                        }
                    }
                    if let Some(client) = state.clients.get(id) {
                        let size = reply.encoded_len_hint();
                        client.send(Outbound::Unblocked(reply), size);
                    }
                    state.clients.push_all(id, after_pushes);
                }
                // A list or sorted set that cannot serve this client cannot serve the ones
                // after it either; a stream read waits on its own IDs, so the others are
                // still tried.
                None if matches!(blocked_resume, Resume::Xread | Resume::Xreadgroup) => {}
                None => break,
            }
        }
    }
}

fn feed_monitors(state: &mut State, session: &Session, argv: &[Bytes]) {
    let now_us = unix_time_us();
    let addr = state.clients.addr_of(session.id);
    let mut line = format!(
        "{}.{:06} [{} {}]",
        now_us / 1_000_000,
        now_us % 1_000_000,
        session.db,
        addr
    );
    for arg in argv {
        line.push(' ');
        line.push_str(&repr(arg));
    }
    let reply = Reply::Simple(line.into());
    for id in &state.clients.monitors {
        if let Some(client) = state.clients.get(*id) {
            client.send(Outbound::Push(reply.clone()), reply.encoded_len_hint());
        }
    }
}

/// Quotes bytes like Redis's `sdscatrepr`.
pub fn repr(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            7 => out.push_str("\\a"),
            8 => out.push_str("\\b"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

/// The OS's text for a store's I/O error (strerror, without Rust's "(os error N)").
fn os_error_text(error: &crate::durable::store::StoreError) -> Option<String> {
    use std::error::Error as _;
    let source = error.source()?;
    let text = source.to_string();
    Some(match text.find(" (os error ") {
        Some(at) => text[..at].to_string(),
        None => text,
    })
}

/// Whether the transaction EXEC would run holds a write.
fn queues_a_write(session: &Session) -> bool {
    session.multi.as_ref().is_some_and(|multi| {
        multi.queued.iter().any(|argv| {
            argv.first()
                .and_then(|name| lookup(name))
                .is_some_and(|c| c.has(flags::WRITE))
        })
    })
}

/// Why writes are refused for the disk's sake.
pub enum DiskError {
    /// The last snapshot failed (with save points and stop-writes-on-bgsave-error).
    Snapshot,
    /// The durable log cannot be written; the OS's text when there is one.
    Log(Option<String>),
}

/// Whether the disk stops writes now (Redis's `writeCommandsDeniedByDiskError`).
pub fn disk_error(state: &State) -> Option<DiskError> {
    let config = &state.config;
    if config.stop_writes_on_bgsave_error
        && !config.save_points.is_empty()
        && !state.persistence.last_status_ok
    {
        return Some(DiskError::Snapshot);
    }
    match &state.repl.durable {
        Some(durable) if durable.has_error() => Some(DiskError::Log(
            durable.error().as_ref().and_then(os_error_text),
        )),
        _ => None,
    }
}

/// Refusals that depend on the replication role: writes to a read-only replica, anything but
/// stale-safe commands while the link is down with `replica-serve-stale-data no`, and writes
/// without enough good replicas (`min-replicas-to-write`).
pub fn replication_refusal(
    state: &State,
    session: &Session,
    spec: &CommandSpec,
    command_flags: u32,
) -> Option<std::borrow::Cow<'static, str>> {
    if session.source.from_master() {
        return None;
    }
    let config = &state.config;
    let has = |flag: u32| command_flags & flag != 0;
    let writes = has(flags::WRITE) || (spec.name == "exec" && queues_a_write(session));
    // As Redis: a failed save stops writes (and PING, so that monitoring notices) until a
    // save succeeds, when save points are configured and stop-writes-on-bgsave-error is on.
    match disk_error(state) {
        Some(DiskError::Snapshot) if writes || spec.name == "ping" => {
            return Some(errors::BGSAVE_ERROR.into());
        }
        // As Redis words an AOF it cannot write: the OS error, when there is one.
        Some(DiskError::Log(os)) if writes => {
            return Some(match os {
                Some(os) => format!("MISCONF Errors writing the replication log: {os}").into(),
                None => {
                    "MISCONF Errors writing the replication log. Please check the logs for details."
                        .into()
                }
            });
        }
        _ => {}
    }
    if let Some(link) = &state.repl.master {
        if link.status != crate::server::replication::LinkStatus::Up
            && !config.replica_serve_stale_data
            && !has(flags::STALE)
        {
            return Some(
                "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."
                    .into(),
            );
        }
        if config.replica_read_only && has(flags::WRITE) {
            return Some(errors::READONLY.into());
        }
        return None;
    }
    // As in Redis, a max lag of 0 turns the check off as well.
    if config.min_replicas_to_write > 0
        && config.min_replicas_max_lag_seconds > 0
        && has(flags::WRITE)
    {
        let good = crate::repl::wait::good_replica_count(state);
        if good < config.min_replicas_to_write {
            return Some("NOREPLICAS Not enough good replicas to write.".into());
        }
    }
    None
}
