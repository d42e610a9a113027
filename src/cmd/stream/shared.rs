//! Pieces the stream commands share: typed lookups and the shape of entry replies.

use std::sync::Arc;

use bytes::Bytes;

use crate::cmd::ctx::Ctx;
use crate::cmd::errors;
use crate::resp::{Protocol, Reply};
use crate::store::Value;
use crate::store::stream::{Fields, NodeLimits, Stream, StreamId};

/// The stream at `key` for reading (hit/miss counted).
pub fn read_stream(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<Arc<Stream>>, Reply> {
    match ctx.lookup_read(key).map(|e| &e.value) {
        None => Ok(None),
        Some(Value::Stream(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Reply::error(errors::WRONGTYPE)),
    }
}

/// The stream at `key` for a write's checks. Drop the `Arc` before changing the stream, or
/// the change copies it.
pub fn peek_stream(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<Arc<Stream>>, Reply> {
    match ctx.lookup(key).map(|e| &e.value) {
        None => Ok(None),
        Some(Value::Stream(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Reply::error(errors::WRONGTYPE)),
    }
}

/// The stream at `key` to change, created if `create`; `None` if absent (or not a stream,
/// which callers have ruled out with [`peek_stream`]).
pub fn write_stream<'c>(ctx: &'c mut Ctx<'_>, key: &[u8], create: bool) -> Option<&'c mut Stream> {
    if create && ctx.lookup(key).is_none() {
        ctx.insert_entry(key, crate::store::Entry::new(Value::new_stream()));
    }
    match ctx.lookup_write(key).map(|e| &mut e.value) {
        Some(Value::Stream(s)) => Some(Arc::make_mut(s)),
        _ => None,
    }
}

/// When a stream node is full, as configured.
pub fn node_limits(ctx: &Ctx<'_>) -> NodeLimits {
    ctx.state.config.encoding_limits.stream_node
}

/// One entry as Redis replies it: `[id, [field, value, ...]]`.
pub fn entry_reply(id: StreamId, fields: Fields) -> Reply {
    Reply::Array(vec![
        Reply::Bulk(id.to_bytes()),
        Reply::Array(fields.into_vec().into_iter().map(Reply::Bulk).collect()),
    ])
}

pub fn entries_reply(entries: Vec<(StreamId, Fields)>) -> Reply {
    Reply::Array(
        entries
            .into_iter()
            .map(|(id, fields)| entry_reply(id, fields))
            .collect(),
    )
}

/// `COUNT n` where a negative count means none (Redis clamps it to 0) and 0 means no limit.
pub fn parse_count(arg: &[u8]) -> Result<usize, Reply> {
    match crate::util::num::parse_i64(arg) {
        Some(n) if n <= 0 => Ok(usize::MAX),
        Some(n) => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
        None => Err(Reply::error(errors::NOT_INTEGER)),
    }
}

/// XREAD's and XREADGROUP's reply: for each stream read, its name and its entries; a map in
/// RESP3, an array of pairs in RESP2.
pub fn streams_reply(protocol: Protocol, found: Vec<(Bytes, Reply)>) -> Reply {
    if protocol == Protocol::Resp3 {
        Reply::Map(
            found
                .into_iter()
                .map(|(k, v)| (Reply::Bulk(k), v))
                .collect(),
        )
    } else {
        Reply::Array(
            found
                .into_iter()
                .map(|(k, v)| Reply::Array(vec![Reply::Bulk(k), v]))
                .collect(),
        )
    }
}
