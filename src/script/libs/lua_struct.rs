//! `struct`: packing numbers and strings into binary strings and back, with the format
//! language and the results of the `struct` library Redis bundles (Roberto Ierusalimschy's
//! `struct.c`, built for x86-64: little-endian, `long` and `size_t` of 8 bytes, at most 8
//! bytes of alignment).
//!
//! Format options: `>` `<` endianness, `![n]` alignment, `x` a pad byte, `b`/`B` `h`/`H`
//! `l`/`L` signed/unsigned 1, 2 and 8-byte integers, `T` an 8-byte size, `i`/`I[n]` an
//! n-byte integer (default 4, at most 32), `c[n]` n characters (0: the whole string when
//! packing, the previous number's length when unpacking), `s` a zero-terminated string,
//! `f` and `d` floats and doubles, and spaces, ignored.

#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss,
    reason = "the library converts between doubles and C integers as C does"
)]

use mlua::{Lua, MultiValue, Table, Value, Variadic};

use super::{number_arg, raise, string_arg};
use crate::script::convert::c_long_long;

/// The widest integer option (`i32`).
const INT_BYTES_MAX: usize = 32;
/// The largest alignment `!` takes by default: a double's.
const ALIGN_DEFAULT: usize = 8;
/// Results `unpack` returns at most (Lua's C stack holds 8000 values).
const RESULTS_MAX: usize = 7990;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Endian {
    Big,
    Little,
}

/// What a format has set so far.
struct Header {
    endian: Endian,
    align: usize,
}

impl Default for Header {
    fn default() -> Header {
        Header {
            endian: Endian::Little,
            align: 1,
        }
    }
}

/// A format string, read option by option. Like the C library, it ends at a NUL byte.
struct Format<'f> {
    text: &'f [u8],
    at: usize,
}

impl<'f> Format<'f> {
    fn new(text: &'f [u8]) -> Format<'f> {
        let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
        Format {
            text: &text[..end],
            at: 0,
        }
    }

    fn next_option(&mut self) -> Option<u8> {
        let option = *self.text.get(self.at)?;
        self.at += 1;
        Some(option)
    }

    /// The digits after an option, or `default` if there are none.
    fn number(&mut self, default: usize) -> Result<usize, String> {
        if !self.text.get(self.at).is_some_and(u8::is_ascii_digit) {
            return Ok(default);
        }
        let mut n: i32 = 0;
        while let Some(&digit) = self.text.get(self.at).filter(|b| b.is_ascii_digit()) {
            let digit = i32::from(digit - b'0');
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(digit))
                .ok_or("integral size overflow")?;
            self.at += 1;
        }
        Ok(n as usize)
    }

    /// The size in bytes of `option`'s item (0 for options that take no room).
    fn size_of(&mut self, option: u8) -> Result<usize, String> {
        Ok(match option {
            b'b' | b'B' | b'x' => 1,
            b'h' | b'H' => 2,
            b'f' => 4,
            b'l' | b'L' | b'T' | b'd' => 8,
            b'c' => self.number(1)?,
            b'i' | b'I' => {
                let size = self.number(4)?;
                if size > INT_BYTES_MAX {
                    return Err(format!(
                        "integral size {size} is larger than limit of {INT_BYTES_MAX}"
                    ));
                }
                size
            }
            _ => 0,
        })
    }
}

/// Why an option failed: a plain error, or a bad argument (`luaL_argerror`).
enum Failure {
    Error(String),
    Argument(usize, String),
}

impl From<String> for Failure {
    fn from(text: String) -> Failure {
        Failure::Error(text)
    }
}

impl From<&str> for Failure {
    fn from(text: &str) -> Failure {
        Failure::Error(text.to_string())
    }
}

fn failure(lua: &Lua, function: &str, failure: Failure) -> mlua::Error {
    match failure {
        Failure::Error(text) => raise(lua, text),
        Failure::Argument(position, text) => raise(
            lua,
            format!("bad argument #{position} to '{function}' ({text})"),
        ),
    }
}

/// Padding bytes that align an item of `size` bytes at `offset`.
fn padding(offset: usize, header: &Header, option: u8, size: usize) -> usize {
    if size == 0 || option == b'c' {
        return 0;
    }
    let size = size.min(header.align);
    size.wrapping_sub(offset & size.wrapping_sub(1)) & size.wrapping_sub(1)
}

/// The options that change the header (or are spaces); anything else is refused.
fn control(format: &mut Format<'_>, option: u8, header: &mut Header) -> Result<(), Failure> {
    match option {
        b' ' => {}
        b'>' => header.endian = Endian::Big,
        b'<' => header.endian = Endian::Little,
        b'!' => {
            let align = format.number(ALIGN_DEFAULT)?;
            if !align.is_power_of_two() {
                return Err(format!("alignment {align} is not a power of 2").into());
            }
            header.align = align;
        }
        other => {
            let shown = char::from(other);
            return Err(Failure::Argument(
                1,
                format!("invalid format option '{shown}'"),
            ));
        }
    }
    Ok(())
}

/// `(unsigned long)n` (or `(unsigned long)(long)n` for a negative `n`) as x86-64 code
/// computes it.
fn c_unsigned_long(n: f64) -> u64 {
    // 2^63, where the conversion switches to the subtract-and-flip sequence.
    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    if n < 0.0 || n.is_nan() || n < TWO_POW_63 {
        return c_long_long(n) as u64;
    }
    (c_long_long(n - TWO_POW_63) as u64) ^ (1 << 63)
}

fn put_integer(out: &mut Vec<u8>, value: u64, endian: Endian, size: usize) {
    // Bytes past the eighth are zero: the value is a 64-bit `unsigned long`.
    let byte = |i: usize| if i < 8 { (value >> (8 * i)) as u8 } else { 0 };
    match endian {
        Endian::Little => out.extend((0..size).map(byte)),
        Endian::Big => out.extend((0..size).rev().map(byte)),
    }
}

fn get_integer(bytes: &[u8], endian: Endian, signed: bool) -> f64 {
    let mut value: u64 = 0;
    let mut push = |b: &u8| value = (value << 8) | u64::from(*b);
    match endian {
        Endian::Big => bytes.iter().for_each(&mut push),
        Endian::Little => bytes.iter().rev().for_each(&mut push),
    }
    if !signed {
        return value as f64;
    }
    // The shift count wraps at 64 as x86-64's does (sizes past 8 bytes).
    let mask = u64::MAX.wrapping_shl((bytes.len() * 8).wrapping_sub(1) as u32);
    if value & mask != 0 {
        value |= mask;
    }
    value as i64 as f64
}

fn pack(lua: &Lua, given: &[Value]) -> Result<Vec<u8>, mlua::Error> {
    let fail = |f: Failure| failure(lua, "pack", f);
    // The C function pushes a nil after its arguments, which the first missing one reads.
    let mut args = given.to_vec();
    args.push(Value::Nil);
    let args = &args[..];
    let format_text = string_arg(lua, args, 1, "pack")?;
    let mut format = Format::new(&format_text);
    let mut header = Header::default();
    let mut position = 2;
    let mut out = Vec::new();
    while let Some(option) = format.next_option() {
        let mut size = format.size_of(option).map_err(|e| fail(e.into()))?;
        let pad = padding(out.len(), &header, option, size);
        out.resize(out.len() + pad, 0);
        let number = |position: usize| number_arg(lua, args.get(position - 1), position, "pack");
        match option {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = number(position)?;
                position += 1;
                put_integer(&mut out, c_unsigned_long(n), header.endian, size);
            }
            b'x' => out.push(0),
            b'f' => {
                let bits = (number(position)? as f32).to_bits();
                position += 1;
                put_integer(&mut out, u64::from(bits), header.endian, 4);
            }
            b'd' => {
                let bits = number(position)?.to_bits();
                position += 1;
                put_integer(&mut out, bits, header.endian, 8);
            }
            b'c' | b's' => {
                let text = string_arg(lua, args, position, "pack")?;
                position += 1;
                if size == 0 {
                    size = text.len();
                }
                if text.len() < size {
                    // The C library names the argument after the string's.
                    return Err(fail(Failure::Argument(position, "string too short".into())));
                }
                out.extend_from_slice(&text[..size]);
                if option == b's' {
                    out.push(0);
                }
            }
            other => control(&mut format, other, &mut header).map_err(fail)?,
        }
    }
    Ok(out)
}

fn unpack(lua: &Lua, args: &[Value]) -> mlua::Result<MultiValue> {
    let fail = |f: Failure| failure(lua, "unpack", f);
    let format_text = string_arg(lua, args, 1, "unpack")?;
    let data = string_arg(lua, args, 2, "unpack")?;
    let start = match args.get(2) {
        None | Some(Value::Nil) => 1,
        Some(value) => c_long_long(number_arg(lua, Some(value), 3, "unpack")?),
    };
    // As `size_t`: a negative offset wraps to a huge one, refused as past the data.
    let mut at = start as u64 as usize;
    if at == 0 {
        return Err(fail(Failure::Argument(
            3,
            "offset must be 1 or greater".into(),
        )));
    }
    at -= 1;
    let mut format = Format::new(&format_text);
    let mut header = Header::default();
    let mut results: Vec<Value> = Vec::new();
    let too_short = || Failure::Argument(2, "data string too short".into());
    let fits = |at: usize, size: usize| size <= data.len() && at <= data.len() - size;
    while let Some(option) = format.next_option() {
        let mut size = format.size_of(option).map_err(|e| fail(e.into()))?;
        at = at.wrapping_add(padding(at, &header, option, size));
        if !fits(at, size) {
            return Err(fail(too_short()));
        }
        if results.len() >= RESULTS_MAX {
            return Err(fail("stack overflow (too many results)".into()));
        }
        match option {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let signed = option.is_ascii_lowercase();
                let n = get_integer(&data[at..at + size], header.endian, signed);
                results.push(Value::Number(n));
            }
            b'x' => {}
            b'f' => {
                let bits = get_integer(&data[at..at + 4], header.endian, false) as u32;
                results.push(Value::Number(f64::from(f32::from_bits(bits))));
            }
            b'd' => {
                let mut bytes = [0u8; 8];
                bytes.copy_from_slice(&data[at..at + 8]);
                let d = match header.endian {
                    Endian::Little => f64::from_le_bytes(bytes),
                    Endian::Big => f64::from_be_bytes(bytes),
                };
                results.push(Value::Number(d));
            }
            b'c' => {
                if size == 0 {
                    let previous = results.last().and_then(|v| match v {
                        Value::Number(n) => Some(*n),
                        Value::String(s) => s.to_str().ok()?.trim().parse().ok(),
                        _ => None,
                    });
                    let Some(length) = previous else {
                        return Err(fail("format 'c0' needs a previous size".into()));
                    };
                    results.pop();
                    size = c_unsigned_long(length) as usize;
                    if !fits(at, size) {
                        return Err(fail(too_short()));
                    }
                }
                results.push(Value::String(lua.create_string(&data[at..at + size])?));
            }
            b's' => {
                let Some(len) = data[at..].iter().position(|&b| b == 0) else {
                    return Err(fail("unfinished string in data".into()));
                };
                size = len + 1;
                results.push(Value::String(lua.create_string(&data[at..at + len])?));
            }
            other => control(&mut format, other, &mut header).map_err(fail)?,
        }
        at = at.wrapping_add(size);
    }
    results.push(Value::Number(at.wrapping_add(1) as f64));
    Ok(MultiValue::from_iter(results))
}

fn size(lua: &Lua, args: &[Value]) -> mlua::Result<f64> {
    let fail = |f: Failure| failure(lua, "size", f);
    let format_text = string_arg(lua, args, 1, "size")?;
    let mut format = Format::new(&format_text);
    let mut header = Header::default();
    let mut at: usize = 0;
    while let Some(option) = format.next_option() {
        let size = format.size_of(option).map_err(|e| fail(e.into()))?;
        at = at.wrapping_add(padding(at, &header, option, size));
        if option == b's' {
            return Err(fail(Failure::Argument(
                1,
                "option 's' has no fixed size".into(),
            )));
        }
        if option == b'c' && size == 0 {
            return Err(fail(Failure::Argument(
                1,
                "option 'c0' has no fixed size".into(),
            )));
        }
        // Letters that are no option take no room, without an error (as in C).
        if !option.is_ascii_alphanumeric() {
            control(&mut format, option, &mut header).map_err(fail)?;
        }
        at = at.wrapping_add(size);
    }
    Ok(at as f64)
}

/// Registers the library's functions in `table`.
pub fn register(lua: &Lua, table: &Table) -> mlua::Result<()> {
    table.raw_set(
        "pack",
        lua.create_function(|lua, args: Variadic<Value>| {
            let packed = pack(lua, &args)?;
            lua.create_string(packed)
        })?,
    )?;
    table.raw_set(
        "unpack",
        lua.create_function(|lua, args: Variadic<Value>| unpack(lua, &args))?,
    )?;
    table.raw_set(
        "size",
        lua.create_function(|lua, args: Variadic<Value>| size(lua, &args))?,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_convert_as_c_does() {
        assert_eq!(c_unsigned_long(-1.0), u64::MAX);
        assert_eq!(c_unsigned_long(3.7), 3);
        assert_eq!(c_unsigned_long(1e19), 10_000_000_000_000_000_000);
        assert_eq!(c_unsigned_long(1e30), 0);
        let mut out = Vec::new();
        put_integer(&mut out, u64::MAX, Endian::Big, 10);
        assert_eq!(out, [0, 0, 255, 255, 255, 255, 255, 255, 255, 255]);
        assert_eq!(get_integer(&[0xff, 0xfe], Endian::Big, true), -2.0);
        assert_eq!(get_integer(&[0xfe, 0xff], Endian::Little, false), 65534.0);
    }

    #[test]
    fn alignment_pads_to_the_smaller_of_size_and_align() {
        let header = Header {
            endian: Endian::Little,
            align: 4,
        };
        assert_eq!(padding(1, &header, b'd', 8), 3);
        assert_eq!(padding(1, &header, b'h', 2), 1);
        assert_eq!(padding(1, &header, b'c', 8), 0);
        assert_eq!(padding(5, &Header::default(), b'i', 4), 0);
    }
}
