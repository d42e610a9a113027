//! Values crossing between Lua and Redis, with Redis 7.0's conversions:
//! - a command's reply becomes what `redis.call` returns, as Redis reads it back from the
//!   RESP the script's client speaks (RESP2 unless the script asked for RESP3);
//! - what a script returns becomes the reply to its caller.

use std::borrow::Cow;

use bytes::{Bytes, BytesMut};
use mlua::{Lua, Table, Value};

use crate::resp::{Protocol, Reply};

/// Deepest table nesting converted to a reply: deeper (or cyclic) tables end the script
/// with Redis's stack-limit error instead of exhausting the stack.
const NESTING_MAX: usize = 1000;

/// The `{err = "CODE message"}` table Redis raises for an error, from text that is either
/// `-CODE message` (a reply's wording) or a bare message (given the code `ERR`).
pub fn error_table(lua: &Lua, text: &str) -> mlua::Result<Table> {
    let (code, message) = match text.strip_prefix('-') {
        Some(rest) => match rest.split_once(' ') {
            Some((code, message)) => (code, message),
            None => ("ERR", rest),
        },
        None => ("ERR", text),
    };
    let message = message.trim_end_matches(['\r', '\n']);
    let table = lua.create_table()?;
    table.raw_set("err", format!("{code} {message}"))?;
    Ok(table)
}

/// Marks an error table as already counted in the error statistics (the command that
/// produced it counted it).
pub fn mark_counted(table: &Table) -> mlua::Result<()> {
    table.raw_set("ignore_error_stats_update", true)
}

fn single_field(lua: &Lua, field: &str, value: impl mlua::IntoLua) -> mlua::Result<Value> {
    let table = lua.create_table()?;
    table.raw_set(field, value)?;
    Ok(Value::Table(table))
}

/// A command's reply as `redis.call` returns it, for a script client speaking `protocol`.
pub fn reply_to_lua(lua: &Lua, reply: &Reply, protocol: Protocol) -> mlua::Result<Value> {
    let resp3 = protocol == Protocol::Resp3;
    Ok(match reply {
        Reply::Integer(i) => Value::Number(*i as f64),
        Reply::Bulk(b) => Value::String(lua.create_string(b)?),
        Reply::SmallBulk(b) => Value::String(lua.create_string(b.as_bytes())?),
        Reply::Simple(s) => single_field(lua, "ok", lua.create_string(s.as_bytes())?)?,
        Reply::Error(text) => {
            let table = error_table(lua, &format!("-{text}"))?;
            mark_counted(&table)?;
            Value::Table(table)
        }
        // RESP3's null is Lua's nil; RESP2's null bulk and null array are false.
        Reply::Nil | Reply::NilArray if resp3 => Value::Nil,
        Reply::Nil | Reply::NilArray => Value::Boolean(false),
        Reply::Array(items) | Reply::Push(items) => array(lua, items, protocol)?,
        Reply::Set(items) if resp3 => {
            let set = lua.create_table_with_capacity(0, items.len())?;
            for item in items {
                set.raw_set(reply_to_lua(lua, item, protocol)?, true)?;
            }
            single_field(lua, "set", set)?
        }
        Reply::Set(items) => array(lua, items, protocol)?,
        Reply::Map(pairs) if resp3 => {
            let map = lua.create_table_with_capacity(0, pairs.len())?;
            for (key, value) in pairs {
                map.raw_set(
                    reply_to_lua(lua, key, protocol)?,
                    reply_to_lua(lua, value, protocol)?,
                )?;
            }
            single_field(lua, "map", map)?
        }
        Reply::Map(pairs) => {
            let flat = lua.create_table_with_capacity(pairs.len() * 2, 0)?;
            for (i, (key, value)) in pairs.iter().enumerate() {
                flat.raw_set(2 * i + 1, reply_to_lua(lua, key, protocol)?)?;
                flat.raw_set(2 * i + 2, reply_to_lua(lua, value, protocol)?)?;
            }
            Value::Table(flat)
        }
        Reply::Double(d) if resp3 => single_field(lua, "double", *d)?,
        Reply::DoubleText(text) if resp3 => {
            let d = crate::util::num::parse_f64(text).unwrap_or(0.0);
            single_field(lua, "double", d)?
        }
        Reply::Bool(b) if resp3 => Value::Boolean(*b),
        Reply::Bool(b) => Value::Number(if *b { 1.0 } else { 0.0 }),
        Reply::Verbatim(text) if resp3 => {
            let verbatim = lua.create_table()?;
            verbatim.raw_set("string", lua.create_string(text)?)?;
            verbatim.raw_set("format", "txt")?;
            single_field(lua, "verbatim_string", verbatim)?
        }
        // What a RESP2 client reads for the rest: a bulk string of the same text.
        Reply::Double(_) | Reply::DoubleText(_) | Reply::Verbatim(_) => {
            let mut out = BytesMut::new();
            reply.encode(Protocol::Resp2, &mut out);
            match parse_bulk(&out) {
                Some(text) => Value::String(lua.create_string(text)?),
                None => Value::Boolean(false),
            }
        }
        // A command answering several times (pushes beside its reply): its reply is last.
        Reply::Sequence(items) => match items.iter().rev().find(|r| !matches!(r, Reply::Push(_))) {
            Some(last) => reply_to_lua(lua, last, protocol)?,
            None => Value::Nil,
        },
        Reply::Raw(bytes) => raw_to_lua(lua, bytes)?,
    })
}

fn array(lua: &Lua, items: &[Reply], protocol: Protocol) -> mlua::Result<Value> {
    let table = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, item) in items.iter().enumerate() {
        table.raw_set(i + 1, reply_to_lua(lua, item, protocol)?)?;
    }
    Ok(Value::Table(table))
}

/// The text of a `$<len>\r\n<text>\r\n` encoding.
fn parse_bulk(encoded: &[u8]) -> Option<&[u8]> {
    let rest = encoded.strip_prefix(b"$")?;
    let header_end = rest.iter().position(|&b| b == b'\r')?;
    let len: usize = std::str::from_utf8(&rest[..header_end])
        .ok()?
        .parse()
        .ok()?;
    rest.get(header_end + 2..header_end + 2 + len)
}

/// The pre-encoded replies (`+OK`, `+PONG`, ...): simple lines of one type.
fn raw_to_lua(lua: &Lua, bytes: &[u8]) -> mlua::Result<Value> {
    let line = bytes.strip_suffix(b"\r\n").unwrap_or(bytes);
    Ok(match line.split_first() {
        Some((b'+', text)) => single_field(lua, "ok", lua.create_string(text)?)?,
        Some((b'-', text)) => {
            let text = String::from_utf8_lossy(text);
            Value::Table(error_table(lua, &format!("-{text}"))?)
        }
        Some((b':', text)) => Value::Number(crate::util::num::parse_i64(text).unwrap_or(0) as f64),
        _ => Value::Nil,
    })
}

/// What a script returned, as the reply to its caller. `protocol` is the script client's
/// (it decides how booleans are answered); the caller's own protocol encodes the result.
pub fn lua_to_reply(value: &Value, protocol: Protocol) -> Reply {
    to_reply(value, protocol, 0)
}

fn to_reply(value: &Value, protocol: Protocol, depth: usize) -> Reply {
    if depth > NESTING_MAX {
        return Reply::error("ERR reached lua stack limit");
    }
    match value {
        Value::String(s) => Reply::Bulk(Bytes::copy_from_slice(&s.as_bytes())),
        Value::Boolean(b) => match (protocol, b) {
            (Protocol::Resp3, _) => Reply::Bool(*b),
            (_, true) => Reply::Integer(1),
            (_, false) => Reply::Nil,
        },
        Value::Integer(i) => Reply::Integer(*i),
        Value::Number(n) => Reply::Integer(c_long_long(*n)),
        Value::Table(t) => table_to_reply(t, protocol, depth),
        _ => Reply::Nil,
    }
}

/// `(long long)n` as the C compiler does it on x86-64: truncation, and the "integer
/// indefinite" value (i64::MIN) for NaN and anything out of range.
#[allow(
    clippy::cast_possible_truncation,
    reason = "truncation toward zero is the conversion; the range is checked first"
)]
fn c_long_long(n: f64) -> i64 {
    // 2^63: the first double past i64's range.
    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    if n.is_nan() || !(-TWO_POW_63..TWO_POW_63).contains(&n) {
        return i64::MIN;
    }
    n as i64
}

fn string_field(t: &Table, field: &str) -> Option<mlua::String> {
    match t.raw_get::<Value>(field).ok()? {
        Value::String(s) => Some(s),
        _ => None,
    }
}

/// Text for a status line: a newline would break the framing, Redis makes it a space.
fn status_text(s: &mlua::String) -> Cow<'static, str> {
    let text: String = String::from_utf8_lossy(&s.as_bytes())
        .chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect();
    Cow::Owned(text)
}

fn table_to_reply(t: &Table, protocol: Protocol, depth: usize) -> Reply {
    if let Some(err) = string_field(t, "err") {
        return Reply::Error(String::from_utf8_lossy(&err.as_bytes()).into_owned().into());
    }
    if let Some(ok) = string_field(t, "ok") {
        return Reply::Simple(status_text(&ok));
    }
    match t.raw_get::<Value>("double") {
        Ok(Value::Number(d)) => return Reply::Double(d),
        Ok(Value::Integer(i)) => return Reply::Double(i as f64),
        _ => {}
    }
    if let Some(big) = string_field(t, "big_number") {
        return Reply::Bulk(Bytes::from(status_text(&big).into_owned()));
    }
    if let Ok(Value::Table(verbatim)) = t.raw_get::<Value>("verbatim_string")
        && let (Some(_), Some(text)) = (
            string_field(&verbatim, "format"),
            string_field(&verbatim, "string"),
        )
    {
        return Reply::Verbatim(Bytes::copy_from_slice(&text.as_bytes()));
    }
    if let Ok(Value::Table(map)) = t.raw_get::<Value>("map") {
        let pairs = map
            .pairs::<Value, Value>()
            .filter_map(Result::ok)
            .map(|(k, v)| {
                (
                    to_reply(&k, protocol, depth + 1),
                    to_reply(&v, protocol, depth + 1),
                )
            })
            .collect();
        return Reply::Map(pairs);
    }
    if let Ok(Value::Table(set)) = t.raw_get::<Value>("set") {
        let items = set
            .pairs::<Value, Value>()
            .filter_map(Result::ok)
            .map(|(k, _)| to_reply(&k, protocol, depth + 1))
            .collect();
        return Reply::Set(items);
    }
    // An array: elements 1, 2, ... up to the first nil.
    let mut items = Vec::new();
    for i in 1.. {
        match t.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(item) => {
                let reply = to_reply(&item, protocol, depth + 1);
                if depth + 1 > NESTING_MAX {
                    return reply;
                }
                items.push(reply);
            }
        }
    }
    Reply::Array(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_texts_get_a_code() {
        let lua = Lua::new();
        let err = |text: &str| -> String {
            error_table(&lua, text)
                .unwrap()
                .raw_get::<String>("err")
                .unwrap()
        };
        assert_eq!(
            err("-WRONGTYPE Operation against"),
            "WRONGTYPE Operation against"
        );
        assert_eq!(
            err("Unknown Redis command called from script"),
            "ERR Unknown Redis command called from script"
        );
        assert_eq!(err("-NOCODE"), "ERR NOCODE");
        assert_eq!(err("-My Error\r\n"), "My Error");
    }

    #[test]
    fn replies_round_trip_as_in_resp2() {
        let lua = Lua::new();
        let reply = Reply::Array(vec![
            Reply::Integer(3),
            Reply::bulk_str("x"),
            Reply::Nil,
            Reply::Bool(true),
        ]);
        let value = reply_to_lua(&lua, &reply, Protocol::Resp2).unwrap();
        // The nil became false, which a script returns as a null bulk.
        let back = lua_to_reply(&value, Protocol::Resp2);
        let mut out = BytesMut::new();
        back.encode(Protocol::Resp2, &mut out);
        assert_eq!(&out[..], b"*4\r\n:3\r\n$1\r\nx\r\n$-1\r\n:1\r\n");
    }

    #[test]
    fn a_cyclic_table_ends_in_an_error() {
        let lua = Lua::new();
        let t = lua.create_table().unwrap();
        t.raw_set(1, t.clone()).unwrap();
        let reply = lua_to_reply(&Value::Table(t), Protocol::Resp2);
        let mut out = BytesMut::new();
        reply.encode(Protocol::Resp2, &mut out);
        assert!(out.ends_with(b"-ERR reached lua stack limit\r\n"));
    }
}
