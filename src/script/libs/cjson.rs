//! `cjson`: JSON for scripts, with the behaviour of the lua-cjson Redis ships: numbers as
//! `%.14g`, `/` escaped, an empty table encoded as an object, sparse arrays refused, object
//! keys in the table's own iteration order, `null` decoded as `cjson.null`.

use std::sync::Arc;

use mlua::{Lua, Table, Value, Variadic};
use parking_lot::Mutex;

use crate::resp::float::format_g;

/// Deepest nesting encoded or decoded by default (lua-cjson's).
const NESTING_MAX: usize = 1000;

/// What `cjson.encode_max_depth` and friends set: per VM, kept across scripts as in Redis.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    encode_max_depth: usize,
    decode_max_depth: usize,
    encode_invalid_numbers: bool,
    encode_keep_buffer: bool,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            encode_max_depth: NESTING_MAX,
            decode_max_depth: NESTING_MAX,
            encode_invalid_numbers: false,
            encode_keep_buffer: true,
        }
    }
}

/// Encoding state: the settings in force and the nesting reached.
#[derive(Clone, Copy)]
struct Encoding {
    settings: Settings,
}
/// An array whose largest index exceeds this many times its element count (and 10) is
/// "excessively sparse" (lua-cjson's `encode_sparse_ratio` and `encode_sparse_safe`).
const SPARSE_RATIO: usize = 2;
const SPARSE_SAFE: usize = 10;

/// `cjson.null`: the light userdata NULL.
fn null() -> Value {
    Value::LightUserData(mlua::LightUserData(std::ptr::null_mut()))
}

pub fn register(lua: &Lua, table: &Table) -> mlua::Result<()> {
    let settings = Arc::new(Mutex::new(Settings::default()));
    let current = Arc::clone(&settings);
    table.raw_set(
        "encode",
        lua.create_function(move |lua, args: Variadic<Value>| {
            if args.len() != 1 {
                return Err(super::raise(
                    lua,
                    "bad argument #1 to 'encode' (expected 1 argument)",
                ));
            }
            let encoding = Encoding {
                settings: *current.lock(),
            };
            let mut out = Vec::new();
            encode(encoding, &args[0], 0, &mut out).map_err(|e| super::raise(lua, e))?;
            lua.create_string(&out)
        })?,
    )?;
    let current = Arc::clone(&settings);
    table.raw_set(
        "decode",
        lua.create_function(move |lua, args: Variadic<Value>| {
            let text = match args.first() {
                Some(Value::String(s)) if args.len() == 1 => s.as_bytes().to_vec(),
                Some(Value::Integer(i)) if args.len() == 1 => i.to_string().into_bytes(),
                Some(Value::Number(n)) if args.len() == 1 => super::number_text(*n).into_bytes(),
                _ => {
                    return Err(super::raise(
                        lua,
                        "bad argument #1 to 'decode' (expected 1 argument)",
                    ));
                }
            };
            let max_depth = current.lock().decode_max_depth;
            Decoder::new(lua, &text, max_depth)
                .decode_document()
                .map_err(|e| super::raise(lua, e))
        })?,
    )?;
    register_setting(lua, table, &settings, "encode_max_depth", |s, v| {
        if let Some(depth) = v.and_then(depth_arg) {
            s.encode_max_depth = depth;
        }
        Value::Number(s.encode_max_depth as f64)
    })?;
    register_setting(lua, table, &settings, "decode_max_depth", |s, v| {
        if let Some(depth) = v.and_then(depth_arg) {
            s.decode_max_depth = depth;
        }
        Value::Number(s.decode_max_depth as f64)
    })?;
    register_setting(lua, table, &settings, "encode_invalid_numbers", |s, v| {
        if let Some(Value::Boolean(on)) = v {
            s.encode_invalid_numbers = *on;
        }
        Value::Boolean(s.encode_invalid_numbers)
    })?;
    register_setting(lua, table, &settings, "encode_keep_buffer", |s, v| {
        if let Some(Value::Boolean(on)) = v {
            s.encode_keep_buffer = *on;
        }
        Value::Boolean(s.encode_keep_buffer)
    })?;
    table.raw_set("null", null())?;
    table.raw_set("_NAME", "cjson")?;
    table.raw_set("_VERSION", "2.1.0")?;
    Ok(())
}

/// A depth setting: a whole number of at least 1.
fn depth_arg(value: &Value) -> Option<usize> {
    match value {
        Value::Integer(i) => usize::try_from(*i).ok().filter(|&d| d >= 1),
        Value::Number(n) if *n >= 1.0 => usize::try_from(crate::util::num::i64_saturating(*n)).ok(),
        _ => None,
    }
}

/// A `cjson.<name>([value])` setting: sets it when given, returns what is in force.
fn register_setting(
    lua: &Lua,
    table: &Table,
    settings: &Arc<Mutex<Settings>>,
    name: &'static str,
    apply: fn(&mut Settings, Option<&Value>) -> Value,
) -> mlua::Result<()> {
    let settings = Arc::clone(settings);
    table.raw_set(
        name,
        lua.create_function(move |_, args: Variadic<Value>| {
            let mut settings = settings.lock();
            Ok(apply(&mut settings, args.first()))
        })?,
    )
}

fn encode(
    encoding: Encoding,
    value: &Value,
    depth: usize,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    match value {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(ud) if ud.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(i) => encode_number(encoding, *i as f64, out)?,
        Value::Number(n) => encode_number(encoding, *n, out)?,
        Value::String(s) => encode_string(&s.as_bytes(), out),
        Value::Table(t) => encode_table(encoding, t, depth + 1, out)?,
        other => {
            return Err(format!(
                "Cannot serialise {}: type not supported",
                other.type_name()
            ));
        }
    }
    Ok(())
}

fn encode_number(encoding: Encoding, n: f64, out: &mut Vec<u8>) -> Result<(), String> {
    if !n.is_finite() {
        if !encoding.settings.encode_invalid_numbers {
            return Err("Cannot serialise number: must not be NaN or Inf".into());
        }
        // As printf writes them.
        let text: &[u8] = if n.is_nan() {
            if n.is_sign_negative() {
                b"-nan"
            } else {
                b"nan"
            }
        } else if n > 0.0 {
            b"inf"
        } else {
            b"-inf"
        };
        out.extend_from_slice(text);
        return Ok(());
    }
    out.extend_from_slice(format_g(n, 14).as_bytes());
    Ok(())
}

fn encode_string(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            8 => out.extend_from_slice(b"\\b"),
            12 => out.extend_from_slice(b"\\f"),
            0..=31 | 127 => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

/// How a table is encoded: as an array of this many elements (holes as `null`), or as an
/// object.
fn array_length(t: &Table) -> Result<Option<usize>, String> {
    let mut max = 0usize;
    let mut items = 0usize;
    for pair in t.clone().pairs::<Value, Value>() {
        let (key, _) = pair.map_err(|e| e.to_string())?;
        let index = match key {
            Value::Integer(i) if i >= 1 => usize::try_from(i).ok(),
            Value::Number(n) if n >= 1.0 && n.fract() == 0.0 && n < 1e15 => {
                usize::try_from(crate::util::num::i64_saturating(n)).ok()
            }
            _ => None,
        };
        let Some(index) = index else {
            return Ok(None);
        };
        max = max.max(index);
        items += 1;
    }
    if max > items * SPARSE_RATIO && max > SPARSE_SAFE {
        return Err("Cannot serialise table: excessively sparse array".into());
    }
    Ok((max > 0).then_some(max))
}

fn encode_table(
    encoding: Encoding,
    t: &Table,
    depth: usize,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    if depth > encoding.settings.encode_max_depth {
        return Err(format!("Cannot serialise, excessive nesting ({depth})"));
    }
    if let Some(len) = array_length(t)? {
        out.push(b'[');
        for i in 1..=len {
            if i > 1 {
                out.push(b',');
            }
            let item: Value = t.raw_get(i).map_err(|e| e.to_string())?;
            encode(encoding, &item, depth, out)?;
        }
        out.push(b']');
        return Ok(());
    }
    out.push(b'{');
    let mut first = true;
    for pair in t.clone().pairs::<Value, Value>() {
        let (key, item) = pair.map_err(|e| e.to_string())?;
        if !first {
            out.push(b',');
        }
        first = false;
        match &key {
            Value::String(s) => encode_string(&s.as_bytes(), out),
            Value::Integer(i) => {
                out.push(b'"');
                encode_number(encoding, *i as f64, out)?;
                out.push(b'"');
            }
            Value::Number(n) => {
                out.push(b'"');
                encode_number(encoding, *n, out)?;
                out.push(b'"');
            }
            _ => return Err("Cannot serialise table: table key must be a number or string".into()),
        }
        out.push(b':');
        encode(encoding, &item, depth, out)?;
    }
    out.push(b'}');
    Ok(())
}

/// A recursive-descent decoder over the whole text; errors name the token found and the
/// 1-based character, as lua-cjson's do.
struct Decoder<'t> {
    lua: &'t Lua,
    text: &'t [u8],
    at: usize,
    depth: usize,
    max_depth: usize,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Token {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str,
    Number,
    Boolean,
    Null,
    Colon,
    Comma,
    End,
}

impl Token {
    fn name(self) -> &'static str {
        match self {
            Token::ObjBegin => "T_OBJ_BEGIN",
            Token::ObjEnd => "T_OBJ_END",
            Token::ArrBegin => "T_ARR_BEGIN",
            Token::ArrEnd => "T_ARR_END",
            Token::Str => "T_STRING",
            Token::Number => "T_NUMBER",
            Token::Boolean => "T_BOOLEAN",
            Token::Null => "T_NULL",
            Token::Colon => "T_COLON",
            Token::Comma => "T_COMMA",
            Token::End => "T_END",
        }
    }
}

/// A token with its value, or the reason none could be read.
enum Lexed {
    Token(Token, Value, usize),
    Invalid(&'static str, usize),
}

impl<'t> Decoder<'t> {
    fn new(lua: &'t Lua, text: &'t [u8], max_depth: usize) -> Decoder<'t> {
        Decoder {
            lua,
            text,
            at: 0,
            depth: 0,
            max_depth,
        }
    }

    fn decode_document(&mut self) -> Result<Value, String> {
        let lexed = self.next_token();
        let value = self.value_from(lexed)?;
        match self.next_token() {
            Lexed::Token(Token::End, _, _) => Ok(value),
            other => Err(self.unexpected("the end", other)),
        }
    }

    fn unexpected(&self, expected: &str, found: Lexed) -> String {
        match found {
            Lexed::Token(token, _, at) => format!(
                "Expected {expected} but found {} at character {}",
                token.name(),
                at + 1
            ),
            Lexed::Invalid(reason, at) => {
                format!(
                    "Expected {expected} but found {reason} at character {}",
                    at + 1
                )
            }
        }
    }

    fn value_from(&mut self, lexed: Lexed) -> Result<Value, String> {
        match lexed {
            Lexed::Token(Token::ObjBegin, _, at) => self.object(at),
            Lexed::Token(Token::ArrBegin, _, at) => self.array(at),
            Lexed::Token(Token::Str | Token::Number | Token::Boolean | Token::Null, value, _) => {
                Ok(value)
            }
            other => Err(self.unexpected("value", other)),
        }
    }

    fn enter(&mut self, at: usize) -> Result<(), String> {
        self.depth += 1;
        if self.depth > self.max_depth {
            return Err(format!(
                "Found too many nested data structures ({}) at character {}",
                self.depth,
                at + 1
            ));
        }
        Ok(())
    }

    fn new_table(&self) -> Result<Table, String> {
        self.lua.create_table().map_err(|e| e.to_string())
    }

    fn object(&mut self, at: usize) -> Result<Value, String> {
        self.enter(at)?;
        let table = self.new_table()?;
        let mut lexed = self.next_token();
        if let Lexed::Token(Token::ObjEnd, _, _) = lexed {
            self.depth -= 1;
            return Ok(Value::Table(table));
        }
        loop {
            let key = match lexed {
                Lexed::Token(Token::Str, key, _) => key,
                other => return Err(self.unexpected("object key string", other)),
            };
            match self.next_token() {
                Lexed::Token(Token::Colon, _, _) => {}
                other => return Err(self.unexpected("colon", other)),
            }
            let next = self.next_token();
            let value = self.value_from(next)?;
            table.raw_set(key, value).map_err(|e| e.to_string())?;
            match self.next_token() {
                Lexed::Token(Token::Comma, _, _) => lexed = self.next_token(),
                Lexed::Token(Token::ObjEnd, _, _) => break,
                other => return Err(self.unexpected("comma or object end", other)),
            }
        }
        self.depth -= 1;
        Ok(Value::Table(table))
    }

    fn array(&mut self, at: usize) -> Result<Value, String> {
        self.enter(at)?;
        let table = self.new_table()?;
        let mut lexed = self.next_token();
        if let Lexed::Token(Token::ArrEnd, _, _) = lexed {
            self.depth -= 1;
            return Ok(Value::Table(table));
        }
        let mut index = 1usize;
        loop {
            let value = self.value_from(lexed)?;
            table.raw_set(index, value).map_err(|e| e.to_string())?;
            index += 1;
            match self.next_token() {
                Lexed::Token(Token::Comma, _, _) => lexed = self.next_token(),
                Lexed::Token(Token::ArrEnd, _, _) => break,
                other => return Err(self.unexpected("comma or array end", other)),
            }
        }
        self.depth -= 1;
        Ok(Value::Table(table))
    }

    fn next_token(&mut self) -> Lexed {
        while self
            .text
            .get(self.at)
            .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        {
            self.at += 1;
        }
        let at = self.at;
        let Some(&c) = self.text.get(at) else {
            return Lexed::Token(Token::End, Value::Nil, at);
        };
        let single = |token| Lexed::Token(token, Value::Nil, at);
        let lexed = match c {
            b'{' => single(Token::ObjBegin),
            b'}' => single(Token::ObjEnd),
            b'[' => single(Token::ArrBegin),
            b']' => single(Token::ArrEnd),
            b':' => single(Token::Colon),
            b',' => single(Token::Comma),
            b'"' => return self.string(at),
            b'-' | b'0'..=b'9' => return self.number(at),
            b't' if self.text[at..].starts_with(b"true") => {
                self.at += 4;
                return Lexed::Token(Token::Boolean, Value::Boolean(true), at);
            }
            b'f' if self.text[at..].starts_with(b"false") => {
                self.at += 5;
                return Lexed::Token(Token::Boolean, Value::Boolean(false), at);
            }
            b'n' if self.text[at..].starts_with(b"null") => {
                self.at += 4;
                return Lexed::Token(Token::Null, null(), at);
            }
            _ => return Lexed::Invalid("invalid token", at),
        };
        self.at += 1;
        lexed
    }

    fn number(&mut self, at: usize) -> Lexed {
        let mut end = at;
        while self
            .text
            .get(end)
            .is_some_and(|b| matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
        {
            end += 1;
        }
        let parsed = std::str::from_utf8(&self.text[at..end])
            .ok()
            .and_then(|text| text.parse::<f64>().ok());
        match parsed {
            Some(n) => {
                self.at = end;
                Lexed::Token(Token::Number, Value::Number(n), at)
            }
            None => Lexed::Invalid("invalid number", at),
        }
    }

    fn string(&mut self, at: usize) -> Lexed {
        let mut out = Vec::new();
        let mut i = at + 1;
        loop {
            let Some(&c) = self.text.get(i) else {
                return Lexed::Invalid("unexpected end of string", at);
            };
            i += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let Some(&escape) = self.text.get(i) else {
                        return Lexed::Invalid("unexpected end of string", at);
                    };
                    i += 1;
                    match escape {
                        b'"' | b'\\' | b'/' => out.push(escape),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => match self.unicode_escape(i) {
                            Some((ch, used)) => {
                                let mut buf = [0u8; 4];
                                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                                i += used;
                            }
                            None => return Lexed::Invalid("invalid unicode escape code", at),
                        },
                        _ => return Lexed::Invalid("invalid escape code", at),
                    }
                }
                _ => out.push(c),
            }
        }
        self.at = i;
        match self.lua.create_string(&out) {
            Ok(s) => Lexed::Token(Token::Str, Value::String(s), at),
            Err(_) => Lexed::Invalid("out of memory", at),
        }
    }

    /// The character of a `\uXXXX` escape (or a surrogate pair of two) starting at `i`
    /// (after the `u`), and how many bytes it used.
    fn unicode_escape(&self, i: usize) -> Option<(char, usize)> {
        let hex = |from: usize| -> Option<u32> {
            let digits = self.text.get(from..from + 4)?;
            u32::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
        };
        let first = hex(i)?;
        if (0xD800..0xDC00).contains(&first) {
            if self.text.get(i + 4..i + 6)? != b"\\u" {
                return None;
            }
            let second = hex(i + 6)?;
            if !(0xDC00..0xE000).contains(&second) {
                return None;
            }
            let code = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
            return Some((char::from_u32(code)?, 10));
        }
        if (0xDC00..0xE000).contains(&first) {
            return None;
        }
        Some((char::from_u32(first)?, 4))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(lua: &Lua, json: &str) -> String {
        let value = Decoder::new(lua, json.as_bytes(), NESTING_MAX)
            .decode_document()
            .unwrap();
        let mut out = Vec::new();
        let encoding = Encoding {
            settings: Settings::default(),
        };
        encode(encoding, &value, 0, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn encodes_and_decodes_as_lua_cjson() {
        let lua = Lua::new();
        assert_eq!(
            roundtrip(&lua, "[1,2.5,\"a/b\",true,null]"),
            "[1,2.5,\"a\\/b\",true,null]"
        );
        assert_eq!(roundtrip(&lua, "{}"), "{}");
        assert_eq!(roundtrip(&lua, "[]"), "{}");
        assert_eq!(roundtrip(&lua, "{\"k\":[0.1]}"), "{\"k\":[0.1]}");
        assert_eq!(roundtrip(&lua, "\"\\u00e9\\ud83d\\ude00\""), "\"é😀\"");
        assert_eq!(roundtrip(&lua, "1e300"), "1e+300");
    }

    #[test]
    fn errors_name_the_token_and_character() {
        let lua = Lua::new();
        let err = |json: &str| {
            Decoder::new(&lua, json.as_bytes(), NESTING_MAX)
                .decode_document()
                .unwrap_err()
        };
        assert_eq!(
            err("{"),
            "Expected object key string but found T_END at character 2"
        );
        assert_eq!(
            err("[1 2]"),
            "Expected comma or array end but found T_NUMBER at character 4"
        );
        assert_eq!(
            err("x"),
            "Expected value but found invalid token at character 1"
        );
        assert_eq!(
            err("1 2"),
            "Expected the end but found T_NUMBER at character 3"
        );
    }
}
