//! Score arguments and score output, with the exact rules of Redis 7.0.
//!
//! Redis reads scores with C's `strtod` under two regimes: members' scores and weights
//! (`string2d`: the whole argument, no leading space, no overflow or underflow to zero) and
//! range bounds (`zslParseRange`: leading spaces and overflow allowed, parsing stops at a NUL
//! byte, an empty bound is 0). Both refuse NaN.

use bytes::Bytes;

use crate::cmd::set::shared::is_c_space;
use crate::resp::float::format_g17;
use crate::store::zset::{LexBound, ScoreRange};

/// What `strtod` made of a prefix of its input.
struct Strtod {
    value: f64,
    /// Bytes consumed; 0 when nothing could be converted.
    consumed: usize,
    /// `errno == ERANGE`: the value overflowed to infinity or underflowed.
    out_of_range: bool,
}

/// Emulates glibc's `strtod` in the C locale.
fn strtod(text: &[u8]) -> Strtod {
    let none = Strtod {
        value: 0.0,
        consumed: 0,
        out_of_range: false,
    };
    let mut i = 0;
    while i < text.len() && is_c_space(text[i]) {
        i += 1;
    }
    let negative = text.get(i) == Some(&b'-');
    if matches!(text.get(i), Some(b'-' | b'+')) {
        i += 1;
    }
    let sign = if negative { -1.0 } else { 1.0 };
    let rest = &text[i..];
    let starts_with =
        |word: &[u8]| rest.len() >= word.len() && rest[..word.len()].eq_ignore_ascii_case(word);
    if starts_with(b"infinity") {
        return Strtod {
            value: sign * f64::INFINITY,
            consumed: i + 8,
            out_of_range: false,
        };
    }
    if starts_with(b"inf") {
        return Strtod {
            value: sign * f64::INFINITY,
            consumed: i + 3,
            out_of_range: false,
        };
    }
    if starts_with(b"nan") {
        let mut end = i + 3;
        // "nan(chars)" is consumed whole; the value is refused anyway.
        if text.get(end) == Some(&b'(')
            && let Some(close) = text[end..].iter().position(|&b| b == b')')
            && text[end + 1..end + close]
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'_')
        {
            end += close + 1;
        }
        return Strtod {
            value: f64::NAN,
            consumed: end,
            out_of_range: false,
        };
    }
    if rest.len() >= 2 && rest[0] == b'0' && (rest[1] | 0x20) == b'x' {
        if let Some(hex) = hex_float(&rest[2..]) {
            return Strtod {
                value: sign * hex.0,
                consumed: i + 2 + hex.1,
                out_of_range: hex.0.is_infinite() || hex.0 == 0.0 && hex.2,
            };
        }
        // "0x" without hex digits: only the "0" converts.
        return Strtod {
            value: sign * 0.0,
            consumed: i + 1,
            out_of_range: false,
        };
    }
    // Decimal: digits [. digits] [e [sign] digits], at least one mantissa digit.
    let start = i;
    let digits = |from: usize| {
        text[from..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    let int_digits = digits(i);
    i += int_digits;
    let mut frac_digits = 0;
    if text.get(i) == Some(&b'.') {
        frac_digits = digits(i + 1);
        if int_digits + frac_digits > 0 {
            i += 1 + frac_digits;
        }
    }
    if int_digits + frac_digits == 0 {
        return none;
    }
    let mantissa_end = i;
    let mut exponent: i64 = 0;
    if matches!(text.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        let exp_negative = text.get(j) == Some(&b'-');
        if matches!(text.get(j), Some(b'-' | b'+')) {
            j += 1;
        }
        let exp_digits = digits(j);
        if exp_digits > 0 {
            for &d in &text[j..j + exp_digits] {
                exponent = (exponent * 10 + i64::from(d - b'0')).min(1_000_000);
            }
            if exp_negative {
                exponent = -exponent;
            }
            i = j + exp_digits;
        }
    }
    let mantissa = String::from_utf8_lossy(&text[start..mantissa_end]).into_owned();
    let mantissa = if mantissa.starts_with('.') {
        format!("0{mantissa}")
    } else {
        mantissa
    };
    let magnitude: f64 = format!("{mantissa}e{exponent}").parse().unwrap_or(0.0);
    let nonzero = text[start..mantissa_end]
        .iter()
        .any(|b| (b'1'..=b'9').contains(b));
    let out_of_range = magnitude.is_infinite()
        || (nonzero && magnitude == 0.0)
        || (magnitude != 0.0 && magnitude < f64::MIN_POSITIVE);
    Strtod {
        value: sign * magnitude,
        consumed: i,
        out_of_range,
    }
}

/// Parses the hex digits after "0x": (value, bytes consumed, nonzero digits seen), or None
/// when there is no hex digit.
fn hex_float(text: &[u8]) -> Option<(f64, usize, bool)> {
    let mut i = 0;
    let mut mantissa: u64 = 0;
    let mut exponent: i64 = 0;
    let mut any_digit = false;
    let mut nonzero = false;
    let mut seen_point = false;
    while i < text.len() {
        let b = text[i];
        if b == b'.' && !seen_point {
            seen_point = true;
            i += 1;
            continue;
        }
        let Some(d) = (b as char).to_digit(16) else {
            break;
        };
        any_digit = true;
        nonzero |= d != 0;
        if mantissa >> 60 == 0 {
            mantissa = mantissa * 16 + u64::from(d);
            if seen_point {
                exponent -= 4;
            }
        } else if !seen_point {
            // Digits beyond the kept precision still scale the value.
            exponent += 4;
        }
        i += 1;
    }
    if !any_digit {
        return None;
    }
    if matches!(text.get(i), Some(b'p' | b'P')) {
        let mut j = i + 1;
        let negative = text.get(j) == Some(&b'-');
        if matches!(text.get(j), Some(b'-' | b'+')) {
            j += 1;
        }
        let count = text[j..].iter().take_while(|b| b.is_ascii_digit()).count();
        if count > 0 {
            let mut e: i64 = 0;
            for &d in &text[j..j + count] {
                e = (e * 10 + i64::from(d - b'0')).min(1_000_000);
            }
            exponent += if negative { -e } else { e };
            i = j + count;
        }
    }
    Some((scale_by_power_of_two(mantissa as f64, exponent), i, nonzero))
}

fn scale_by_power_of_two(mut value: f64, mut exponent: i64) -> f64 {
    while exponent > 1000 {
        value *= 2f64.powi(1000);
        exponent -= 1000;
    }
    while exponent < -1000 {
        value *= 2f64.powi(-1000);
        exponent += 1000;
    }
    // Within -1000..=1000 after the loops above.
    value * 2f64.powi(i32::try_from(exponent).unwrap_or(0))
}

/// A SORT weight, as Redis 7.0's SORT reads one with `strtod`: leading space allowed, the
/// rest must be consumed up to the end or a NUL byte (an empty value is 0); no overflow, no
/// NaN.
pub fn parse_sort_weight(arg: &[u8]) -> Option<f64> {
    let parsed = strtod(arg);
    let rest_ok = parsed.consumed == arg.len() || arg.get(parsed.consumed) == Some(&0);
    (rest_ok && !parsed.out_of_range && !parsed.value.is_nan()).then_some(parsed.value)
}

/// A score or weight argument (Redis's `string2d`); None means "not a valid float".
pub fn parse_score(arg: &[u8]) -> Option<f64> {
    if arg.is_empty() || is_c_space(arg[0]) {
        return None;
    }
    let parsed = strtod(arg);
    let rejected = parsed.consumed != arg.len()
        || parsed.value.is_nan()
        || (parsed.out_of_range && (parsed.value.is_infinite() || parsed.value == 0.0));
    (!rejected).then_some(parsed.value)
}

/// One bound of a score range: `1.5` or `(1.5`.
fn parse_score_bound(arg: &[u8]) -> Option<(f64, bool)> {
    let (exclusive, body) = match arg.first() {
        Some(b'(') => (true, &arg[1..]),
        _ => (false, arg),
    };
    // The C code stops reading at a NUL byte.
    let body = body.split(|&b| b == 0).next().unwrap_or_default();
    let parsed = strtod(body);
    if parsed.consumed != body.len() {
        return None;
    }
    (!parsed.value.is_nan()).then_some((parsed.value, exclusive))
}

/// A score range from ZRANGEBYSCORE-style arguments; None means "min or max is not a float".
pub fn parse_score_range(min: &[u8], max: &[u8]) -> Option<ScoreRange> {
    let (min, min_exclusive) = parse_score_bound(min)?;
    let (max, max_exclusive) = parse_score_bound(max)?;
    Some(ScoreRange {
        min,
        min_exclusive,
        max,
        max_exclusive,
    })
}

fn parse_lex_bound(arg: &[u8]) -> Option<LexBound> {
    // "+" and "-" must stand alone (a NUL byte ends the C string).
    let alone = arg.len() == 1 || arg.get(1) == Some(&0);
    match arg.first() {
        Some(b'+') if alone => Some(LexBound::Max),
        Some(b'-') if alone => Some(LexBound::Min),
        Some(b'(') => Some(LexBound::Exclusive(Bytes::copy_from_slice(&arg[1..]))),
        Some(b'[') => Some(LexBound::Inclusive(Bytes::copy_from_slice(&arg[1..]))),
        _ => None,
    }
}

/// A lexicographic range; None means "min or max not valid string range item".
pub fn parse_lex_range(min: &[u8], max: &[u8]) -> Option<(LexBound, LexBound)> {
    Some((parse_lex_bound(min)?, parse_lex_bound(max)?))
}

/// Formats a score like Redis's `d2string`, the text a listpack holds: integral values in
/// the safe range as integers, others with %.17g.
pub fn format_listpack_score(score: f64) -> String {
    const SAFE: f64 = (i64::MAX / 2) as f64;
    if score.is_finite() && score != 0.0 && (-SAFE..=SAFE).contains(&score) && score.fract() == 0.0
    {
        return crate::util::num::i64_saturating(score).to_string();
    }
    format_g17(score)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_follow_string2d() {
        assert_eq!(parse_score(b"1.5"), Some(1.5));
        assert_eq!(parse_score(b"0x10"), Some(16.0));
        assert_eq!(parse_score(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_score(b"+Infinity"), Some(f64::INFINITY));
        assert_eq!(parse_score(b"1e308"), Some(1e308));
        assert_eq!(parse_score(b".5"), Some(0.5));
        assert_eq!(parse_score(b"5."), Some(5.0));
        assert_eq!(parse_score(b"1e-310"), Some(1e-310));
        assert_eq!(parse_score(b"0"), Some(0.0));
        assert_eq!(parse_score(b"0e-999"), Some(0.0));
        for bad in [
            &b""[..],
            b" 1",
            b"1 ",
            b"nan",
            b"1e400",
            b"1e-400",
            b"abc",
            b"1e",
            b"1\x001",
            b"0x",
            b".",
            b"--1",
        ] {
            assert_eq!(parse_score(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn range_bounds_follow_strtod() {
        let r = parse_score_range(b"(1", b" 2").unwrap_or_else(|| panic!("valid"));
        assert!(r.min_exclusive && !r.max_exclusive);
        assert_eq!((r.min, r.max), (1.0, 2.0));
        let r = parse_score_range(b"", b"(").unwrap_or_else(|| panic!("valid"));
        assert_eq!((r.min, r.max), (0.0, 0.0));
        let r = parse_score_range(b"1e400", b"5\x00junk").unwrap_or_else(|| panic!("valid"));
        assert_eq!((r.min, r.max), (f64::INFINITY, 5.0));
        assert!(parse_score_range(b"nan", b"1").is_none());
        assert!(parse_score_range(b"1", b" ").is_none());
        assert!(parse_score_range(b"1x", b"2").is_none());
    }

    #[test]
    fn lex_bounds() {
        assert_eq!(
            parse_lex_range(b"-", b"+"),
            Some((LexBound::Min, LexBound::Max))
        );
        assert!(parse_lex_range(b"a", b"+").is_none());
        assert!(parse_lex_range(b"-a", b"+").is_none());
        assert_eq!(
            parse_lex_range(b"(a", b"[").map(|r| r.1),
            Some(LexBound::Inclusive(Bytes::new()))
        );
    }

    #[test]
    fn listpack_scores() {
        assert_eq!(format_listpack_score(1e17), "100000000000000000");
        assert_eq!(format_listpack_score(2.5), "2.5");
        assert_eq!(format_listpack_score(0.0), "0");
        assert_eq!(format_listpack_score(-0.0), "-0");
        assert_eq!(format_listpack_score(1e300), "1.0000000000000001e+300");
        assert_eq!(format_listpack_score(f64::INFINITY), "inf");
    }
}
