//! EVAL EVALSHA EVAL_RO EVALSHA_RO SCRIPT: Lua scripts run by the engine in
//! [`crate::script`], their commands run here through [`host::ScriptHost`].

mod eval;
pub mod function;
mod host;
mod script;

use bytes::Bytes;

use crate::cmd::CommandSpec;
use crate::cmd::flags::*;
use crate::command;
use crate::resp::Reply;
use crate::script::watch::{BUSY_EVAL, BUSY_FUNCTION, KillOutcome, ScriptKind, ScriptWatch};

pub const COMMANDS: &[CommandSpec] = &[
    command!(
        "eval",
        -3,
        NOSCRIPT | SKIP_MONITOR | MAY_REPLICATE | STALE,
        (0, 0, 0),
        "scripting",
        eval::eval
    ),
    command!(
        "evalsha",
        -3,
        NOSCRIPT | SKIP_MONITOR | MAY_REPLICATE | STALE,
        (0, 0, 0),
        "scripting",
        eval::evalsha
    ),
    command!(
        "eval_ro",
        -3,
        NOSCRIPT | SKIP_MONITOR | STALE | READONLY,
        (0, 0, 0),
        "scripting",
        eval::eval_ro
    ),
    command!(
        "evalsha_ro",
        -3,
        NOSCRIPT | SKIP_MONITOR | STALE | READONLY,
        (0, 0, 0),
        "scripting",
        eval::evalsha_ro
    ),
    command!(
        "fcall",
        -3,
        NOSCRIPT | SKIP_MONITOR | MAY_REPLICATE | STALE,
        (0, 0, 0),
        "scripting",
        function::fcall
    ),
    command!(
        "fcall_ro",
        -3,
        NOSCRIPT | SKIP_MONITOR | STALE | READONLY,
        (0, 0, 0),
        "scripting",
        function::fcall_ro
    ),
    command!(
        "function",
        -2,
        NOSCRIPT,
        (0, 0, 0),
        "scripting",
        function::function
    ),
    command!(
        "script",
        -2,
        NOSCRIPT,
        (0, 0, 0),
        "scripting",
        script::script
    ),
];

/// The reply to a request that arrives while a script has been running past
/// `busy-reply-threshold`, made without the server lock (the script holds it): SCRIPT KILL,
/// FUNCTION KILL and FUNCTION STATS are answered, other commands get BUSY, and those
/// Redis lets run meanwhile (ALLOW_BUSY) wait: `None`.
pub fn busy_reply(watch: &ScriptWatch, kind: ScriptKind, argv: &[Bytes]) -> Option<Reply> {
    let Some(spec) = crate::cmd::lookup(&argv[0]) else {
        return Some(Reply::error(crate::cmd::errors::unknown_command(argv)));
    };
    let sub = argv.get(1).map(|s| s.to_ascii_lowercase());
    let busy = || {
        Reply::error(match kind {
            ScriptKind::Eval => BUSY_EVAL,
            ScriptKind::Function => BUSY_FUNCTION,
        })
    };
    match (spec.name, sub.as_deref(), argv.len()) {
        ("script", Some(b"kill"), 2) => Some(kill_reply(watch.request_kill(ScriptKind::Eval))),
        ("function", Some(b"kill"), 2) => {
            Some(kill_reply(watch.request_kill(ScriptKind::Function)))
        }
        ("function", Some(b"stats"), 2) if kind == ScriptKind::Eval => Some(busy()),
        ("function", Some(b"stats"), 2) => Some(function::running_stats(watch)),
        ("shutdown", _, _) if argv[1..].iter().any(|a| a.eq_ignore_ascii_case(b"nosave")) => {
            // The script holds the lock and may never end: leave now, as Redis does,
            // without saving (what the durable log made durable stays).
            tracing::warn!("SHUTDOWN NOSAVE while a script is busy: exiting now");
            std::process::exit(0)
        }
        _ if spec.has(ALLOW_BUSY)
            || sub.as_deref().is_some_and(|sub| {
                crate::cmd::subcommands::lookup(spec.name, sub)
                    .is_some_and(|s| s.flags & ALLOW_BUSY != 0)
            }) =>
        {
            None
        }
        _ => Some(busy()),
    }
}

fn kill_reply(outcome: KillOutcome) -> Reply {
    match outcome {
        KillOutcome::Killed => Reply::ok(),
        KillOutcome::NotBusy => Reply::error("NOTBUSY No scripts in execution right now."),
        KillOutcome::Unkillable => Reply::error(
            "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.",
        ),
        KillOutcome::FromMaster => Reply::error(
            "UNKILLABLE The busy script was sent by a master instance in the context of replication and cannot be killed.",
        ),
        KillOutcome::WrongKind(ScriptKind::Eval) => Reply::error(BUSY_EVAL),
        KillOutcome::WrongKind(ScriptKind::Function) => Reply::error(BUSY_FUNCTION),
    }
}
