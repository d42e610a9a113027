//! Geo commands on sorted sets whose scores are Redis's 52-bit geohashes: GEOADD (NX XX
//! CH), GEOPOS, GEODIST, GEOHASH and the searches (GEORADIUS, GEORADIUSBYMEMBER, their _RO
//! forms, GEOSEARCH, GEOSEARCHSTORE), with Redis 7.0's replies and errors. GEOADD runs as
//! the ZADD it stands for and replicas get that ZADD, as Redis propagates it; the STORE
//! searches propagate as they came.

mod area;
mod commands;
mod hash;
mod search;
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
    command!(
        "georadius",
        -6,
        WRITE | DENYOOM,
        (1, 1, 1),
        "geo",
        search::georadius
    ),
    command!(
        "georadius_ro",
        -6,
        READONLY,
        (1, 1, 1),
        "geo",
        search::georadius_ro
    ),
    command!(
        "georadiusbymember",
        -5,
        WRITE | DENYOOM,
        (1, 1, 1),
        "geo",
        search::georadiusbymember
    ),
    command!(
        "georadiusbymember_ro",
        -5,
        READONLY,
        (1, 1, 1),
        "geo",
        search::georadiusbymember_ro
    ),
    command!(
        "geosearch",
        -7,
        READONLY,
        (1, 1, 1),
        "geo",
        search::geosearch
    ),
    command!(
        "geosearchstore",
        -8,
        WRITE | DENYOOM,
        (1, 2, 1),
        "geo",
        search::geosearchstore
    ),
];
