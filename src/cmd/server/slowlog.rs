//! SLOWLOG GET [count] | LEN | RESET | HELP (Redis 7.0's replies). The log is kept by
//! `dispatch` after each command (`server::slowlog`).

use bytes::Bytes;

use crate::cmd::{Ctx, errors};
use crate::resp::Reply;
use crate::util::num::parse_i64;

const HELP: &[&str] = &[
    "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET [<count>]",
    "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
    "    Entries are made of:",
    "    id, timestamp, time in microseconds, arguments array, client IP and port,",
    "    client name",
    "LEN",
    "    Return the length of the slowlog.",
    "RESET",
    "    Reset the slowlog.",
    "HELP",
    "    Prints this help.",
];

/// Entries SLOWLOG GET returns without a count.
const GET_DEFAULT_COUNT: usize = 10;

pub fn slowlog(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let sub = argv[1].to_ascii_lowercase();
    match (sub.as_slice(), argv.len()) {
        (b"help", 2) => Reply::Array(HELP.iter().map(|line| Reply::simple(*line)).collect()),
        (b"reset", 2) => {
            ctx.state.slowlog.reset();
            Reply::ok()
        }
        (b"len", 2) => Reply::integer(ctx.state.slowlog.len() as u64),
        (b"get", 2 | 3) => {
            let count = match argv.get(2) {
                None => GET_DEFAULT_COUNT,
                Some(arg) => match parse_i64(arg) {
                    Some(-1) => usize::MAX,
                    Some(n) if n >= 0 => usize::try_from(n).unwrap_or(usize::MAX),
                    Some(_) => {
                        return Reply::error("ERR count should be greater than or equal to -1");
                    }
                    None => return Reply::error(errors::NOT_INTEGER),
                },
            };
            Reply::Array(
                ctx.state
                    .slowlog
                    .newest(count)
                    .map(|entry| {
                        Reply::Array(vec![
                            Reply::integer(entry.id),
                            Reply::integer(entry.unix_seconds),
                            Reply::integer(entry.duration_us),
                            Reply::Array(entry.argv.iter().cloned().map(Reply::Bulk).collect()),
                            Reply::Bulk(Bytes::from(entry.peer.clone())),
                            Reply::Bulk(entry.client_name.clone()),
                        ])
                    })
                    .collect(),
            )
        }
        _ => Reply::error(errors::subcommand_syntax(&argv[1], "slowlog")),
    }
}
