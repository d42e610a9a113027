use bytes::Bytes;

use crate::cmd::{Ctx, errors};
use crate::resp::Reply;
use crate::util::num::parse_f64;

pub fn debug(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let sub = argv[1].to_ascii_lowercase();
    match (sub.as_slice(), argv.len()) {
        (b"sleep", 3) => {
            // Redis reads the duration with atof: text that is not a number sleeps 0 seconds.
            let seconds = parse_f64(&argv[2])
                .filter(|s| s.is_finite() && *s >= 0.0)
                .unwrap_or(0.0);
            // Redis blocks the whole server for the duration; so does this (the lock is held),
            // which is what tests that use DEBUG SLEEP rely on.
            std::thread::sleep(std::time::Duration::from_secs_f64(seconds.min(3600.0)));
            Reply::ok()
        }
        (b"set-active-expire", 3) => match argv[2].as_ref() {
            b"0" => {
                ctx.state.active_expire = false;
                Reply::ok()
            }
            b"1" => {
                ctx.state.active_expire = true;
                Reply::ok()
            }
            _ => Reply::error(errors::NOT_INTEGER),
        },
        (b"help", 2) => Reply::Array(
            [
                "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "SET-ACTIVE-EXPIRE <0|1>",
                "    Setting it to 0 disables expiring keys in background when they are not accessed.",
                "SLEEP <seconds>",
                "    Stop the server for <seconds>. Decimals allowed.",
                "HELP",
                "    Print this help.",
            ]
            .iter()
            .map(|l| Reply::simple(*l))
            .collect(),
        ),
        _ => Reply::error(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
            String::from_utf8_lossy(&argv[1])
        )),
    }
}
