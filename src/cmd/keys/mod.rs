//! Keyspace ("generic") commands: deletion and existence, expiry, renaming and copying,
//! iteration, whole-database operations, OBJECT.

mod del;
mod dump;
mod expire;
mod flush;
mod keyspace;
pub mod migrate;
mod object;
mod rename;
mod sort;
mod ttl;

use crate::cmd::CommandSpec;
use crate::cmd::flags::*;
use crate::command;

pub const COMMANDS: &[CommandSpec] = &[
    command!("del", -2, WRITE, (1, -1, 1), "generic", del::del),
    command!("unlink", -2, WRITE | FAST, (1, -1, 1), "generic", del::del),
    command!(
        "exists",
        -2,
        READONLY | FAST,
        (1, -1, 1),
        "generic",
        del::exists
    ),
    command!(
        "touch",
        -2,
        READONLY | FAST,
        (1, -1, 1),
        "generic",
        del::exists
    ),
    command!("type", 2, READONLY | FAST, (1, 1, 1), "generic", del::type_),
    command!(
        "expire",
        -3,
        WRITE | FAST,
        (1, 1, 1),
        "generic",
        expire::expire
    ),
    command!(
        "pexpire",
        -3,
        WRITE | FAST,
        (1, 1, 1),
        "generic",
        expire::pexpire
    ),
    command!(
        "expireat",
        -3,
        WRITE | FAST,
        (1, 1, 1),
        "generic",
        expire::expireat
    ),
    command!(
        "pexpireat",
        -3,
        WRITE | FAST,
        (1, 1, 1),
        "generic",
        expire::pexpireat
    ),
    command!(
        "persist",
        2,
        WRITE | FAST,
        (1, 1, 1),
        "generic",
        expire::persist
    ),
    command!("ttl", 2, READONLY | FAST, (1, 1, 1), "generic", ttl::ttl),
    command!("pttl", 2, READONLY | FAST, (1, 1, 1), "generic", ttl::pttl),
    command!(
        "expiretime",
        2,
        READONLY | FAST,
        (1, 1, 1),
        "generic",
        ttl::expiretime
    ),
    command!(
        "pexpiretime",
        2,
        READONLY | FAST,
        (1, 1, 1),
        "generic",
        ttl::pexpiretime
    ),
    command!("rename", 3, WRITE, (1, 2, 1), "generic", rename::rename),
    command!(
        "renamenx",
        3,
        WRITE | FAST,
        (1, 2, 1),
        "generic",
        rename::renamenx
    ),
    command!("move", 3, WRITE | FAST, (1, 1, 1), "generic", rename::move_),
    command!(
        "copy",
        -3,
        WRITE | DENYOOM,
        (1, 2, 1),
        "generic",
        rename::copy
    ),
    command!("dump", 2, READONLY, (1, 1, 1), "generic", dump::dump),
    command!(
        "restore",
        -4,
        WRITE | DENYOOM,
        (1, 1, 1),
        "generic",
        dump::restore
    ),
    command!("migrate", -6, WRITE, (3, 3, 1), "generic", migrate::migrate),
    command!(
        "sort",
        -2,
        WRITE | DENYOOM,
        (1, 1, 1),
        "generic",
        sort::sort
    ),
    command!("sort_ro", -2, READONLY, (1, 1, 1), "generic", sort::sort_ro),
    command!("keys", 2, READONLY, (0, 0, 0), "generic", keyspace::keys),
    command!("scan", -2, READONLY, (0, 0, 0), "generic", keyspace::scan),
    command!(
        "randomkey",
        1,
        READONLY,
        (0, 0, 0),
        "generic",
        keyspace::randomkey
    ),
    command!(
        "dbsize",
        1,
        READONLY | FAST,
        (0, 0, 0),
        "server",
        keyspace::dbsize
    ),
    command!("flushdb", -1, WRITE, (0, 0, 0), "server", flush::flushdb),
    command!("flushall", -1, WRITE, (0, 0, 0), "server", flush::flushall),
    command!(
        "swapdb",
        3,
        WRITE | FAST,
        (0, 0, 0),
        "server",
        flush::swapdb
    ),
    command!("object", -2, READONLY, (0, 0, 0), "generic", object::object),
];

#[cfg(test)]
mod dump_tests;
#[cfg(test)]
mod sort_tests;
#[cfg(test)]
pub(crate) mod test_support;
#[cfg(test)]
mod tests;
