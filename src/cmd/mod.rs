//! Commands: the table, the execution context they run in, and the dispatcher.
//!
//! Flow (as in mini-redis): the connection parses a frame into argv, [`dispatch::execute`]
//! finds the [`CommandSpec`], checks arity, auth and context, and calls its handler with a
//! [`Ctx`] that reaches the keyspace. One family of commands per directory, one command (or
//! a few tightly related variants) per file.

pub mod ctx;
pub mod dispatch;
pub mod errors;
pub mod table;

pub mod bitmap;
pub mod cluster;
pub mod connection;
pub mod geo;
pub mod hash;
pub mod hll;
pub mod key_positions;
pub mod key_specs;
pub mod keys;
pub mod list;
pub mod pubsub;
pub mod redact;
pub mod repl;
pub mod scripting;
pub mod server;

#[cfg(test)]
mod durability_tests;
pub mod set;
pub mod stream;
pub mod string;
pub mod subcommands;
pub mod transaction;
pub mod zset;

use bytes::Bytes;

pub use ctx::Ctx;
pub use table::{CommandSpec, lookup};

use crate::resp::Reply;

pub type Handler = fn(&mut Ctx<'_>, &[Bytes]) -> Reply;

/// Command flags, a subset of Redis's with the same meaning.
pub mod flags {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const PUBSUB: u32 = 1 << 4;
    pub const NOSCRIPT: u32 = 1 << 5;
    pub const BLOCKING: u32 = 1 << 6;
    pub const LOADING: u32 = 1 << 7;
    pub const STALE: u32 = 1 << 8;
    pub const NO_AUTH: u32 = 1 << 9;
    pub const FAST: u32 = 1 << 10;
    pub const NO_MULTI: u32 = 1 << 11;
    pub const SKIP_MONITOR: u32 = 1 << 12;
    pub const ALLOW_BUSY: u32 = 1 << 13;
    pub const MAY_REPLICATE: u32 = 1 << 14;
}

/// Builds a [`CommandSpec`] in the families' `COMMANDS` tables.
#[macro_export]
macro_rules! command {
    ($name:literal, $arity:expr, $flags:expr, ($first:expr, $last:expr, $step:expr), $group:literal, $handler:path) => {
        $crate::cmd::CommandSpec {
            name: $name,
            arity: $arity,
            flags: $flags,
            first_key: $first,
            last_key: $last,
            key_step: $step,
            group: $group,
            handler: $handler,
        }
    };
}
