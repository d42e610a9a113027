//! MGET, MSET, MSETNX.

use bytes::Bytes;

use crate::cmd::{Ctx, errors};
use crate::resp::Reply;
use crate::store::{StrValue, Value};

pub fn mget(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let values = argv[1..]
        .iter()
        .map(|key| match ctx.lookup_read(key).map(|e| &e.value) {
            Some(Value::Str(v)) => Reply::Bulk(v.to_bytes()),
            _ => Reply::Nil,
        })
        .collect();
    Reply::Array(values)
}

pub fn mset(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    mset_generic(ctx, argv, false)
}

pub fn msetnx(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    mset_generic(ctx, argv, true)
}

fn mset_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], nx: bool) -> Reply {
    if argv.len().is_multiple_of(2) {
        return Reply::error(errors::wrong_arity(&String::from_utf8_lossy(&argv[0])));
    }
    if nx {
        for pair in argv[1..].chunks_exact(2) {
            if ctx.exists(&pair[0]) {
                return Reply::Integer(0);
            }
        }
    }
    for pair in argv[1..].chunks_exact(2) {
        ctx.set_value(&pair[0], Value::Str(StrValue::copy_from(&pair[1])));
    }
    if nx { Reply::Integer(1) } else { Reply::ok() }
}
