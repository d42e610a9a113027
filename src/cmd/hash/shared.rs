//! Pieces the hash commands share: the write-side lookup and change bookkeeping.

use std::sync::Arc;

use crate::cmd::{Ctx, errors};
use crate::resp::Reply;
use crate::store::Value;
use crate::store::value::Hash;

/// The hash at `key` for a write command (no keyspace hit/miss accounting). Drop the `Arc`
/// before changing the hash, or the change copies it.
pub fn peek_hash(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<Arc<Hash>>, Reply> {
    match ctx.lookup(key).map(|e| &e.value) {
        None => Ok(None),
        Some(Value::Hash(h)) => Ok(Some(h.clone())),
        Some(_) => Err(Reply::error(errors::WRONGTYPE)),
    }
}

/// Records `n` changed fields of `key`: all count in the dirty counter, WATCH hears once.
pub fn record_changes(ctx: &mut Ctx<'_>, key: &[u8], n: usize) {
    if n > 0 {
        ctx.modified(key);
        ctx.add_changes(n as u64 - 1);
    }
}
