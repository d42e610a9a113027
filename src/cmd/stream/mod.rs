//! Stream commands (Redis 7.0): XADD XLEN XRANGE XREVRANGE XDEL XTRIM XSETID XREAD, the
//! consumer groups' XGROUP XREADGROUP XACK XPENDING XCLAIM XAUTOCLAIM (both reads block),
//! and XINFO; Redis 8.2's XDELEX and XACKDEL, and the KEEPREF/DELREF/ACKED of XADD and
//! XTRIM.

mod add;
mod group;
mod id;
mod info;
mod pel;
mod range;
mod read;
mod read_args;
mod readgroup;
mod refs;
mod remove;
mod shared;
#[cfg(test)]
mod tests;
mod trim;

use crate::cmd::CommandSpec;
use crate::cmd::flags::*;
use crate::command;

pub(crate) use read::serve_xread;
pub(crate) use readgroup::serve_xreadgroup;

pub const COMMANDS: &[CommandSpec] = &[
    command!(
        "xadd",
        -5,
        WRITE | DENYOOM | FAST,
        (1, 1, 1),
        "stream",
        add::xadd
    ),
    command!("xlen", 2, READONLY | FAST, (1, 1, 1), "stream", range::xlen),
    command!("xrange", -4, READONLY, (1, 1, 1), "stream", range::xrange),
    command!(
        "xrevrange",
        -4,
        READONLY,
        (1, 1, 1),
        "stream",
        range::xrevrange
    ),
    command!("xdel", -3, WRITE | FAST, (1, 1, 1), "stream", remove::xdel),
    command!(
        "xdelex",
        -5,
        WRITE | FAST,
        (1, 1, 1),
        "stream",
        refs::xdelex
    ),
    command!(
        "xackdel",
        -6,
        WRITE | FAST,
        (1, 1, 1),
        "stream",
        refs::xackdel
    ),
    command!("xtrim", -4, WRITE, (1, 1, 1), "stream", remove::xtrim),
    command!(
        "xsetid",
        -3,
        WRITE | DENYOOM | FAST,
        (1, 1, 1),
        "stream",
        remove::xsetid
    ),
    command!("xread", -4, READONLY, (0, 0, 0), "stream", read::xread),
    command!("xinfo", -2, READONLY, (2, 2, 1), "stream", info::xinfo),
    command!("xgroup", -2, WRITE, (2, 2, 1), "stream", group::xgroup),
    command!(
        "xreadgroup",
        -7,
        WRITE,
        (0, 0, 0),
        "stream",
        readgroup::xreadgroup
    ),
    command!("xack", -4, WRITE | FAST, (1, 1, 1), "stream", pel::xack),
    command!("xpending", -3, READONLY, (1, 1, 1), "stream", pel::xpending),
    command!("xclaim", -6, WRITE | FAST, (1, 1, 1), "stream", pel::xclaim),
    command!(
        "xautoclaim",
        -6,
        WRITE | FAST,
        (1, 1, 1),
        "stream",
        pel::xautoclaim
    ),
];
