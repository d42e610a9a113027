//! EVAL EVALSHA EVAL_RO EVALSHA_RO.
//!
//! A script runs under the server lock like any command. Its writes reach replicas as their
//! effects (what the commands it called propagate), wrapped in MULTI … EXEC when there are
//! several, as Redis 7.0 propagates them: replicas never run Lua.

use bytes::Bytes;

use super::host::ScriptHost;
use crate::cmd::dispatch::DiskError;
use crate::cmd::{Ctx, errors};
use crate::resp::Reply;
use crate::script::flags::ScriptFlags;
use crate::script::watch::{RunningScript, ScriptKind};
use crate::script::{Host, Run, Sha1Hex};
use crate::server::replication::LinkStatus;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    /// EVAL: the body is given (and cached if new).
    Body,
    /// EVALSHA: only its SHA1 is given.
    Sha,
}

pub fn eval(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    eval_generic(ctx, argv, Source::Body, false)
}

pub fn evalsha(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    eval_generic(ctx, argv, Source::Sha, false)
}

pub fn eval_ro(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    eval_generic(ctx, argv, Source::Body, true)
}

pub fn evalsha_ro(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    eval_generic(ctx, argv, Source::Sha, true)
}

const NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";

fn eval_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], source: Source, ro: bool) -> Reply {
    let Some(numkeys) = crate::util::num::parse_i64(&argv[2]) else {
        return Reply::error(errors::NOT_INTEGER);
    };
    let available = argv.len() - 3;
    if numkeys > i64::try_from(available).unwrap_or(i64::MAX) {
        return Reply::error("ERR Number of keys can't be greater than number of args");
    }
    let Ok(numkeys) = usize::try_from(numkeys) else {
        return Reply::error("ERR Number of keys can't be negative");
    };
    let server = ctx.server;
    let mut engine_slot = server.scripts.lock();
    let engine = match super::script::engine(&mut engine_slot, &server.script_watch) {
        Ok(engine) => engine,
        Err(reply) => return reply,
    };
    let sha = match source {
        Source::Body => match engine.load(&argv[1]) {
            Ok(sha) => sha,
            Err(text) => return Reply::error(text),
        },
        Source::Sha => match Sha1Hex::parse(&argv[1]) {
            Some(sha) => sha,
            None => return Reply::error(NOSCRIPT),
        },
    };
    let Some(script) = engine.get(&sha) else {
        return Reply::error(NOSCRIPT);
    };
    let flags = script.flags;
    if let Some(refusal) = refusal_before_run(ctx, flags, ro) {
        return Reply::error(refusal);
    }
    let read_only = ro || (!flags.compat && flags.no_writes);
    run_script(
        ctx,
        ScriptCall {
            kind: ScriptKind::Eval,
            name: sha.to_string(),
            argv,
            read_only,
            numkeys,
            allow_oom: !flags.compat && flags.allow_oom,
        },
        |host, run| engine.run(script, &sha, run, host),
    )
}

/// A script about to run: what it is, the command that runs it, and whether it may write.
pub struct ScriptCall<'a> {
    pub kind: ScriptKind,
    /// The SHA1 of a script, or a function's name.
    pub name: String,
    /// `EVAL body numkeys keys... args...` (or EVALSHA, FCALL ...).
    pub argv: &'a [Bytes],
    pub numkeys: usize,
    pub read_only: bool,
    /// Declared `allow-oom`: its writes are not refused past `maxmemory`.
    pub allow_oom: bool,
}

/// Runs a script (`body` runs it in its engine) for the caller of `ctx`: the caller's db is
/// the script's first, and whatever the script selects or asks for (SELECT, RESP3) ends
/// with it. Its effects reach replicas as one MULTI … EXEC block when there are several.
pub fn run_script(
    ctx: &mut Ctx<'_>,
    call: ScriptCall<'_>,
    body: impl FnOnce(&mut dyn Host, Run<'_>) -> Reply,
) -> Reply {
    let first_effect = ctx.state.queued_effects();
    let caller_db = ctx.session.db;
    // One instant for the whole script, so that a key does not expire half-way through.
    let frozen_before = ctx.state.script_time_ms.replace(ctx.now_ms);
    let watch = std::sync::Arc::clone(&ctx.server.script_watch);
    watch.start(
        call.kind,
        crate::server::unix_time_ms(),
        ctx.state.config.busy_reply_threshold_ms,
        ctx.session.source.from_master(),
        RunningScript {
            name: call.name,
            command: call.argv.to_vec(),
            libraries_count: ctx.state.functions.len(),
            functions_count: ctx.state.functions.function_count(),
        },
    );
    // Redis decides once, as the script starts, whether its first write is refused for
    // memory (a script cannot be stopped half-way).
    let out_of_memory =
        !call.allow_oom && crate::cmd::server::info_memory::out_of_memory(ctx.state);
    let (reply, error_counted) = {
        let mut host = ScriptHost::new(ctx, call.read_only, out_of_memory);
        let reply = body(
            &mut host,
            Run {
                keys: &call.argv[3..3 + call.numkeys],
                args: &call.argv[3 + call.numkeys..],
            },
        );
        (reply, host.error_counted)
    };
    if error_counted && reply.is_error() && !ctx.nested {
        ctx.state.error_reply_counted = true;
    }
    watch.finish();
    ctx.state.script_time_ms = frozen_before;
    ctx.session.db = caller_db;
    // Inside EXEC the transaction already wraps everything.
    if !ctx.nested {
        ctx.state.wrap_if_several(first_effect);
    }
    reply
}

/// Redis 7.0's checks before a script runs (`scriptPrepareForRun`): a script that declared
/// its flags is judged on them; one that did not only on a stale replica.
pub fn refusal_before_run(ctx: &Ctx<'_>, flags: ScriptFlags, ro: bool) -> Option<String> {
    let state = &*ctx.state;
    let stale = state.repl.master.as_ref().is_some_and(|link| {
        link.status != LinkStatus::Up && !state.config.replica_serve_stale_data
    });
    if flags.compat {
        return stale.then(|| {
            "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."
                .to_string()
        });
    }
    if stale && !flags.allow_stale {
        return Some(
            "MASTERDOWN Link with MASTER is down, replica-serve-stale-data is set to 'no' and 'allow-stale' flag is not set on the script."
                .to_string(),
        );
    }
    if flags.no_writes {
        return None;
    }
    let from_master = ctx.session.source.from_master();
    // A script that declared it may write is refused past maxmemory before it runs (as a
    // command flagged denyoom), unless it also declared `allow-oom`.
    if !flags.allow_oom && !from_master && crate::cmd::server::info_memory::out_of_memory(state) {
        return Some(crate::cmd::errors::OOM.to_string());
    }
    if state.repl.master.is_some() && state.config.replica_read_only && !from_master {
        return Some("READONLY Can not run script with write flag on readonly replica".into());
    }
    if !from_master {
        match crate::cmd::dispatch::disk_error(state) {
            Some(DiskError::Snapshot) => return Some(
                "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Writable scripts are blocked. Use 'no-writes' flag for read only scripts."
                    .into(),
            ),
            Some(DiskError::Log(os)) => return Some(format!(
                "MISCONF Redis is configured to persist data to AOF, but it's currently unable to persist to disk. Writable scripts are blocked. Use 'no-writes' flag for read only scripts. AOF error: {}",
                os.unwrap_or_default()
            )),
            None => {}
        }
    }
    if ro {
        return Some("ERR Can not execute a script with write flag using *_ro command.".into());
    }
    if state.repl.master.is_none()
        && state.config.min_replicas_to_write > 0
        && state.config.min_replicas_max_lag_seconds > 0
        && crate::repl::wait::good_replica_count(state) < state.config.min_replicas_to_write
    {
        return Some("NOREPLICAS Not enough good replicas to write.".into());
    }
    None
}
