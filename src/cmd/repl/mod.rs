//! Replication commands on the master side: REPLCONF PSYNC SYNC WAIT ROLE FAILOVER.

mod failover;
mod replconf;
mod role;
mod sync;
mod wait;

use crate::cmd::CommandSpec;
use crate::cmd::flags::*;
use crate::command;

pub const COMMANDS: &[CommandSpec] = &[
    command!(
        "replconf",
        -1,
        ADMIN | NOSCRIPT | LOADING | STALE | ALLOW_BUSY,
        (0, 0, 0),
        "server",
        replconf::replconf
    ),
    command!(
        "psync",
        -3,
        ADMIN | NOSCRIPT | NO_MULTI,
        (0, 0, 0),
        "server",
        sync::psync
    ),
    command!(
        "sync",
        1,
        ADMIN | NOSCRIPT | NO_MULTI,
        (0, 0, 0),
        "server",
        sync::sync
    ),
    command!("wait", 3, NOSCRIPT, (0, 0, 0), "generic", wait::wait),
    command!(
        "failover",
        -1,
        ADMIN | NOSCRIPT | STALE,
        (0, 0, 0),
        "server",
        failover::failover
    ),
    command!(
        "role",
        1,
        NOSCRIPT | LOADING | STALE | FAST,
        (0, 0, 0),
        "server",
        role::role
    ),
];
