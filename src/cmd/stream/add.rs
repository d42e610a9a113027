//! XADD.

use crate::config::keyspace_events as events;
use bytes::Bytes;

use super::id::{AddId, parse_add_id};
use super::shared::{node_limits, peek_stream, write_stream};
use super::trim::parse_add_or_trim;
use crate::cmd::ctx::Ctx;
use crate::cmd::errors;
use crate::resp::Reply;
use crate::store::stream::{Stream, StreamId};

/// The ID the next entry gets, or the error Redis gives.
fn next_id(stream: &Stream, requested: AddId, now_ms: u64) -> Result<StreamId, Reply> {
    let last = stream.last_id;
    let too_small = || {
        Reply::error(
            "ERR The ID specified in XADD is equal or smaller than the target stream top item",
        )
    };
    match requested {
        AddId::Auto => {
            if last.ms < now_ms {
                Ok(StreamId::new(now_ms, 0))
            } else {
                last.successor().ok_or_else(exhausted)
            }
        }
        AddId::AutoSeq(ms) => {
            if ms > last.ms {
                Ok(StreamId::new(ms, 0))
            } else if ms == last.ms {
                match last.seq.checked_add(1) {
                    Some(seq) => Ok(StreamId::new(ms, seq)),
                    None => Err(too_small()),
                }
            } else {
                Err(too_small())
            }
        }
        AddId::Explicit(id) => {
            if id == StreamId::MIN {
                Err(Reply::error(
                    "ERR The ID specified in XADD must be greater than 0-0",
                ))
            } else if id <= last {
                Err(too_small())
            } else {
                Ok(id)
            }
        }
    }
}

fn exhausted() -> Reply {
    Reply::error("ERR The stream has exhausted the last possible ID, unable to add more items")
}

/// `XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] *|id field value ...`
pub fn xadd(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let key = &argv[1];
    let parsed = match parse_add_or_trim(
        argv,
        2,
        true,
        ctx.session.source.from_master(),
        node_limits(ctx).entries_max,
    ) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let (no_create, trim, id_at) = (parsed.no_mkstream, parsed.trim, parsed.id_at);
    if id_at >= argv.len() {
        return Reply::error(errors::wrong_arity("xadd"));
    }
    let fields = &argv[id_at + 1..];
    if fields.is_empty() || !fields.len().is_multiple_of(2) {
        return Reply::error(errors::wrong_arity("xadd"));
    }
    let requested = match parse_add_id(&argv[id_at]) {
        Ok(id) => id,
        Err(e) => return e,
    };
    // An explicit 0-0 is refused before the key is looked at, as in Redis.
    if requested == AddId::Explicit(StreamId::MIN) {
        return Reply::error("ERR The ID specified in XADD must be greater than 0-0");
    }
    let existing = match peek_stream(ctx, key) {
        Ok(s) => s,
        Err(e) => return e,
    };
    if existing.is_none() && no_create {
        return Reply::Nil;
    }
    let id = {
        let empty = Stream::default();
        let stream = existing.as_deref().unwrap_or(&empty);
        if stream.last_id == StreamId::MAX {
            return exhausted();
        }
        match next_id(stream, requested, ctx.now_ms) {
            Ok(id) => id,
            Err(e) => return e,
        }
    };
    drop(existing);
    let limits = node_limits(ctx);
    let Some(stream) = write_stream(ctx, key, true) else {
        return Reply::error(errors::WRONGTYPE);
    };
    stream.append(id, fields, limits);
    let trimmed = trim.map(|t| (t, t.apply(stream)));
    let exact_trim = trimmed.map(|(t, _)| t.exact_args(stream));
    ctx.modified(key);
    ctx.key_ready(key);
    ctx.notify(events::STREAM, "xadd", key);
    if trimmed.is_some_and(|(_, removed)| removed > 0) {
        ctx.notify(events::STREAM, "xtrim", key);
    }
    // Replicas get the ID this server chose and the exact trim.
    let mut effect = vec![Bytes::from_static(b"XADD"), key.clone()];
    if no_create {
        effect.push(Bytes::from_static(b"NOMKSTREAM"));
    }
    if let Some(args) = exact_trim {
        effect.extend(args);
    }
    effect.push(id.to_bytes());
    effect.extend(fields.iter().cloned());
    ctx.rewrite(effect);
    Reply::Bulk(id.to_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_clock_and_the_last_id() {
        let mut s = Stream::default();
        assert_eq!(
            next_id(&s, AddId::Auto, 100).ok(),
            Some(StreamId::new(100, 0))
        );
        assert_eq!(
            next_id(&s, AddId::AutoSeq(0), 100).ok(),
            Some(StreamId::new(0, 1))
        );
        s.append(StreamId::new(100, 5), &[], Default::default());
        assert_eq!(
            next_id(&s, AddId::Auto, 50).ok(),
            Some(StreamId::new(100, 6))
        );
        assert_eq!(
            next_id(&s, AddId::AutoSeq(100), 0).ok(),
            Some(StreamId::new(100, 6))
        );
        assert_eq!(
            next_id(&s, AddId::AutoSeq(101), 0).ok(),
            Some(StreamId::new(101, 0))
        );
        assert!(next_id(&s, AddId::AutoSeq(99), 0).is_err());
        assert!(next_id(&s, AddId::Explicit(StreamId::new(100, 5)), 0).is_err());
    }
}
