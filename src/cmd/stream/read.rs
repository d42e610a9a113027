//! XREAD, blocking included: a blocked XREAD waits for an XADD to any of its streams, in
//! arrival order with the other blocked clients, as BLPOP does.

use bytes::Bytes;

use super::id::parse_id;
use super::read_args::{self, ReadArgs};
use super::shared::{entries_reply, read_stream, streams_reply};
use crate::cmd::ctx::Ctx;
use crate::resp::Reply;
use crate::server::blocking::Resume;
use crate::store::stream::StreamId;

fn parse(argv: &[Bytes]) -> Result<ReadArgs<'_>, Reply> {
    read_args::parse(argv, false)
}

/// Reads every stream after its ID; `None` if none has entries there.
fn read_after(
    ctx: &mut Ctx<'_>,
    keys: &[Bytes],
    after: &[StreamId],
    count: usize,
) -> Result<Option<Reply>, Reply> {
    let mut found = Vec::new();
    for (key, id) in keys.iter().zip(after) {
        let Some(stream) = read_stream(ctx, key)? else {
            continue;
        };
        let entries = stream.after(*id, count);
        if !entries.is_empty() {
            found.push((key.clone(), entries_reply(entries)));
        }
    }
    if found.is_empty() {
        return Ok(None);
    }
    Ok(Some(streams_reply(ctx.session.protocol, found)))
}

/// The IDs to read after: `$` is the stream's last ID now.
fn resolve_ids(ctx: &mut Ctx<'_>, keys: &[Bytes], ids: &[Bytes]) -> Result<Vec<StreamId>, Reply> {
    let mut out = Vec::with_capacity(ids.len());
    for (key, arg) in keys.iter().zip(ids) {
        if arg.as_ref() == b"$" {
            let stream = super::shared::peek_stream(ctx, key)?;
            out.push(stream.map_or(StreamId::MIN, |s| s.last_id));
        } else {
            out.push(parse_id(arg)?);
        }
    }
    Ok(out)
}

pub fn xread(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let request = match parse(argv) {
        Ok(r) => r,
        Err(e) => return e,
    };
    if request.block_ms.is_some() && ctx.state.in_script() {
        return Reply::error("ERR xread command is not allowed with BLOCK option from scripts");
    }
    let after = match resolve_ids(ctx, request.keys, request.ids) {
        Ok(ids) => ids,
        Err(e) => return e,
    };
    match read_after(ctx, request.keys, &after, request.count) {
        Ok(Some(reply)) => return reply,
        Ok(None) => {}
        Err(e) => return e,
    }
    let Some(block_ms) = request.block_ms else {
        return Reply::NilArray;
    };
    let deadline = (block_ms > 0).then(|| ctx.now_ms.saturating_add(block_ms));
    // The blocked request keeps the IDs resolved now: `$` means "after what is there now",
    // not after whatever is there when it is served.
    let mut resolved = argv[..argv.len() - request.ids.len()].to_vec();
    resolved.extend(after.iter().map(|id| id.to_bytes()));
    ctx.block(
        request.keys.to_vec(),
        deadline,
        &resolved,
        Resume::Xread,
        Reply::NilArray,
    )
}

/// Serves a blocked XREAD once one of its streams got an entry.
pub(crate) fn serve_xread(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Option<Reply> {
    let request = parse(argv).ok()?;
    let after: Vec<StreamId> = request
        .ids
        .iter()
        .map(|a| parse_id(a))
        .collect::<Result<_, _>>()
        .ok()?;
    // A key that became another type does not serve the client: it waits on, as in Redis.
    read_after(ctx, request.keys, &after, request.count)
        .ok()
        .flatten()
}
