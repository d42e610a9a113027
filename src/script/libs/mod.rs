//! The libraries Redis gives scripts beyond Lua's own, each written to behave as the C
//! library Redis bundles.

pub mod bit;
pub mod cjson;
pub mod cmsgpack;
pub mod lua_struct;

use mlua::{Lua, Value};

/// An error raised by a native library function, worded as `luaL_error` words it: prefixed
/// with the place in the calling Lua code (`user_script:3: `), none when a native function
/// called it (`pcall(cjson.decode, ...)`).
pub fn raise(lua: &Lua, message: impl std::fmt::Display) -> mlua::Error {
    // Level 0 is the native function itself, level 1 its caller.
    let place = lua.inspect_stack(1).and_then(|frame| {
        let line = frame.curr_line();
        let source = frame.source();
        let short_src = source.short_src.as_deref()?;
        (source.what != "C" && line > 0).then(|| format!("{short_src}:{line}: "))
    });
    mlua::Error::runtime(format!("{}{message}", place.unwrap_or_default()))
}

/// A number argument, as `luaL_checknumber` takes it (numeric strings converted); `None`
/// when the argument was not given.
pub fn number_arg(
    lua: &Lua,
    value: Option<&Value>,
    position: usize,
    function: &str,
) -> mlua::Result<f64> {
    let Some(value) = value else {
        return Err(raise(
            lua,
            format!("bad argument #{position} to '{function}' (number expected, got no value)"),
        ));
    };
    let found = match value {
        #[allow(
            clippy::cast_precision_loss,
            reason = "the integer came from a Lua number, a double"
        )]
        Value::Integer(i) => return Ok(*i as f64),
        Value::Number(n) => return Ok(*n),
        Value::String(s) => {
            // Lua converts numeric strings where a number is expected.
            if let Some(n) = s
                .to_str()
                .ok()
                .and_then(|text| text.trim().parse::<f64>().ok())
            {
                return Ok(n);
            }
            "string"
        }
        other => other.type_name(),
    };
    Err(raise(
        lua,
        format!("bad argument #{position} to '{function}' (number expected, got {found})"),
    ))
}

/// A string argument, as `luaL_checklstring` takes it (numbers printed as Lua prints
/// them).
pub fn string_arg(
    lua: &Lua,
    args: &[Value],
    position: usize,
    function: &str,
) -> mlua::Result<Vec<u8>> {
    match args.get(position - 1) {
        Some(Value::String(s)) => Ok(s.as_bytes().to_vec()),
        #[allow(
            clippy::cast_precision_loss,
            reason = "the integer came from a Lua number, a double"
        )]
        Some(Value::Integer(i)) => Ok(number_text(*i as f64).into_bytes()),
        Some(Value::Number(n)) => Ok(number_text(*n).into_bytes()),
        other => Err(raise(
            lua,
            format!(
                "bad argument #{position} to '{function}' (string expected, got {})",
                other.map_or("no value", |v| v.type_name())
            ),
        )),
    }
}

/// A number as Lua 5.1 prints it (`%.14g`).
pub fn number_text(n: f64) -> String {
    crate::resp::float::format_g(n, 14)
}
