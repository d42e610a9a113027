//! Server commands: INFO CONFIG COMMAND TIME LASTSAVE SAVE BGSAVE SHUTDOWN DEBUG MONITOR.

mod command;
mod config;
mod debug;
pub mod info;
pub mod info_memory;
mod latency;
mod lolwut;
mod memory;
mod misc;
mod replicaof;
mod save;
pub mod shutdown;
mod slowlog;

use crate::cmd::CommandSpec;
use crate::cmd::flags::*;
use crate::command;

pub const COMMANDS: &[CommandSpec] = &[
    command!("info", -1, LOADING | STALE, (0, 0, 0), "server", info::info),
    command!(
        "lolwut",
        -1,
        READONLY | FAST,
        (0, 0, 0),
        "server",
        lolwut::lolwut
    ),
    command!(
        "slowlog",
        -2,
        ADMIN | LOADING | STALE,
        (0, 0, 0),
        "server",
        slowlog::slowlog
    ),
    command!(
        "latency",
        -2,
        ADMIN | NOSCRIPT | LOADING | STALE,
        (0, 0, 0),
        "server",
        latency::latency
    ),
    command!("memory", -2, READONLY, (0, 0, 0), "server", memory::memory),
    command!(
        "config",
        -2,
        ADMIN | NOSCRIPT | LOADING | STALE,
        (0, 0, 0),
        "server",
        config::config
    ),
    command!(
        "command",
        -1,
        LOADING | STALE,
        (0, 0, 0),
        "server",
        command::command
    ),
    command!(
        "time",
        1,
        LOADING | STALE | FAST,
        (0, 0, 0),
        "server",
        misc::time
    ),
    command!(
        "lastsave",
        1,
        LOADING | STALE | FAST,
        (0, 0, 0),
        "server",
        misc::lastsave
    ),
    command!(
        "save",
        1,
        ADMIN | NOSCRIPT | NO_MULTI,
        (0, 0, 0),
        "server",
        save::save
    ),
    command!(
        "bgsave",
        -1,
        ADMIN | NOSCRIPT,
        (0, 0, 0),
        "server",
        save::bgsave
    ),
    command!(
        "shutdown",
        -1,
        ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI | ALLOW_BUSY,
        (0, 0, 0),
        "server",
        misc::shutdown
    ),
    command!(
        "debug",
        -2,
        ADMIN | NOSCRIPT | LOADING | STALE,
        (0, 0, 0),
        "server",
        debug::debug
    ),
    command!(
        "monitor",
        1,
        ADMIN | NOSCRIPT | LOADING | STALE,
        (0, 0, 0),
        "server",
        misc::monitor
    ),
    command!(
        "replicaof",
        3,
        ADMIN | NOSCRIPT | STALE,
        (0, 0, 0),
        "server",
        replicaof::replicaof
    ),
    command!(
        "slaveof",
        3,
        ADMIN | NOSCRIPT | STALE,
        (0, 0, 0),
        "server",
        replicaof::replicaof
    ),
];
