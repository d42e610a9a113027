//! Hash commands.

mod all;
mod del;
mod field_args;
mod field_expire;
#[cfg(test)]
mod field_expire_tests;
mod get;
mod getex;
mod incr;
mod random;
mod scan;
mod set;
mod shared;
#[cfg(test)]
mod tests;

use crate::cmd::CommandSpec;
use crate::cmd::flags::*;
use crate::command;

pub const COMMANDS: &[CommandSpec] = &[
    command!(
        "hset",
        -4,
        WRITE | DENYOOM | FAST,
        (1, 1, 1),
        "hash",
        set::hset
    ),
    command!(
        "hsetnx",
        4,
        WRITE | DENYOOM | FAST,
        (1, 1, 1),
        "hash",
        set::hsetnx
    ),
    command!(
        "hmset",
        -4,
        WRITE | DENYOOM | FAST,
        (1, 1, 1),
        "hash",
        set::hmset
    ),
    command!("hget", 3, READONLY | FAST, (1, 1, 1), "hash", get::hget),
    command!("hmget", -3, READONLY | FAST, (1, 1, 1), "hash", get::hmget),
    command!(
        "hexists",
        3,
        READONLY | FAST,
        (1, 1, 1),
        "hash",
        get::hexists
    ),
    command!(
        "hstrlen",
        3,
        READONLY | FAST,
        (1, 1, 1),
        "hash",
        get::hstrlen
    ),
    command!("hlen", 2, READONLY | FAST, (1, 1, 1), "hash", get::hlen),
    command!("hdel", -3, WRITE | FAST, (1, 1, 1), "hash", del::hdel),
    command!("hkeys", 2, READONLY, (1, 1, 1), "hash", all::hkeys),
    command!("hvals", 2, READONLY, (1, 1, 1), "hash", all::hvals),
    command!("hgetall", 2, READONLY, (1, 1, 1), "hash", all::hgetall),
    command!(
        "hincrby",
        4,
        WRITE | DENYOOM | FAST,
        (1, 1, 1),
        "hash",
        incr::hincrby
    ),
    command!(
        "hincrbyfloat",
        4,
        WRITE | DENYOOM | FAST,
        (1, 1, 1),
        "hash",
        incr::hincrbyfloat
    ),
    command!(
        "hrandfield",
        -2,
        READONLY,
        (1, 1, 1),
        "hash",
        random::hrandfield
    ),
    command!("hscan", -3, READONLY, (1, 1, 1), "hash", scan::hscan),
    command!(
        "hexpire",
        -6,
        WRITE | FAST,
        (1, 1, 1),
        "hash",
        field_expire::hexpire
    ),
    command!(
        "hpexpire",
        -6,
        WRITE | FAST,
        (1, 1, 1),
        "hash",
        field_expire::hpexpire
    ),
    command!(
        "hexpireat",
        -6,
        WRITE | FAST,
        (1, 1, 1),
        "hash",
        field_expire::hexpireat
    ),
    command!(
        "hpexpireat",
        -6,
        WRITE | FAST,
        (1, 1, 1),
        "hash",
        field_expire::hpexpireat
    ),
    command!(
        "httl",
        -5,
        READONLY | FAST,
        (1, 1, 1),
        "hash",
        field_expire::httl
    ),
    command!(
        "hpttl",
        -5,
        READONLY | FAST,
        (1, 1, 1),
        "hash",
        field_expire::hpttl
    ),
    command!(
        "hexpiretime",
        -5,
        READONLY | FAST,
        (1, 1, 1),
        "hash",
        field_expire::hexpiretime
    ),
    command!(
        "hpexpiretime",
        -5,
        READONLY | FAST,
        (1, 1, 1),
        "hash",
        field_expire::hpexpiretime
    ),
    command!(
        "hpersist",
        -5,
        WRITE | FAST,
        (1, 1, 1),
        "hash",
        field_expire::hpersist
    ),
    command!("hgetex", -5, WRITE | FAST, (1, 1, 1), "hash", getex::hgetex),
    command!(
        "hsetex",
        -6,
        WRITE | DENYOOM | FAST,
        (1, 1, 1),
        "hash",
        getex::hsetex
    ),
    command!(
        "hgetdel",
        -5,
        WRITE | FAST,
        (1, 1, 1),
        "hash",
        getex::hgetdel
    ),
];
