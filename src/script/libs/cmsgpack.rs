//! `cmsgpack`: MessagePack for scripts, byte for byte as the lua-cmsgpack Redis ships packs
//! it: integral numbers as the smallest integer encoding, others as float32 when exact and
//! float64 otherwise, strings with the str8/16/32 headers, a table whose keys are exactly
//! 1..n as an array (an empty table too), any other table as a map in iteration order, and
//! nesting deeper than 16 levels as nil.

#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss,
    reason = "MessagePack packing: every narrowing cast follows the range check that picks its encoding"
)]

use mlua::{Lua, MultiValue, Table, Value, Variadic};

/// Tables nested deeper than this are packed as nil (lua-cmsgpack's
/// `LUACMSGPACK_MAX_NESTING`).
const NESTING_MAX: usize = 16;

pub fn register(lua: &Lua, table: &Table) -> mlua::Result<()> {
    table.raw_set(
        "pack",
        lua.create_function(|lua, args: Variadic<Value>| {
            if args.is_empty() {
                return Err(super::raise(
                    lua,
                    "bad argument #0 to 'pack' (MessagePack pack needs input.)",
                ));
            }
            let mut out = Vec::new();
            for value in args.iter() {
                pack(value, 0, &mut out)?;
            }
            lua.create_string(&out)
        })?,
    )?;
    table.raw_set(
        "unpack",
        lua.create_function(|lua, args: Variadic<Value>| {
            let data = super::string_arg(lua, &args, 1, "unpack")?;
            let (_, values) =
                unpack(lua, &data, 0, usize::MAX).map_err(|e| super::raise(lua, unpack_text(e)))?;
            Ok(MultiValue::from_vec(values))
        })?,
    )?;
    table.raw_set(
        "unpack_one",
        lua.create_function(|lua, args: Variadic<Value>| {
            let data = super::string_arg(lua, &args, 1, "unpack_one")?;
            let offset = integer_arg(&args, 2)?;
            unpack_returning_offset(lua, &data, offset, 1)
        })?,
    )?;
    table.raw_set(
        "unpack_limit",
        lua.create_function(|lua, args: Variadic<Value>| {
            let data = super::string_arg(lua, &args, 1, "unpack_limit")?;
            let limit = integer_arg(&args, 2)?;
            let offset = integer_arg(&args, 3)?;
            let limit = if limit <= 0 {
                usize::MAX
            } else {
                limit as usize
            };
            unpack_returning_offset(lua, &data, offset, limit)
        })?,
    )?;
    Ok(())
}

fn integer_arg(args: &[Value], position: usize) -> mlua::Result<i64> {
    Ok(match args.get(position - 1) {
        Some(Value::Integer(i)) => *i,
        Some(Value::Number(n)) => *n as i64,
        _ => 0,
    })
}

/// `unpack_one` / `unpack_limit`: the offset after what was read (-1 at the end of the
/// data), then the values.
fn unpack_returning_offset(
    lua: &Lua,
    data: &[u8],
    offset: i64,
    limit: usize,
) -> mlua::Result<MultiValue> {
    let offset = usize::try_from(offset)
        .ok()
        .filter(|&o| o <= data.len())
        .ok_or_else(|| super::raise(lua, "Start offset greater than input length."))?;
    let (end, mut values) =
        unpack(lua, data, offset, limit).map_err(|e| super::raise(lua, unpack_text(e)))?;
    let next = if end >= data.len() { -1 } else { end as i64 };
    values.insert(0, Value::Number(next as f64));
    Ok(MultiValue::from_vec(values))
}

fn pack(value: &Value, depth: usize, out: &mut Vec<u8>) -> mlua::Result<()> {
    match value {
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(i) => pack_integer(*i, out),
        Value::Number(n) => pack_number(*n, out),
        Value::String(s) => pack_bytes(&s.as_bytes(), out),
        Value::Table(t) if depth < NESTING_MAX => pack_table(t, depth + 1, out)?,
        _ => out.push(0xc0),
    }
    Ok(())
}

fn pack_number(n: f64, out: &mut Vec<u8>) {
    // An integral number in i64's range is packed as an integer.
    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    if n == n.trunc() && (-TWO_POW_63..TWO_POW_63).contains(&n) {
        return pack_integer(n as i64, out);
    }
    let single = n as f32;
    if f64::from(single) == n {
        out.push(0xca);
        out.extend_from_slice(&single.to_bits().to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_bits().to_be_bytes());
    }
}

fn pack_integer(n: i64, out: &mut Vec<u8>) {
    if n >= 0 {
        match n as u64 {
            v @ 0..=127 => out.push(v as u8),
            v @ 128..=0xff => out.extend_from_slice(&[0xcc, v as u8]),
            v @ 0x100..=0xffff => {
                out.push(0xcd);
                out.extend_from_slice(&(v as u16).to_be_bytes());
            }
            v @ 0x1_0000..=0xffff_ffff => {
                out.push(0xce);
                out.extend_from_slice(&(v as u32).to_be_bytes());
            }
            v => {
                out.push(0xcf);
                out.extend_from_slice(&v.to_be_bytes());
            }
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= i64::from(i32::MIN) {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn pack_bytes(s: &[u8], out: &mut Vec<u8>) {
    let len = s.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(s);
}

/// A table whose keys are exactly the integers 1..n (n may be 0) packs as an array.
fn is_array(t: &Table) -> mlua::Result<bool> {
    let mut count = 0usize;
    let mut max = 0usize;
    for pair in t.clone().pairs::<Value, Value>() {
        let (key, _) = pair?;
        let index = match key {
            Value::Integer(i) if i >= 1 => i as usize,
            Value::Number(n) if n >= 1.0 && n == n.trunc() => n as usize,
            _ => return Ok(false),
        };
        count += 1;
        max = max.max(index);
    }
    Ok(max == count)
}

fn pack_table(t: &Table, depth: usize, out: &mut Vec<u8>) -> mlua::Result<()> {
    if is_array(t)? {
        let len = t.raw_len();
        collection_header(len, 0x90, 0xdc, 0xdd, out);
        for i in 1..=len {
            let item: Value = t.raw_get(i)?;
            pack(&item, depth, out)?;
        }
        return Ok(());
    }
    let len = t.clone().pairs::<Value, Value>().count();
    collection_header(len, 0x80, 0xde, 0xdf, out);
    for pair in t.clone().pairs::<Value, Value>() {
        let (key, item) = pair?;
        pack(&key, depth, out)?;
        pack(&item, depth, out)?;
    }
    Ok(())
}

fn collection_header(len: usize, fix: u8, header16: u8, header32: u8, out: &mut Vec<u8>) {
    if len <= 15 {
        out.push(fix | len as u8);
    } else if len <= 0xffff {
        out.push(header16);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(header32);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

/// Reads up to `limit` values from `data` at `offset`; returns where it stopped.
fn unpack(
    lua: &Lua,
    data: &[u8],
    offset: usize,
    limit: usize,
) -> mlua::Result<(usize, Vec<Value>)> {
    let mut reader = Reader {
        lua,
        data,
        at: offset,
    };
    let mut values = Vec::new();
    while reader.at < data.len() && values.len() < limit {
        values.push(reader.value()?);
    }
    Ok((reader.at, values))
}

struct Reader<'d> {
    lua: &'d Lua,
    data: &'d [u8],
    at: usize,
}

fn missing() -> mlua::Error {
    mlua::Error::runtime("Missing bytes in input.")
}

/// The text of an error met while unpacking, for [`super::raise`].
fn unpack_text(e: mlua::Error) -> String {
    match e {
        mlua::Error::RuntimeError(text) => text,
        other => other.to_string(),
    }
}

impl<'d> Reader<'d> {
    fn take(&mut self, n: usize) -> mlua::Result<&'d [u8]> {
        let end = self.at.checked_add(n).ok_or_else(missing)?;
        let bytes = self.data.get(self.at..end).ok_or_else(missing)?;
        self.at = end;
        Ok(bytes)
    }

    fn uint(&mut self, n: usize) -> mlua::Result<u64> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    fn value(&mut self) -> mlua::Result<Value> {
        let tag = self.take(1)?[0];
        Ok(match tag {
            0x00..=0x7f => Value::Number(f64::from(tag)),
            0x80..=0x8f => self.map(usize::from(tag & 0x0f))?,
            0x90..=0x9f => self.array(usize::from(tag & 0x0f))?,
            0xa0..=0xbf => self.string(usize::from(tag & 0x1f))?,
            0xc0 => Value::Nil,
            0xc2 => Value::Boolean(false),
            0xc3 => Value::Boolean(true),
            0xc4 | 0xd9 => {
                let len = self.uint(1)? as usize;
                self.string(len)?
            }
            0xc5 | 0xda => {
                let len = self.uint(2)? as usize;
                self.string(len)?
            }
            0xc6 | 0xdb => {
                let len = self.uint(4)? as usize;
                self.string(len)?
            }
            0xca => Value::Number(f64::from(f32::from_bits(self.uint(4)? as u32))),
            0xcb => Value::Number(f64::from_bits(self.uint(8)?)),
            0xcc => Value::Number(self.uint(1)? as f64),
            0xcd => Value::Number(self.uint(2)? as f64),
            0xce => Value::Number(self.uint(4)? as f64),
            0xcf => Value::Number(self.uint(8)? as f64),
            0xd0 => Value::Number(f64::from(self.uint(1)? as u8 as i8)),
            0xd1 => Value::Number(f64::from(self.uint(2)? as u16 as i16)),
            0xd2 => Value::Number(f64::from(self.uint(4)? as u32 as i32)),
            0xd3 => Value::Number(self.uint(8)? as i64 as f64),
            0xdc => {
                let len = self.uint(2)? as usize;
                self.array(len)?
            }
            0xdd => {
                let len = self.uint(4)? as usize;
                self.array(len)?
            }
            0xde => {
                let len = self.uint(2)? as usize;
                self.map(len)?
            }
            0xdf => {
                let len = self.uint(4)? as usize;
                self.map(len)?
            }
            0xe0..=0xff => Value::Number(f64::from(tag as i8)),
            _ => return Err(mlua::Error::runtime("Bad data format in input.")),
        })
    }

    fn string(&mut self, len: usize) -> mlua::Result<Value> {
        let bytes = self.take(len)?;
        Ok(Value::String(self.lua.create_string(bytes)?))
    }

    /// Each element takes at least one byte: a count larger than what is left is damage,
    /// found before anything is allocated for it.
    fn check_count(&self, count: usize) -> mlua::Result<()> {
        if count > self.data.len() - self.at {
            return Err(missing());
        }
        Ok(())
    }

    fn array(&mut self, len: usize) -> mlua::Result<Value> {
        self.check_count(len)?;
        let table = self.lua.create_table_with_capacity(len, 0)?;
        for i in 1..=len {
            let item = self.value()?;
            table.raw_set(i, item)?;
        }
        Ok(Value::Table(table))
    }

    fn map(&mut self, len: usize) -> mlua::Result<Value> {
        self.check_count(len.saturating_mul(2))?;
        let table = self.lua.create_table_with_capacity(0, len)?;
        for _ in 0..len {
            let key = self.value()?;
            let item = self.value()?;
            if key != Value::Nil {
                table.raw_set(key, item)?;
            }
        }
        Ok(Value::Table(table))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packed(value: Value) -> Vec<u8> {
        let mut out = Vec::new();
        pack(&value, 0, &mut out).unwrap();
        out
    }

    #[test]
    fn numbers_take_the_smallest_encoding() {
        assert_eq!(packed(Value::Number(5.0)), [5]);
        assert_eq!(packed(Value::Number(-1.0)), [0xff]);
        assert_eq!(packed(Value::Number(200.0)), [0xcc, 200]);
        assert_eq!(packed(Value::Number(-200.0)), [0xd1, 0xff, 0x38]);
        assert_eq!(packed(Value::Number(0.5)), [0xca, 0x3f, 0, 0, 0]);
        assert_eq!(packed(Value::Number(0.1))[0], 0xcb);
    }

    #[test]
    fn unpack_reverses_pack_and_refuses_damage() {
        let lua = Lua::new();
        let t = lua.create_table().unwrap();
        t.raw_set(1, "a").unwrap();
        t.raw_set(2, 3).unwrap();
        let bytes = packed(Value::Table(t));
        assert_eq!(bytes, [0x92, 0xa1, b'a', 3]);
        let (end, values) = unpack(&lua, &bytes, 0, usize::MAX).unwrap();
        assert_eq!(end, 4);
        assert_eq!(values.len(), 1);
        assert!(unpack(&lua, &bytes[..3], 0, usize::MAX).is_err());
        // A huge announced count is refused before allocating.
        assert!(unpack(&lua, &[0xdd, 0xff, 0xff, 0xff, 0xff], 0, usize::MAX).is_err());
        assert!(unpack(&lua, &[0xc1], 0, usize::MAX).is_err());
    }
}
