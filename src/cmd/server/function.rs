//! FUNCTION, for a server without Redis functions: sluice serves no scripting, so its
//! library registry is always empty. FLUSH empties it (nothing to do) and LIST shows it;
//! loading libraries is refused, as a dump holding them is.

use bytes::Bytes;

use crate::cmd::{Ctx, errors};
use crate::resp::Reply;

pub fn function(_ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let sub = argv[1].to_ascii_lowercase();
    match sub.as_slice() {
        // FUNCTION FLUSH [ASYNC|SYNC]
        b"flush" => match argv.get(2) {
            None => Reply::ok(),
            Some(mode)
                if argv.len() == 3
                    && (mode.eq_ignore_ascii_case(b"ASYNC")
                        || mode.eq_ignore_ascii_case(b"SYNC")) =>
            {
                Reply::ok()
            }
            Some(_) if argv.len() == 3 => {
                Reply::error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
            }
            Some(_) => Reply::error(errors::wrong_arity("function|flush")),
        },
        // FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE]: no library to list.
        b"list" => Reply::Array(Vec::new()),
        b"load" | b"restore" => {
            Reply::error("ERR sluice does not serve Redis functions (scripting is not implemented)")
        }
        _ => Reply::error(errors::unknown_subcommand(&argv[1], "function")),
    }
}
