//! HDEL.

use crate::config::keyspace_events as events;
use bytes::Bytes;

use super::shared::{peek_hash, record_changes};
use crate::cmd::Ctx;
use crate::resp::Reply;

pub fn hdel(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let key = &argv[1];
    let fields = &argv[2..];
    match peek_hash(ctx, key) {
        Err(e) => return e,
        Ok(None) => return Reply::Integer(0),
        // Nothing to delete: leave the hash alone rather than copy a snapshot-shared one.
        Ok(Some(hash)) if !fields.iter().any(|f| hash.contains_key(f)) => {
            return Reply::Integer(0);
        }
        Ok(Some(_)) => {}
    }
    let deleted = match ctx.write_hash(key, false) {
        Ok(Some(hash)) => fields.iter().filter(|f| hash.remove(f)).count(),
        _ => 0,
    };
    record_changes(ctx, key, deleted);
    if deleted > 0 {
        ctx.notify(events::HASH, "hdel", key);
    }
    ctx.remove_if_emptied(key);
    Reply::integer(deleted)
}
