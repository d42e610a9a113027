//! CLUSTER, READONLY, READWRITE and ASKING, as a Redis 7.0 server with `cluster-enabled
//! no` answers them: every one (after dispatch checked its name and arity, and whether a
//! script may call it) says that cluster support is disabled. Clients probe CLUSTER INFO
//! this way to learn that they talk to a standalone server.

use bytes::Bytes;

use crate::cmd::flags::*;
use crate::cmd::{CommandSpec, Ctx};
use crate::command;
use crate::resp::Reply;

pub const COMMANDS: &[CommandSpec] = &[
    command!("cluster", -2, 0, (0, 0, 0), "cluster", disabled),
    command!(
        "readonly",
        1,
        LOADING | STALE | FAST,
        (0, 0, 0),
        "cluster",
        disabled
    ),
    command!(
        "readwrite",
        1,
        LOADING | STALE | FAST,
        (0, 0, 0),
        "cluster",
        disabled
    ),
    command!("asking", 1, FAST, (0, 0, 0), "cluster", disabled),
];

fn disabled(_ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> Reply {
    Reply::error("ERR This instance has cluster support disabled")
}
