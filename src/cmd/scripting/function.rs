//! FUNCTION (LOAD DELETE FLUSH LIST STATS DUMP RESTORE KILL HELP), FCALL and FCALL_RO.
//!
//! The libraries are data (`State::functions`); their compiled functions live in the
//! function VM, rebuilt from the registry whenever the registry changed under it (a
//! snapshot loaded, FUNCTION RESTORE). The commands that change libraries reach replicas as
//! they were sent, as in Redis.

use std::sync::Arc;

use bytes::Bytes;

use super::eval::{ScriptCall, refusal_before_run, run_script};
use crate::cmd::{Ctx, errors};
use crate::resp::Reply;
use crate::script::ScriptEngine;
use crate::script::library::{self, ENGINE_NAME, FunctionMeta, Libraries};
use crate::script::watch::{ScriptKind, ScriptWatch};
use crate::server::Effect;

/// How long FUNCTION LOAD lets a library's code run (Redis's `LOAD_TIMEOUT_MS`).
const LOAD_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(500);

/// The function VM, made now or rebuilt if the registry changed since it compiled it.
fn synced<'e>(
    slot: &'e mut Option<ScriptEngine>,
    libraries: &Libraries,
    watch: &Arc<ScriptWatch>,
) -> Result<&'e mut ScriptEngine, Reply> {
    let stale = slot
        .as_ref()
        .is_none_or(|engine| engine.libraries_generation() != libraries.generation());
    if stale {
        *slot = Some(
            library::build_vm(libraries, watch).map_err(|e| Reply::error(format!("ERR {e}")))?,
        );
    }
    slot.as_mut()
        .ok_or_else(|| Reply::error("ERR the Lua VM is not available"))
}

pub fn function(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let sub = argv[1].to_ascii_lowercase();
    match sub.as_slice() {
        b"load" => load(ctx, argv),
        b"delete" => delete(ctx, argv),
        b"flush" => flush(ctx, argv),
        b"list" => list(ctx, argv),
        b"stats" => stats(ctx),
        b"dump" => dump(ctx),
        b"restore" => restore(ctx, argv),
        // Functions run under the server lock: when this runs, none is running.
        b"kill" => Reply::error("NOTBUSY No scripts in execution right now."),
        b"help" => help(),
        _ => Reply::error(errors::subcommand_syntax(&argv[1], "function")),
    }
}

/// A change to the libraries reaches replicas as the command itself.
fn propagate(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    ctx.changes += 1;
    ctx.also.push(Effect {
        db: ctx.session.db,
        argv: argv.to_vec(),
    });
}

/// FUNCTION LOAD [REPLACE] code
fn load(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let mut replace = false;
    let mut at = 2;
    while at < argv.len() - 1 {
        if argv[at].eq_ignore_ascii_case(b"replace") {
            replace = true;
            at += 1;
            continue;
        }
        return Reply::error(format!(
            "ERR Unknown option given: {}",
            String::from_utf8_lossy(&argv[at])
        ));
    }
    let Some(code) = argv.get(at) else {
        return Reply::error("ERR Function code is missing");
    };
    let mut slot = ctx.server.functions.lock();
    let engine = match synced(&mut slot, &ctx.state.functions, &ctx.server.script_watch) {
        Ok(engine) => engine,
        Err(reply) => return reply,
    };
    // Redis's limit on a library's loading, except for what our master sent: that must load.
    let timeout = (!ctx.session.source.from_master()).then_some(LOAD_TIMEOUT);
    let compiled = match library::compile(engine, &ctx.state.functions, code, replace, timeout) {
        Ok(compiled) => compiled,
        Err(text) => return Reply::error(format!("ERR {text}")),
    };
    let replaced: Vec<String> = ctx
        .state
        .functions
        .get(&compiled.library.name)
        .map(|old| old.functions.keys().cloned().collect())
        .unwrap_or_default();
    engine.install_library(&replaced, compiled.registered);
    let name = compiled.library.name.clone();
    ctx.state.functions.insert(compiled.library);
    engine.set_libraries_generation(ctx.state.functions.generation());
    drop(slot);
    propagate(ctx, argv);
    Reply::bulk(Bytes::from(name))
}

/// FUNCTION DELETE library
fn delete(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    if argv.len() != 3 {
        return Reply::error(errors::wrong_arity("function|delete"));
    }
    let name = String::from_utf8_lossy(&argv[2]).into_owned();
    let Some(removed) = ctx.state.functions.remove(&name) else {
        return Reply::error("ERR Library not found");
    };
    let mut slot = ctx.server.functions.lock();
    if let Some(engine) = slot.as_mut() {
        let names: Vec<String> = removed.functions.into_keys().collect();
        engine.remove_functions(&names);
        engine.set_libraries_generation(ctx.state.functions.generation());
    }
    drop(slot);
    propagate(ctx, argv);
    Reply::ok()
}

/// FUNCTION FLUSH [ASYNC|SYNC]
fn flush(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    if argv.len() > 3 {
        return Reply::error(errors::subcommand_syntax(&argv[1], "function"));
    }
    if let Some(mode) = argv.get(2)
        && !mode.eq_ignore_ascii_case(b"sync")
        && !mode.eq_ignore_ascii_case(b"async")
    {
        return Reply::error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
    }
    ctx.state.functions.clear();
    // A fresh VM on next use: the old one's memory goes with it.
    *ctx.server.functions.lock() = None;
    propagate(ctx, argv);
    Reply::ok()
}

/// FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE]
fn list(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let mut with_code = false;
    let mut pattern: Option<&Bytes> = None;
    let mut at = 2;
    while at < argv.len() {
        let arg = &argv[at];
        if !with_code && arg.eq_ignore_ascii_case(b"withcode") {
            with_code = true;
        } else if pattern.is_none() && arg.eq_ignore_ascii_case(b"libraryname") {
            let Some(given) = argv.get(at + 1) else {
                return Reply::error("ERR library name argument was not given");
            };
            pattern = Some(given);
            at += 1;
        } else {
            return Reply::error(format!(
                "ERR Unknown argument {}",
                String::from_utf8_lossy(arg)
            ));
        }
        at += 1;
    }
    let libraries = ctx
        .state
        .functions
        .iter()
        .filter(|library| {
            pattern.is_none_or(|p| crate::util::glob::matches(p, library.name.as_bytes(), true))
        })
        .map(|library| {
            let mut fields = vec![
                (
                    Reply::bulk_str("library_name"),
                    Reply::bulk_str(&library.name),
                ),
                (Reply::bulk_str("engine"), Reply::bulk_str(ENGINE_NAME)),
                (
                    Reply::bulk_str("functions"),
                    Reply::Array(library.functions.values().map(function_entry).collect()),
                ),
            ];
            if with_code {
                fields.push((
                    Reply::bulk_str("library_code"),
                    Reply::Bulk(library.code.clone()),
                ));
            }
            Reply::Map(fields)
        })
        .collect();
    Reply::Array(libraries)
}

fn function_entry(meta: &FunctionMeta) -> Reply {
    let flags = &meta.flags;
    let flag_names = [
        (flags.no_writes, "no-writes"),
        (flags.allow_oom, "allow-oom"),
        (flags.allow_stale, "allow-stale"),
        (flags.no_cluster, "no-cluster"),
        (flags.allow_cross_slot_keys, "allow-cross-slot-keys"),
    ];
    Reply::Map(vec![
        (Reply::bulk_str("name"), Reply::bulk_str(&meta.name)),
        (
            Reply::bulk_str("description"),
            meta.description.clone().map_or(Reply::Nil, Reply::Bulk),
        ),
        (
            Reply::bulk_str("flags"),
            Reply::Set(
                flag_names
                    .iter()
                    .filter(|(set, _)| *set)
                    .map(|(_, name)| Reply::simple(*name))
                    .collect(),
            ),
        ),
    ])
}

/// FUNCTION STATS while a function runs (answered without the lock: the counts are those
/// taken when it started).
pub fn running_stats(watch: &ScriptWatch) -> Reply {
    let running = watch.describe().unwrap_or_default();
    let duration_ms = crate::server::unix_time_ms().saturating_sub(watch.started_ms());
    Reply::Map(vec![
        (
            Reply::bulk_str("running_script"),
            Reply::Map(vec![
                (Reply::bulk_str("name"), Reply::bulk_str(&running.name)),
                (
                    Reply::bulk_str("command"),
                    Reply::Array(running.command.into_iter().map(Reply::Bulk).collect()),
                ),
                (Reply::bulk_str("duration_ms"), Reply::integer(duration_ms)),
            ]),
        ),
        engines_stats(running.libraries_count, running.functions_count),
    ])
}

fn engines_stats(libraries_count: usize, functions_count: usize) -> (Reply, Reply) {
    (
        Reply::bulk_str("engines"),
        Reply::Map(vec![(
            Reply::bulk_str(ENGINE_NAME),
            Reply::Map(vec![
                (
                    Reply::bulk_str("libraries_count"),
                    Reply::integer(libraries_count),
                ),
                (
                    Reply::bulk_str("functions_count"),
                    Reply::integer(functions_count),
                ),
            ]),
        )]),
    )
}

/// FUNCTION STATS: nothing runs while a command does; the engine's counts.
fn stats(ctx: &mut Ctx<'_>) -> Reply {
    let functions = &ctx.state.functions;
    Reply::Map(vec![
        (Reply::bulk_str("running_script"), Reply::Nil),
        engines_stats(functions.len(), functions.function_count()),
    ])
}

fn dump(ctx: &mut Ctx<'_>) -> Reply {
    let codes = ctx.state.functions.codes();
    let compress = ctx
        .state
        .config
        .get("rdbcompression")
        .is_none_or(|v| v == "yes");
    Reply::Bulk(crate::snapshot::dump::dump_functions(&codes, compress))
}

/// FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE]
fn restore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    if argv.len() > 4 {
        return Reply::error(errors::subcommand_syntax(&argv[1], "function"));
    }
    #[derive(PartialEq)]
    enum Policy {
        Append,
        Replace,
        Flush,
    }
    let policy = match argv.get(3) {
        None => Policy::Append,
        Some(p) if p.eq_ignore_ascii_case(b"append") => Policy::Append,
        Some(p) if p.eq_ignore_ascii_case(b"replace") => Policy::Replace,
        Some(p) if p.eq_ignore_ascii_case(b"flush") => Policy::Flush,
        Some(_) => {
            return Reply::error(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            );
        }
    };
    let codes = match crate::snapshot::dump::restore_functions(&argv[2]) {
        Ok(codes) => codes,
        Err(e) => return Reply::error(format!("ERR {e}")),
    };
    // The libraries after the restore, checked in full before anything changes.
    let mut candidate = if policy == Policy::Flush {
        Libraries::default()
    } else {
        ctx.state.functions.clone()
    };
    let mut restored = Libraries::default();
    let watch = &ctx.server.script_watch;
    for code in &codes {
        match library::compile_alone(&restored, code, watch) {
            Ok(library) => restored.insert(library),
            Err(text) => return Reply::error(format!("ERR {text}")),
        }
    }
    for library in restored.iter() {
        let name = &library.name;
        if candidate.get(name).is_some() && policy == Policy::Append {
            return Reply::error(format!("ERR Library {name} already exists"));
        }
        let names: Vec<String> = library.functions.keys().cloned().collect();
        candidate.remove(name);
        if let Some(taken) = candidate.colliding_function(name, &names) {
            return Reply::error(format!("ERR Function {taken} already exists"));
        }
        candidate.insert(library.clone());
    }
    let vm = match library::build_vm(&candidate, watch) {
        Ok(vm) => vm,
        Err(text) => return Reply::error(format!("ERR {text}")),
    };
    ctx.state.functions = candidate;
    let mut vm = vm;
    vm.set_libraries_generation(ctx.state.functions.generation());
    *ctx.server.functions.lock() = Some(vm);
    propagate(ctx, argv);
    Reply::ok()
}

fn help() -> Reply {
    Reply::Array(
        [
            "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "LOAD [REPLACE] <FUNCTION CODE>",
            "    Create a new library with the given library name and code.",
            "DELETE <LIBRARY NAME>",
            "    Delete the given library.",
            "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
            "    Return general information on all the libraries:",
            "    * Library name",
            "    * The engine used to run the Library",
            "    * Library description",
            "    * Functions list",
            "    * Library code (if WITHCODE is given)",
            "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
            "STATS",
            "    Return information about the current function running:",
            "    * Function name",
            "    * Command used to run the function",
            "    * Duration in MS that the function is running",
            "    If no function is running, return nil",
            "    In addition, returns a list of available engines.",
            "KILL",
            "    Kill the current running function.",
            "FLUSH [ASYNC|SYNC]",
            "    Delete all the libraries.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the libraries.",
            "    * SYNC: Synchronously flush the libraries.",
            "DUMP",
            "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
            "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
            "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
            "    control how to handle existing libraries (default APPEND):",
            "    * FLUSH: delete all existing libraries.",
            "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
            "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
            "      libraries with the new libraries (notice that even on this option there is a chance of failure",
            "      in case of functions name collision with another library).",
            "HELP",
            "    Prints this help.",
        ]
        .iter()
        .map(|line| Reply::simple(*line))
        .collect(),
    )
}

pub fn fcall(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    fcall_generic(ctx, argv, false)
}

pub fn fcall_ro(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    fcall_generic(ctx, argv, true)
}

fn fcall_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], ro: bool) -> Reply {
    let name = String::from_utf8_lossy(&argv[1]).into_owned();
    let Some(flags) = ctx
        .state
        .functions
        .function(&name)
        .map(|(_, meta)| meta.flags)
    else {
        return Reply::error("ERR Function not found");
    };
    let Some(numkeys) = crate::util::num::parse_i64(&argv[2]) else {
        return Reply::error("ERR Bad number of keys provided");
    };
    let available = argv.len() - 3;
    if numkeys > i64::try_from(available).unwrap_or(i64::MAX) {
        return Reply::error("ERR Number of keys can't be greater than number of args");
    }
    let Ok(numkeys) = usize::try_from(numkeys) else {
        return Reply::error("ERR Number of keys can't be negative");
    };
    if let Some(refusal) = refusal_before_run(ctx, flags, ro) {
        return Reply::error(refusal);
    }
    let server = ctx.server;
    let mut slot = server.functions.lock();
    let engine = match synced(&mut slot, &ctx.state.functions, &ctx.server.script_watch) {
        Ok(engine) => engine,
        Err(reply) => return reply,
    };
    run_script(
        ctx,
        ScriptCall {
            kind: ScriptKind::Function,
            name: name.clone(),
            argv,
            numkeys,
            read_only: ro || flags.no_writes,
            allow_oom: flags.allow_oom,
        },
        |host, run| engine.call_function(&name, run, host),
    )
}
