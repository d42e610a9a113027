//! Set commands: SADD SREM SMOVE SISMEMBER SMISMEMBER SCARD SMEMBERS SPOP SRANDMEMBER
//! SINTER SINTERCARD SINTERSTORE SUNION SUNIONSTORE SDIFF SDIFFSTORE SSCAN.
//!
//! Sets are hash sets; Redis keeps small sets of integers as a sorted intset, so replies
//! that list such a set's members in storage order (SMEMBERS, SSCAN, the set algebra) give
//! them sorted here too.

mod algebra;
mod members;
#[cfg(test)]
mod propagation_tests;
mod random;
mod scan;
pub(crate) mod shared;

pub(crate) use random::distinct_indices as random_indices;

use bytes::Bytes;

use crate::cmd::flags::*;
use crate::cmd::{CommandSpec, Ctx};
use crate::command;
use crate::util::num::parse_i64;

pub const COMMANDS: &[CommandSpec] = &[
    command!(
        "sadd",
        -3,
        WRITE | DENYOOM | FAST,
        (1, 1, 1),
        "set",
        members::sadd
    ),
    command!("srem", -3, WRITE | FAST, (1, 1, 1), "set", members::srem),
    command!("smove", 4, WRITE | FAST, (1, 2, 1), "set", members::smove),
    command!(
        "sismember",
        3,
        READONLY | FAST,
        (1, 1, 1),
        "set",
        members::sismember
    ),
    command!(
        "smismember",
        -3,
        READONLY | FAST,
        (1, 1, 1),
        "set",
        members::smismember
    ),
    command!(
        "scard",
        2,
        READONLY | FAST,
        (1, 1, 1),
        "set",
        members::scard
    ),
    command!("smembers", 2, READONLY, (1, 1, 1), "set", members::smembers),
    command!("spop", -2, WRITE | FAST, (1, 1, 1), "set", random::spop),
    command!(
        "srandmember",
        -2,
        READONLY,
        (1, 1, 1),
        "set",
        random::srandmember
    ),
    command!("sinter", -2, READONLY, (1, -1, 1), "set", algebra::sinter),
    command!(
        "sintercard",
        -3,
        READONLY,
        (0, 0, 0),
        "set",
        algebra::sintercard
    ),
    command!(
        "sinterstore",
        -3,
        WRITE | DENYOOM,
        (1, -1, 1),
        "set",
        algebra::sinterstore
    ),
    command!("sunion", -2, READONLY, (1, -1, 1), "set", algebra::sunion),
    command!(
        "sunionstore",
        -3,
        WRITE | DENYOOM,
        (1, -1, 1),
        "set",
        algebra::sunionstore
    ),
    command!("sdiff", -2, READONLY, (1, -1, 1), "set", algebra::sdiff),
    command!(
        "sdiffstore",
        -3,
        WRITE | DENYOOM,
        (1, -1, 1),
        "set",
        algebra::sdiffstore
    ),
    command!("sscan", -3, READONLY, (1, 1, 1), "set", scan::sscan),
];

/// True if Redis would hold a set of these members as an intset (integers only, and no
/// more than `set-max-intset-entries`), whose iteration order is ascending.
fn is_intset_like<'a>(
    ctx: &Ctx<'_>,
    len: usize,
    mut members: impl Iterator<Item = &'a Bytes>,
) -> bool {
    len <= shared::config_usize(ctx, "set-max-intset-entries", 512)
        && members.all(|m| parse_i64(m).is_some())
}

/// Puts members in the order Redis would list them: ascending for an intset, as they come
/// otherwise.
fn storage_order(ctx: &Ctx<'_>, mut members: Vec<Bytes>) -> Vec<Bytes> {
    if is_intset_like(ctx, members.len(), members.iter()) {
        members.sort_unstable_by_key(|m| parse_i64(m).unwrap_or_default());
    }
    members
}
