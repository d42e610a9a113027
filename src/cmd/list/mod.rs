//! List commands: pushes and pops at either end, index and range access, in-place edits,
//! moves between lists, and the blocking pops.

pub(crate) mod blocking;
mod edit;
mod lmove;
mod lmpop;
mod lpos;
mod pop;
mod push;
mod read;
mod shared;
#[cfg(test)]
mod tests;

use crate::cmd::CommandSpec;
use crate::cmd::flags::*;
use crate::command;

pub const COMMANDS: &[CommandSpec] = &[
    command!(
        "lpush",
        -3,
        WRITE | DENYOOM | FAST,
        (1, 1, 1),
        "list",
        push::lpush
    ),
    command!(
        "rpush",
        -3,
        WRITE | DENYOOM | FAST,
        (1, 1, 1),
        "list",
        push::rpush
    ),
    command!(
        "lpushx",
        -3,
        WRITE | DENYOOM | FAST,
        (1, 1, 1),
        "list",
        push::lpushx
    ),
    command!(
        "rpushx",
        -3,
        WRITE | DENYOOM | FAST,
        (1, 1, 1),
        "list",
        push::rpushx
    ),
    command!("lpop", -2, WRITE | FAST, (1, 1, 1), "list", pop::lpop),
    command!("rpop", -2, WRITE | FAST, (1, 1, 1), "list", pop::rpop),
    command!("llen", 2, READONLY | FAST, (1, 1, 1), "list", read::llen),
    command!("lrange", 4, READONLY, (1, 1, 1), "list", read::lrange),
    command!("lindex", 3, READONLY, (1, 1, 1), "list", read::lindex),
    command!("lset", 4, WRITE | DENYOOM, (1, 1, 1), "list", edit::lset),
    command!("lrem", 4, WRITE, (1, 1, 1), "list", edit::lrem),
    command!("ltrim", 4, WRITE, (1, 1, 1), "list", edit::ltrim),
    command!(
        "linsert",
        5,
        WRITE | DENYOOM,
        (1, 1, 1),
        "list",
        edit::linsert
    ),
    command!("lpos", -3, READONLY, (1, 1, 1), "list", lpos::lpos),
    command!("lmove", 5, WRITE | DENYOOM, (1, 2, 1), "list", lmove::lmove),
    command!(
        "rpoplpush",
        3,
        WRITE | DENYOOM,
        (1, 2, 1),
        "list",
        lmove::rpoplpush
    ),
    command!("lmpop", -4, WRITE, (0, 0, 0), "list", lmpop::lmpop),
    command!(
        "blpop",
        -3,
        WRITE | NOSCRIPT | BLOCKING,
        (1, -2, 1),
        "list",
        blocking::blpop
    ),
    command!(
        "brpop",
        -3,
        WRITE | NOSCRIPT | BLOCKING,
        (1, -2, 1),
        "list",
        blocking::brpop
    ),
    command!(
        "blmove",
        6,
        WRITE | DENYOOM | NOSCRIPT | BLOCKING,
        (1, 2, 1),
        "list",
        blocking::blmove
    ),
    command!(
        "brpoplpush",
        4,
        WRITE | DENYOOM | NOSCRIPT | BLOCKING,
        (1, 2, 1),
        "list",
        blocking::brpoplpush
    ),
    command!(
        "blmpop",
        -5,
        WRITE | BLOCKING,
        (0, 0, 0),
        "list",
        blocking::blmpop
    ),
];
