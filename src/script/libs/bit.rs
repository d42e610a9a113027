//! `bit`: 32-bit operations on Lua numbers, with the semantics of LuaBitOp (the library
//! Redis ships): every argument is first reduced to a signed 32-bit integer the way
//! LuaBitOp does it, and every result is a signed 32-bit integer.

#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss,
    reason = "32-bit wrap-around is what the library computes"
)]

use mlua::{Lua, Table, Value, Variadic};

/// Reduces a Lua number to 32 bits as LuaBitOp does: adding 2^52 + 2^51 puts the number,
/// rounded to an integer, in the low bits of the double's mantissa, and those bits are the
/// result (modulo 2^32).
pub fn to_bits(n: f64) -> u32 {
    (n + 6_755_399_441_055_744.0).to_bits() as u32
}

fn bits_arg(lua: &Lua, args: &[Value], position: usize, function: &str) -> mlua::Result<u32> {
    super::number_arg(lua, args.get(position - 1), position, function).map(to_bits)
}

fn result(bits: u32) -> f64 {
    f64::from(bits as i32)
}

/// Registers the library's functions in `table`.
pub fn register(lua: &Lua, table: &Table) -> mlua::Result<()> {
    fn unary(lua: &Lua, table: &Table, name: &'static str, op: fn(u32) -> u32) -> mlua::Result<()> {
        table.raw_set(
            name,
            lua.create_function(move |lua, args: Variadic<Value>| {
                Ok(result(op(bits_arg(lua, &args, 1, name)?)))
            })?,
        )
    }
    fn fold(
        lua: &Lua,
        table: &Table,
        name: &'static str,
        op: fn(u32, u32) -> u32,
    ) -> mlua::Result<()> {
        table.raw_set(
            name,
            lua.create_function(move |lua, args: Variadic<Value>| {
                let mut acc = bits_arg(lua, &args, 1, name)?;
                for position in 2..=args.len() {
                    acc = op(acc, bits_arg(lua, &args, position, name)?);
                }
                Ok(result(acc))
            })?,
        )
    }
    fn shift(
        lua: &Lua,
        table: &Table,
        name: &'static str,
        op: fn(u32, u32) -> u32,
    ) -> mlua::Result<()> {
        table.raw_set(
            name,
            lua.create_function(move |lua, args: Variadic<Value>| {
                let value = bits_arg(lua, &args, 1, name)?;
                let by = bits_arg(lua, &args, 2, name)? & 31;
                Ok(result(op(value, by)))
            })?,
        )
    }
    unary(lua, table, "tobit", |x| x)?;
    unary(lua, table, "bnot", |x| !x)?;
    unary(lua, table, "bswap", u32::swap_bytes)?;
    fold(lua, table, "band", |a, b| a & b)?;
    fold(lua, table, "bor", |a, b| a | b)?;
    fold(lua, table, "bxor", |a, b| a ^ b)?;
    shift(lua, table, "lshift", |x, n| x << n)?;
    shift(lua, table, "rshift", |x, n| x >> n)?;
    shift(lua, table, "arshift", |x, n| ((x as i32) >> n) as u32)?;
    shift(lua, table, "rol", u32::rotate_left)?;
    shift(lua, table, "ror", u32::rotate_right)?;
    table.raw_set(
        "tohex",
        lua.create_function(|lua, args: Variadic<Value>| {
            let value = bits_arg(lua, &args, 1, "tohex")?;
            let width = match args.get(1) {
                None | Some(Value::Nil) => 8,
                Some(_) => bits_arg(lua, &args, 2, "tohex")? as i32,
            };
            lua.create_string(tohex(value, width))
        })?,
    )?;
    Ok(())
}

/// `bit.tohex`: the low `width` nibbles in lower case, or upper case for a negative width.
pub fn tohex(value: u32, width: i32) -> String {
    let upper = width < 0;
    let digits = width.unsigned_abs().min(8) as usize;
    let text = if upper {
        format!("{value:08X}")
    } else {
        format!("{value:08x}")
    };
    text[8 - digits..].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_reduce_as_luabitop_does() {
        assert_eq!(to_bits(1.0), 1);
        assert_eq!(to_bits(-1.0) as i32, -1);
        assert_eq!(to_bits(4_294_967_296.0), 0);
        assert_eq!(to_bits(4_294_967_297.0), 1);
        assert_eq!(to_bits(2_147_483_648.0) as i32, i32::MIN);
        // Halves round to even, as the FPU's default rounding does.
        assert_eq!(to_bits(2.5), 2);
        assert_eq!(to_bits(3.5), 4);
    }

    #[test]
    fn tohex_widths() {
        assert_eq!(tohex(0xABCD, 8), "0000abcd");
        assert_eq!(tohex(0xABCD, 2), "cd");
        assert_eq!(tohex(0xABCD, -4), "ABCD");
        assert_eq!(tohex(0xABCD, 12), "0000abcd");
        assert_eq!(tohex(0xABCD, 0), "");
    }
}
