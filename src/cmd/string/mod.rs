//! String commands: GET/SET and variants, MGET/MSET, counters, byte ranges, LCS.

mod conditional;
#[cfg(test)]
mod conditional_tests;
mod get;
mod incr;
mod lcs;
mod multi;
pub(crate) mod range;
mod set;

use bytes::Bytes;

use crate::cmd::flags::*;
use crate::cmd::{CommandSpec, Ctx, errors};
use crate::command;
use crate::resp::Reply;
use crate::store::{Entry, StrValue, Value};

pub const COMMANDS: &[CommandSpec] = &[
    command!("get", 2, READONLY | FAST, (1, 1, 1), "string", get::get),
    command!("set", -3, WRITE | DENYOOM, (1, 1, 1), "string", set::set),
    command!(
        "msetex",
        -4,
        WRITE | DENYOOM,
        (2, -1, 2),
        "string",
        multi::msetex
    ),
    command!(
        "delex",
        -2,
        WRITE | FAST,
        (1, 1, 1),
        "string",
        conditional::delex
    ),
    command!(
        "delifeq",
        3,
        WRITE | FAST,
        (1, 1, 1),
        "string",
        conditional::delifeq
    ),
    command!(
        "digest",
        2,
        READONLY | FAST,
        (1, 1, 1),
        "string",
        conditional::digest_command
    ),
    command!(
        "setnx",
        3,
        WRITE | DENYOOM | FAST,
        (1, 1, 1),
        "string",
        set::setnx
    ),
    command!("setex", 4, WRITE | DENYOOM, (1, 1, 1), "string", set::setex),
    command!(
        "psetex",
        4,
        WRITE | DENYOOM,
        (1, 1, 1),
        "string",
        set::psetex
    ),
    command!(
        "getset",
        3,
        WRITE | DENYOOM | FAST,
        (1, 1, 1),
        "string",
        get::getset
    ),
    command!("getdel", 2, WRITE | FAST, (1, 1, 1), "string", get::getdel),
    command!("getex", -2, WRITE | FAST, (1, 1, 1), "string", get::getex),
    command!(
        "mget",
        -2,
        READONLY | FAST,
        (1, -1, 1),
        "string",
        multi::mget
    ),
    command!(
        "mset",
        -3,
        WRITE | DENYOOM,
        (1, -1, 2),
        "string",
        multi::mset
    ),
    command!(
        "msetnx",
        -3,
        WRITE | DENYOOM,
        (1, -1, 2),
        "string",
        multi::msetnx
    ),
    command!(
        "append",
        3,
        WRITE | DENYOOM | FAST,
        (1, 1, 1),
        "string",
        range::append
    ),
    command!(
        "strlen",
        2,
        READONLY | FAST,
        (1, 1, 1),
        "string",
        range::strlen
    ),
    command!(
        "getrange",
        4,
        READONLY,
        (1, 1, 1),
        "string",
        range::getrange
    ),
    command!("substr", 4, READONLY, (1, 1, 1), "string", range::getrange),
    command!(
        "setrange",
        4,
        WRITE | DENYOOM,
        (1, 1, 1),
        "string",
        range::setrange
    ),
    command!(
        "incr",
        2,
        WRITE | DENYOOM | FAST,
        (1, 1, 1),
        "string",
        incr::incr
    ),
    command!(
        "decr",
        2,
        WRITE | DENYOOM | FAST,
        (1, 1, 1),
        "string",
        incr::decr
    ),
    command!(
        "incrby",
        3,
        WRITE | DENYOOM | FAST,
        (1, 1, 1),
        "string",
        incr::incrby
    ),
    command!(
        "decrby",
        3,
        WRITE | DENYOOM | FAST,
        (1, 1, 1),
        "string",
        incr::decrby
    ),
    command!(
        "incrbyfloat",
        3,
        WRITE | DENYOOM | FAST,
        (1, 1, 1),
        "string",
        incr::incrbyfloat
    ),
    command!("lcs", -3, READONLY, (1, 2, 1), "string", lcs::lcs),
];

/// The reply of GET for `key` (bulk or nil), counting a keyspace hit or miss; `Err` is the
/// WRONGTYPE reply. Shared by GET and the commands that answer with the old value.
fn old_value_reply(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Reply, Reply> {
    ctx.read_str_reply(key)
}

/// The string at `key` for a write (expired keys are removed first, no hit/miss counted);
/// `Err` is the WRONGTYPE reply.
fn current_string(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<Bytes>, Reply> {
    match ctx.lookup_write(key).map(|e| &e.value) {
        None => Ok(None),
        Some(Value::Str(v)) => Ok(Some(v.to_bytes())),
        Some(_) => Err(Reply::error(errors::WRONGTYPE)),
    }
}

/// Replaces the string at `key` keeping its TTL, as Redis's in-place overwrite does (INCR
/// and friends never touch the expiry), or creates the key. The caller has already looked
/// the key up, so an expired entry is gone by now.
fn store_keep_ttl(ctx: &mut Ctx<'_>, key: &[u8], value: Bytes) {
    match ctx.db().get_mut(key) {
        Some(entry) => entry.value = Value::Str(StrValue::from(value)),
        None => {
            ctx.insert_entry(key, Entry::new(Value::Str(StrValue::from(value))));
        }
    }
    ctx.modified(key);
}

#[cfg(test)]
mod tests;
