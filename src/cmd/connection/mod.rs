//! Connection commands: PING ECHO SELECT QUIT AUTH HELLO RESET CLIENT.

mod auth;
mod client;
mod hello;
mod ping;
mod reset;
mod select;
mod tracking;

pub use auth::password_matches;
pub use reset::reset_session;

use crate::cmd::CommandSpec;
use crate::cmd::flags::*;
use crate::command;

pub const COMMANDS: &[CommandSpec] = &[
    command!(
        "ping",
        -1,
        FAST | STALE,
        (0, 0, 0),
        "connection",
        ping::ping
    ),
    command!("echo", 2, FAST, (0, 0, 0), "connection", ping::echo),
    command!(
        "select",
        2,
        LOADING | STALE | FAST,
        (0, 0, 0),
        "connection",
        select::select
    ),
    command!(
        "quit",
        -1,
        ALLOW_BUSY | NO_AUTH | LOADING | STALE | FAST,
        (0, 0, 0),
        "connection",
        reset::quit
    ),
    command!(
        "reset",
        1,
        NOSCRIPT | LOADING | STALE | FAST | NO_AUTH,
        (0, 0, 0),
        "connection",
        reset::reset
    ),
    command!(
        "auth",
        -2,
        NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | SKIP_MONITOR,
        (0, 0, 0),
        "connection",
        auth::auth
    ),
    command!(
        "hello",
        -1,
        NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | SKIP_MONITOR,
        (0, 0, 0),
        "connection",
        hello::hello
    ),
    command!(
        "client",
        -2,
        ADMIN | NOSCRIPT | LOADING | STALE,
        (0, 0, 0),
        "connection",
        client::client
    ),
];
