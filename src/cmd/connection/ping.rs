use bytes::Bytes;

use crate::cmd::{Ctx, errors};
use crate::resp::Reply;
use crate::resp::reply::PONG;

pub fn ping(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    if argv.len() > 2 {
        return Reply::error(errors::wrong_arity("ping"));
    }
    if ctx.session.in_pubsub_mode() {
        let payload = argv.get(1).cloned().unwrap_or_default();
        return Reply::Array(vec![Reply::bulk_str("pong"), Reply::Bulk(payload)]);
    }
    match argv.get(1) {
        Some(payload) => Reply::Bulk(payload.clone()),
        None => PONG,
    }
}

pub fn echo(_ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    Reply::Bulk(argv[1].clone())
}
