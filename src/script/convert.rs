//! The pure parts of the conversions between Lua and Redis (Redis 7.0's): error texts,
//! numbers, status lines. The conversions themselves work on the Lua stack, in
//! [`super::native`].

use mlua::{Lua, Table};

/// The `{err = "CODE message"}` table Redis raises for an error, from text that is either
/// `-CODE message` (a reply's wording) or a bare message (given the code `ERR`).
pub fn error_table(lua: &Lua, text: &str) -> mlua::Result<Table> {
    let (code, message) = match text.strip_prefix('-') {
        Some(rest) => error_parts(rest),
        None => ("ERR", text.trim_end_matches(['\r', '\n'])),
    };
    let table = lua.create_table()?;
    table.raw_set("err", format!("{code} {message}"))?;
    Ok(table)
}

/// An error reply's code and message (`WRONGTYPE Operation ...`); text without a space is
/// all message, with the code `ERR`.
pub fn error_parts(text: &str) -> (&str, &str) {
    let (code, message) = text.split_once(' ').unwrap_or(("ERR", text));
    (code, message.trim_end_matches(['\r', '\n']))
}

/// The text of a `$<len>\r\n<text>\r\n` encoding.
pub fn parse_bulk(encoded: &[u8]) -> Option<&[u8]> {
    let rest = encoded.strip_prefix(b"$")?;
    let header_end = rest.iter().position(|&b| b == b'\r')?;
    let len: usize = std::str::from_utf8(&rest[..header_end])
        .ok()?
        .parse()
        .ok()?;
    rest.get(header_end + 2..header_end + 2 + len)
}

/// `(long long)n` as the C compiler does it on x86-64: truncation, and the "integer
/// indefinite" value (i64::MIN) for NaN and anything out of range.
#[allow(
    clippy::cast_possible_truncation,
    reason = "truncation toward zero is the conversion; the range is checked first"
)]
pub fn c_long_long(n: f64) -> i64 {
    // 2^63: the first double past i64's range.
    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    if n.is_nan() || !(-TWO_POW_63..TWO_POW_63).contains(&n) {
        return i64::MIN;
    }
    n as i64
}

/// Text for a status line: a newline would break the framing, Redis makes it a space.
pub fn status_text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect()
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
    fn conversions_follow_c() {
        assert_eq!(c_long_long(3.9), 3);
        assert_eq!(c_long_long(-3.9), -3);
        assert_eq!(c_long_long(f64::NAN), i64::MIN);
        assert_eq!(c_long_long(1e30), i64::MIN);
        assert_eq!(status_text(b"a\r\nb"), "a  b");
        assert_eq!(parse_bulk(b"$3\r\nabc\r\n"), Some(&b"abc"[..]));
    }
}
