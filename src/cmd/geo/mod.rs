//! Geo commands on sorted sets whose scores are Redis's 52-bit geohashes: GEOADD (NX XX
//! CH), GEOPOS, GEODIST, GEOHASH, with Redis 7.0's replies and errors. GEOADD runs as the
//! ZADD it stands for and replicas get that ZADD, as Redis propagates it. The searches
//! (GEORADIUS, GEOSEARCH and their variants) are not served yet.

mod commands;
mod hash;
#[cfg(test)]
mod tests;

use crate::cmd::CommandSpec;
use crate::cmd::flags::*;
use crate::command;

pub const COMMANDS: &[CommandSpec] = &[
    command!(
        "geoadd",
        -5,
        WRITE | DENYOOM,
        (1, 1, 1),
        "geo",
        commands::geoadd
    ),
    command!("geopos", -2, READONLY, (1, 1, 1), "geo", commands::geopos),
    command!("geodist", -4, READONLY, (1, 1, 1), "geo", commands::geodist),
    command!("geohash", -2, READONLY, (1, 1, 1), "geo", commands::geohash),
];
