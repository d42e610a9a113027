//! SET and its older variants SETNX, SETEX, PSETEX, plus the option parser GETEX shares.

use crate::config::keyspace_events as events;
use bytes::Bytes;

use super::conditional::ValueCondition;
use super::old_value_reply;
use crate::cmd::{Ctx, errors};
use crate::resp::Reply;
use crate::store::{Entry, StrValue, Value};
use crate::util::num::parse_i64;

pub const NX: u32 = 1 << 0;
pub const XX: u32 = 1 << 1;
pub const EX: u32 = 1 << 2;
pub const PX: u32 = 1 << 3;
pub const KEEPTTL: u32 = 1 << 4;
pub const GET: u32 = 1 << 5;
pub const EXAT: u32 = 1 << 6;
pub const PXAT: u32 = 1 << 7;
pub const PERSIST: u32 = 1 << 8;

const ANY_EXPIRE: u32 = EX | PX | EXAT | PXAT;

/// Which command's options are parsed: SET takes NX/XX/GET/KEEPTTL, GETEX takes PERSIST.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum OptionsOf {
    Set,
    GetEx,
}

/// Parsed SET/GETEX options: flag bits, the raw expire argument, and SET's condition on the
/// current value (IFEQ IFNE IFDEQ IFDNE, Redis 8.4).
pub struct StringOptions {
    pub flags: u32,
    pub expire: Option<Bytes>,
    pub condition: Option<ValueCondition>,
}

/// Parses options from `argv[first..]`. Any option that conflicts with one already given is
/// a syntax error, in whatever order they come, as in Redis.
pub fn parse_options(argv: &[Bytes], first: usize, of: OptionsOf) -> Result<StringOptions, Reply> {
    let mut flags = 0u32;
    let mut expire = None;
    let mut condition = None;
    let is_set = of == OptionsOf::Set;
    let mut j = first;
    while j < argv.len() {
        let opt = argv[j].to_ascii_uppercase();
        let has_next = j + 1 < argv.len();
        if is_set
            && has_next
            && condition.is_none()
            && let Some(parsed) = ValueCondition::parse(&opt, &argv[j + 1])?
        {
            condition = Some(parsed);
            j += 2;
            continue;
        }
        let expire_free = flags & (KEEPTTL | PERSIST) == 0;
        let (flag, takes_value) = match opt.as_slice() {
            b"NX" if is_set && flags & XX == 0 => (NX, false),
            b"XX" if is_set && flags & NX == 0 => (XX, false),
            b"GET" if is_set => (GET, false),
            b"KEEPTTL" if is_set && flags & (PERSIST | ANY_EXPIRE) == 0 => (KEEPTTL, false),
            b"PERSIST" if !is_set && flags & (ANY_EXPIRE | KEEPTTL) == 0 => (PERSIST, false),
            b"EX" if expire_free && flags & (ANY_EXPIRE & !EX) == 0 && has_next => (EX, true),
            b"PX" if expire_free && flags & (ANY_EXPIRE & !PX) == 0 && has_next => (PX, true),
            b"EXAT" if expire_free && flags & (ANY_EXPIRE & !EXAT) == 0 && has_next => (EXAT, true),
            b"PXAT" if expire_free && flags & (ANY_EXPIRE & !PXAT) == 0 && has_next => (PXAT, true),
            _ => return Err(Reply::error(errors::SYNTAX)),
        };
        flags |= flag;
        if takes_value {
            expire = Some(argv[j + 1].clone());
            j += 1;
        }
        j += 1;
    }
    Ok(StringOptions {
        flags,
        expire,
        condition,
    })
}

/// The absolute expiry in Unix ms from an EX/PX/EXAT/PXAT argument, with Redis's checks:
/// not an integer → NOT_INTEGER; zero, negative or overflowing → "invalid expire time".
pub fn expire_at_ms(arg: &[u8], flags: u32, now_ms: u64, command: &[u8]) -> Result<u64, Reply> {
    let invalid = || {
        Reply::error(format!(
            "ERR invalid expire time in '{}' command",
            String::from_utf8_lossy(&command.to_ascii_lowercase())
        ))
    };
    let value = parse_i64(arg).ok_or_else(|| Reply::error(errors::NOT_INTEGER))?;
    let seconds = flags & (EX | EXAT) != 0;
    if value <= 0 || (seconds && value > i64::MAX / 1000) {
        return Err(invalid());
    }
    let mut ms = if seconds { value * 1000 } else { value };
    if flags & (EX | PX) != 0 {
        ms = ms
            .checked_add(i64::try_from(now_ms).unwrap_or(i64::MAX))
            .ok_or_else(invalid)?;
    }
    u64::try_from(ms).map_err(|_| invalid())
}

pub fn set(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let options = match parse_options(argv, 3, OptionsOf::Set) {
        Ok(o) => o,
        Err(e) => return e,
    };
    set_generic(
        ctx,
        argv,
        SetRequest {
            flags: options.flags,
            expire: options.expire.as_deref(),
            condition: options.condition.as_ref(),
        },
        &argv[1],
        &argv[2],
        SetReplies::standard(),
    )
}

pub fn setnx(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let replies = SetReplies {
        ok: Reply::Integer(1),
        aborted: Reply::Integer(0),
    };
    set_generic(
        ctx,
        argv,
        SetRequest::flags(NX, None),
        &argv[1],
        &argv[2],
        replies,
    )
}

pub fn setex(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    set_generic(
        ctx,
        argv,
        SetRequest::flags(EX, Some(&argv[2])),
        &argv[1],
        &argv[3],
        SetReplies::standard(),
    )
}

pub fn psetex(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    set_generic(
        ctx,
        argv,
        SetRequest::flags(PX, Some(&argv[2])),
        &argv[1],
        &argv[3],
        SetReplies::standard(),
    )
}

struct SetReplies {
    ok: Reply,
    aborted: Reply,
}

impl SetReplies {
    fn standard() -> SetReplies {
        SetReplies {
            ok: Reply::ok(),
            aborted: Reply::Nil,
        }
    }
}

/// What a SET-like command asks for beyond its key and value.
struct SetRequest<'a> {
    flags: u32,
    expire: Option<&'a [u8]>,
    condition: Option<&'a ValueCondition>,
}

impl<'a> SetRequest<'a> {
    fn flags(flags: u32, expire: Option<&'a [u8]>) -> SetRequest<'a> {
        SetRequest {
            flags,
            expire,
            condition: None,
        }
    }
}

/// SET's arguments without GET and the value condition: what replicas need once the
/// condition held here.
fn without_reply_options(argv: &[Bytes]) -> Vec<Bytes> {
    let mut out = argv[..3].to_vec();
    let mut j = 3;
    while j < argv.len() {
        let upper = argv[j].to_ascii_uppercase();
        match upper.as_slice() {
            b"GET" => j += 1,
            b"IFEQ" | b"IFNE" | b"IFDEQ" | b"IFDNE" => j += 2,
            _ => {
                out.push(argv[j].clone());
                j += 1;
            }
        }
    }
    out
}

fn set_generic(
    ctx: &mut Ctx<'_>,
    argv: &[Bytes],
    request: SetRequest<'_>,
    key: &Bytes,
    value: &Bytes,
    replies: SetReplies,
) -> Reply {
    let SetRequest {
        flags,
        expire,
        condition,
    } = request;
    let expire_at = match expire {
        Some(arg) => match expire_at_ms(arg, flags, ctx.now_ms, &argv[0]) {
            Ok(at) => Some(at),
            Err(e) => return e,
        },
        None => None,
    };
    let old_value = if flags & GET != 0 {
        match old_value_reply(ctx, key) {
            Ok(reply) => Some(reply),
            Err(e) => return e,
        }
    } else {
        None
    };
    if let Some(condition) = condition {
        let current = ctx.lookup(key).map(|e| e.value.clone());
        match condition.holds(current.as_ref()) {
            Ok(true) => {}
            Ok(false) => return old_value.unwrap_or(replies.aborted),
            Err(e) => return e,
        }
    }
    let kept_ttl = if flags & (NX | XX | KEEPTTL) != 0 {
        let found = ctx.lookup(key).map(|e| e.expire_at_ms);
        if (flags & NX != 0 && found.is_some()) || (flags & XX != 0 && found.is_none()) {
            return old_value.unwrap_or(replies.aborted);
        }
        if flags & KEEPTTL != 0 {
            found.flatten()
        } else {
            None
        }
    } else {
        // A plain SET does not need what is there: no lookup. An expired key is still
        // deleted first (its DEL propagated before the SET), as a lookup would.
        let db = ctx.session.db;
        ctx.expire_if_needed(db, key);
        None
    };
    let created = ctx
        .db()
        .upsert(
            key,
            Entry {
                value: Value::Str(StrValue::copy_from(value)),
                expire_at_ms: expire_at.or(kept_ttl),
            },
        )
        .is_none();
    ctx.modified(key);
    ctx.key_ready(key);
    if created {
        ctx.notify(events::NEW, "new", key);
    }
    ctx.notify(events::STRING, "set", key);
    if expire_at.is_some() {
        ctx.notify(events::GENERIC, "expire", key);
    }
    if let Some(at) = expire_at {
        ctx.rewrite(vec![
            Bytes::from_static(b"SET"),
            key.clone(),
            value.clone(),
            Bytes::from_static(b"PXAT"),
            Bytes::from(at.to_string()),
        ]);
    } else if flags & GET != 0 || condition.is_some() {
        // GET only shapes the reply and the condition held here: replicas get the plain
        // SET, which Redis 7.0 replicas understand too.
        ctx.rewrite(without_reply_options(argv));
    }
    old_value.unwrap_or(replies.ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<Bytes> {
        list.iter()
            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
            .collect()
    }

    #[test]
    fn options_conflicts_are_syntax_errors() {
        let ok = |l: &[&str]| parse_options(&args(l), 3, OptionsOf::Set).is_ok();
        assert!(ok(&["set", "k", "v", "nx", "get", "ex", "1"]));
        assert!(ok(&["set", "k", "v", "ex", "1", "ex", "2"]));
        assert!(!ok(&["set", "k", "v", "nx", "xx"]));
        assert!(!ok(&["set", "k", "v", "ex", "1", "px", "2"]));
        assert!(!ok(&["set", "k", "v", "keepttl", "ex", "1"]));
        assert!(!ok(&["set", "k", "v", "ex"]));
        assert!(!ok(&["set", "k", "v", "persist"]));
        let getex = |l: &[&str]| parse_options(&args(l), 2, OptionsOf::GetEx).is_ok();
        assert!(getex(&["getex", "k", "persist"]));
        assert!(!getex(&["getex", "k", "persist", "ex", "1"]));
        assert!(!getex(&["getex", "k", "nx"]));
    }

    #[test]
    fn expire_arguments() {
        assert_eq!(expire_at_ms(b"10", EX, 1000, b"set"), Ok(11_000));
        assert_eq!(expire_at_ms(b"10", PXAT, 1000, b"set"), Ok(10));
        assert!(expire_at_ms(b"0", EX, 1000, b"set").is_err());
        assert!(expire_at_ms(b"-1", PX, 1000, b"set").is_err());
        assert!(expire_at_ms(b"9223372036854775807", EX, 1000, b"set").is_err());
        assert!(expire_at_ms(b"9223372036854775807", PX, 1000, b"set").is_err());
        assert_eq!(
            expire_at_ms(b"x", EX, 0, b"set"),
            Err(Reply::error(errors::NOT_INTEGER))
        );
    }
}
