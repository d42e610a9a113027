//! HyperLogLog commands: PFADD PFCOUNT PFMERGE PFDEBUG PFSELFTEST, on strings in Redis's
//! own sparse and dense formats (`sketch.rs`), so a sketch written by sluice or by Redis
//! counts the same and holds the same bytes on the other.

mod commands;
pub(crate) mod sketch;
#[cfg(test)]
mod tests;

use crate::cmd::CommandSpec;
use crate::cmd::flags::*;
use crate::command;

pub const COMMANDS: &[CommandSpec] = &[
    command!(
        "pfadd",
        -2,
        WRITE | DENYOOM | FAST,
        (1, 1, 1),
        "hyperloglog",
        commands::pfadd
    ),
    command!(
        "pfcount",
        -2,
        READONLY | MAY_REPLICATE,
        (1, -1, 1),
        "hyperloglog",
        commands::pfcount
    ),
    command!(
        "pfmerge",
        -2,
        WRITE | DENYOOM,
        (1, -1, 1),
        "hyperloglog",
        commands::pfmerge
    ),
    command!(
        "pfdebug",
        3,
        WRITE | DENYOOM | ADMIN,
        (2, 2, 1),
        "hyperloglog",
        commands::pfdebug
    ),
    command!(
        "pfselftest",
        1,
        ADMIN,
        (0, 0, 0),
        "hyperloglog",
        commands::pfselftest
    ),
];
