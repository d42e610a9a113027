//! SCRIPT LOAD EXISTS FLUSH KILL DEBUG HELP, and the engine made on first use.

use std::sync::Arc;

use bytes::Bytes;

use crate::cmd::{Ctx, errors};
use crate::resp::Reply;
use crate::script::watch::ScriptWatch;
use crate::script::{ScriptEngine, Sha1Hex};

/// The server's Lua engine, made now if no script ran yet. A VM that cannot be made (no
/// memory) is an error reply, not a crash.
pub fn engine<'e>(
    slot: &'e mut Option<ScriptEngine>,
    watch: &Arc<ScriptWatch>,
) -> Result<&'e mut ScriptEngine, Reply> {
    if slot.is_none() {
        match ScriptEngine::new(Arc::clone(watch)) {
            Ok(engine) => *slot = Some(engine),
            Err(e) => {
                tracing::warn!("cannot start the Lua VM: {e}");
                return Err(Reply::error(format!("ERR cannot start the Lua VM: {e}")));
            }
        }
    }
    slot.as_mut()
        .ok_or_else(|| Reply::error("ERR the Lua VM is not available"))
}

pub fn script(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let sub = argv[1].to_ascii_lowercase();
    match (sub.as_slice(), argv.len()) {
        (b"help", 2) => help(),
        (b"flush", 2 | 3) => {
            if let Some(mode) = argv.get(2)
                && !mode.eq_ignore_ascii_case(b"sync")
                && !mode.eq_ignore_ascii_case(b"async")
            {
                return Reply::error("ERR SCRIPT FLUSH only support SYNC|ASYNC option");
            }
            // A new VM on next use: the old one, with every cached script, is dropped.
            *ctx.server.scripts.lock() = None;
            Reply::ok()
        }
        (b"exists", _) => {
            let engine = ctx.server.scripts.lock();
            Reply::Array(
                argv[2..]
                    .iter()
                    .map(|name| {
                        let cached = Sha1Hex::parse(name)
                            .is_some_and(|sha| engine.as_ref().is_some_and(|e| e.contains(&sha)));
                        Reply::Integer(i64::from(cached))
                    })
                    .collect(),
            )
        }
        (b"load", 3) => {
            let mut slot = ctx.server.scripts.lock();
            let engine = match engine(&mut slot, &ctx.server.script_watch) {
                Ok(engine) => engine,
                Err(reply) => return reply,
            };
            match engine.load(&argv[2]) {
                Ok(sha) => Reply::bulk(Bytes::from(sha.as_str().to_owned())),
                Err(text) => Reply::error(text),
            }
        }
        // A script runs under the server lock: when this runs, none is running.
        (b"kill", 2) => Reply::error("NOTBUSY No scripts in execution right now."),
        (b"debug", 3) => Reply::error("ERR SCRIPT DEBUG is not supported by sluice"),
        _ => Reply::error(errors::subcommand_syntax(&argv[1], "script")),
    }
}

fn help() -> Reply {
    Reply::Array(
        [
            "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DEBUG (YES|SYNC|NO)",
            "    Set the debug mode for subsequent scripts executed.",
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache. Very dangerous on replicas.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the scripts cache.",
            "    * SYNC: Synchronously flush the scripts cache.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
            "HELP",
            "    Prints this help.",
        ]
        .iter()
        .map(|line| Reply::simple(*line))
        .collect(),
    )
}
