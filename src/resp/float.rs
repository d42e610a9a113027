//! Number formatting that matches the C formats Redis uses in replies.

/// Formats like C's `printf("%.17g", v)`, which Redis 7.0 uses for doubles in replies
/// (ZSCORE, ZINCRBY, RESP3 doubles).
pub fn format_g17(v: f64) -> String {
    format_g(v, 17)
}

/// Formats like C's `%.<precision>g`.
pub fn format_g(v: f64, precision: usize) -> String {
    if v.is_nan() {
        return "nan".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "inf".to_string()
        } else {
            "-inf".to_string()
        };
    }
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0".to_string()
        } else {
            "0".to_string()
        };
    }
    let precision = precision.max(1);
    // Scientific form with `precision` significant digits gives the decimal exponent after
    // rounding, which is what %g uses to choose between fixed and exponent notation.
    let sci = format!("{:.*e}", precision - 1, v);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits = i32::try_from(precision).unwrap_or(i32::MAX);
    if exp < -4 || exp >= digits {
        let mantissa = strip_fraction_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        let decimals = usize::try_from(digits - 1 - exp).unwrap_or(0);
        strip_fraction_zeros(&format!("{:.*}", decimals, v)).to_string()
    }
}

fn strip_fraction_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_c_printf() {
        assert_eq!(format_g17(1.0), "1");
        assert_eq!(format_g17(1.1), "1.1000000000000001");
        assert_eq!(format_g17(-2.5), "-2.5");
        assert_eq!(format_g17(1e17), "1e+17");
        assert_eq!(format_g17(1.5e-5), "1.5e-05");
        assert_eq!(format_g17(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(format_g17(0.0001), "0.0001");
        assert_eq!(format_g17(123456789012345678.0), "1.2345678901234568e+17");
        assert_eq!(format_g17(f64::INFINITY), "inf");
        assert_eq!(format_g17(f64::NEG_INFINITY), "-inf");
        assert_eq!(format_g(3.0, 17), "3");
    }
}
