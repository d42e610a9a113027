//! Number parsing with Redis's exact acceptance rules.

/// Parses like Redis's `string2ll`: optional '-', no '+', no leading zeros (except "0"),
/// no spaces, fits in i64.
pub fn parse_i64(text: &[u8]) -> Option<i64> {
    if text.is_empty() || text.len() > 20 {
        return None;
    }
    if text == b"0" {
        return Some(0);
    }
    let (negative, digits) = match text[0] {
        b'-' => (true, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || digits[0] == b'0' {
        return None;
    }
    let mut value: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if negative {
        if value > i64::MAX as u64 + 1 {
            return None;
        }
        Some((value as i64).wrapping_neg())
    } else {
        i64::try_from(value).ok()
    }
}

/// Parses like Redis's `string2ld`/`strtod` for scores and floats: accepts "inf", "-inf",
/// "+inf", exponents, leading '+'; refuses NaN, spaces and trailing garbage.
pub fn parse_f64(text: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(text).ok()?;
    if s.is_empty()
        || s.starts_with(|c: char| c.is_whitespace())
        || s.ends_with(|c: char| c.is_whitespace())
    {
        return None;
    }
    let lower = s.to_ascii_lowercase();
    let v = match lower.as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        _ => {
            if lower.contains("nan") || lower.contains("inf") {
                return None;
            }
            // Rust's parser accepts forms strtod does too (".5", "5.", "1e3"); hex floats are
            // not accepted, which Redis does not document either.
            lower.parse::<f64>().ok()?
        }
    };
    if v.is_nan() { None } else { Some(v) }
}

// Lengths, offsets and limits are u64 on the wire, in files and in the configuration;
// `usize_from` relies on the pointer being as wide.
const _: () = assert!(usize::BITS == 64, "sluice is built for 64-bit targets only");

/// A u64 length, offset or limit as a usize: lossless on the 64-bit targets sluice is built
/// for (asserted above). Lengths read from untrusted input are checked against a limit
/// before they get here.
#[expect(
    clippy::cast_possible_truncation,
    reason = "usize is 64 bits wide: asserted at compile time above"
)]
pub const fn usize_from(v: u64) -> usize {
    v as usize
}

/// A duration count (`as_millis`, `as_micros`) as u64, saturating: u64 microseconds last
/// 584,000 years.
pub fn u64_saturating(v: u128) -> u64 {
    u64::try_from(v).unwrap_or(u64::MAX)
}

/// A float as an integer the way `as` converts it: truncated toward zero, saturated at the
/// type's bounds, NaN as 0. For values the caller has rounded and range-checked.
#[expect(
    clippy::cast_possible_truncation,
    reason = "saturating float-to-int conversion is the intent"
)]
pub fn i64_saturating(v: f64) -> i64 {
    v as i64
}

/// [`i64_saturating`] for unsigned results (negative values become 0).
#[expect(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "saturating float-to-int conversion is the intent"
)]
pub fn u64_saturating_f64(v: f64) -> u64 {
    v as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers() {
        assert_eq!(parse_i64(b"123"), Some(123));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        assert_eq!(parse_i64(b"+1"), None);
        assert_eq!(parse_i64(b"01"), None);
        assert_eq!(parse_i64(b" 1"), None);
        assert_eq!(parse_i64(b"-0"), None);
    }

    #[test]
    fn floats() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"+inf"), Some(f64::INFINITY));
        assert_eq!(parse_f64(b"nan"), None);
        assert_eq!(parse_f64(b"1e3"), Some(1000.0));
        assert_eq!(parse_f64(b"abc"), None);
    }
}
