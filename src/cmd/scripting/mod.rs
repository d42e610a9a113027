//! EVAL EVALSHA EVAL_RO EVALSHA_RO SCRIPT: Lua scripts run by the engine in
//! [`crate::script`], their commands run here through [`host::ScriptHost`].

mod eval;
mod function;
mod host;
mod script;

use crate::cmd::CommandSpec;
use crate::cmd::flags::*;
use crate::command;

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
