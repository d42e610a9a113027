use bytes::Bytes;

use crate::cmd::{Ctx, errors};
use crate::resp::Reply;
use crate::util::num::parse_i64;

pub fn select(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let Some(index) = parse_i64(&argv[1]) else {
        return Reply::error(errors::NOT_INTEGER);
    };
    let Some(index) = usize::try_from(index)
        .ok()
        .filter(|&index| index < ctx.state.dbs.len())
    else {
        return Reply::error(errors::DB_INDEX);
    };
    ctx.session.db = index;
    Reply::ok()
}
