//! The libraries Redis gives scripts beyond Lua's own, each written to behave as the C
//! library Redis bundles.

pub mod bit;
pub mod cjson;
pub mod cmsgpack;

use mlua::Lua;

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
