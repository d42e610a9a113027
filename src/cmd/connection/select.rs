use bytes::Bytes;

use crate::cmd::{Ctx, errors};
use crate::resp::Reply;
use crate::util::num::parse_i64;

pub fn select(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let Some(index) = parse_i64(&argv[1]) else {
        return Reply::error(errors::NOT_INTEGER);
    };
    if index < 0 || index as usize >= ctx.state.dbs.len() {
        return Reply::error(errors::DB_INDEX);
    }
    ctx.session.db = index as usize;
    Reply::ok()
}
