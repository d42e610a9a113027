//! Bitmap commands on strings: SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD BITFIELD_RO, with
//! Redis 7.0's replies, errors and effects (each propagated as it came).

mod bits;
mod commands;
mod field;
#[cfg(test)]
mod tests;

use crate::cmd::CommandSpec;
use crate::cmd::flags::*;
use crate::command;

pub const COMMANDS: &[CommandSpec] = &[
    command!(
        "setbit",
        4,
        WRITE | DENYOOM,
        (1, 1, 1),
        "bitmap",
        commands::setbit
    ),
    command!(
        "getbit",
        3,
        READONLY | FAST,
        (1, 1, 1),
        "bitmap",
        commands::getbit
    ),
    command!(
        "bitcount",
        -2,
        READONLY,
        (1, 1, 1),
        "bitmap",
        commands::bitcount
    ),
    command!(
        "bitpos",
        -3,
        READONLY,
        (1, 1, 1),
        "bitmap",
        commands::bitpos
    ),
    command!(
        "bitop",
        -4,
        WRITE | DENYOOM,
        (2, -1, 1),
        "bitmap",
        commands::bitop
    ),
    command!(
        "bitfield",
        -2,
        WRITE | DENYOOM,
        (1, 1, 1),
        "bitmap",
        field::bitfield
    ),
    command!(
        "bitfield_ro",
        -2,
        READONLY | FAST,
        (1, 1, 1),
        "bitmap",
        field::bitfield_ro
    ),
];
