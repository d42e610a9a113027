//! INCRBYFLOAT arithmetic exactly as Redis does it: in C `long double`, printed with
//! `%.17Lf` and trimmed of trailing zeros ("human" form). An `f64` gives different digits
//! (0.1 + 0.2 is "0.30000000000000004" in `f64` and "0.3" in Redis), so the work is done by
//! the C helper in `src/native/longdouble.c` and only bytes cross the boundary.

use std::ffi::c_char;

use bytes::Bytes;

/// Why an increment was refused; each maps to a different Redis error text per command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncrFloatError {
    /// The stored value does not parse as a float.
    CurrentNotFloat,
    /// The increment does not parse as a float.
    IncrementNotFloat,
    /// The sum is NaN or infinite.
    NanOrInfinity,
}

/// Enough for any finite `long double` in `%.17Lf` (at most 4933 integer digits) and the
/// same bound Redis puts on the text of one.
const OUTPUT_CAPACITY_BYTES: usize = 5 * 1024;

const STATUS_OK: i32 = 0;
const STATUS_BAD_CURRENT: i32 = 1;
const STATUS_BAD_INCREMENT: i32 = 2;

unsafe extern "C" {
    fn sluice_ld_valid(text: *const c_char, len: usize) -> i32;
    fn sluice_ld_incr(
        current: *const c_char,
        current_len: usize,
        incr: *const c_char,
        incr_len: usize,
        out: *mut c_char,
        out_cap: usize,
        out_len: *mut usize,
    ) -> i32;
}

/// True if `text` is a float Redis accepts for INCRBYFLOAT/HINCRBYFLOAT (`strtold` rules:
/// no leading space, no trailing bytes, no NaN, no overflow; "inf" is accepted).
pub fn is_valid(text: &[u8]) -> bool {
    // SAFETY: the pointer and length describe a live slice; the C side copies at most `len`
    // bytes into its own buffer and never writes through the pointer.
    unsafe { sluice_ld_valid(text.as_ptr().cast(), text.len()) == 1 }
}

/// `current + incr` in `long double`, formatted the way Redis stores the result.
pub fn incr_by_float(current: &[u8], incr: &[u8]) -> Result<Bytes, IncrFloatError> {
    let mut out = vec![0u8; OUTPUT_CAPACITY_BYTES];
    let mut out_len = 0usize;
    // SAFETY: both inputs are live slices read only within their lengths; `out` has
    // `out.len()` writable bytes and the C side writes at most that many (snprintf bound),
    // reporting the used length through `out_len`, a valid pointer to a local.
    let status = unsafe {
        sluice_ld_incr(
            current.as_ptr().cast(),
            current.len(),
            incr.as_ptr().cast(),
            incr.len(),
            out.as_mut_ptr().cast(),
            out.len(),
            &mut out_len,
        )
    };
    match status {
        STATUS_OK => {
            out.truncate(out_len.min(OUTPUT_CAPACITY_BYTES));
            Ok(Bytes::from(out))
        }
        STATUS_BAD_CURRENT => Err(IncrFloatError::CurrentNotFloat),
        STATUS_BAD_INCREMENT => Err(IncrFloatError::IncrementNotFloat),
        _ => Err(IncrFloatError::NanOrInfinity),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(a: &str, b: &str) -> Result<String, IncrFloatError> {
        incr_by_float(a.as_bytes(), b.as_bytes())
            .map(|v| String::from_utf8(v.to_vec()).unwrap_or_default())
    }

    #[test]
    fn long_double_precision_and_human_format() {
        assert_eq!(add("0.1", "0.2"), Ok("0.3".into()));
        assert_eq!(add("10.5", "0.1"), Ok("10.6".into()));
        assert_eq!(add("5.0e3", "2.0e2"), Ok("5200".into()));
        assert_eq!(add("0", "-0"), Ok("0".into()));
        assert_eq!(add("1", "-1.5"), Ok("-0.5".into()));
        assert_eq!(add("10", "1"), Ok("11".into()));
        assert_eq!(add("1e20", "1"), Ok("100000000000000000000".into()));
        assert_eq!(add("0", "1e-20"), Ok("0".into()));
        assert_eq!(add("0x10", "1"), Ok("17".into()));
    }

    #[test]
    fn refusals() {
        assert_eq!(add("abc", "1"), Err(IncrFloatError::CurrentNotFloat));
        assert_eq!(add("", "1"), Err(IncrFloatError::CurrentNotFloat));
        assert_eq!(add("1", " 1"), Err(IncrFloatError::IncrementNotFloat));
        assert_eq!(add("1", "1 "), Err(IncrFloatError::IncrementNotFloat));
        assert_eq!(add("1", "nan"), Err(IncrFloatError::IncrementNotFloat));
        assert_eq!(add("1", "1e5000"), Err(IncrFloatError::IncrementNotFloat));
        assert_eq!(add("1", "inf"), Err(IncrFloatError::NanOrInfinity));
        assert_eq!(
            incr_by_float(b"1\x002", b"1"),
            Err(IncrFloatError::CurrentNotFloat)
        );
        let long = "1".repeat(6000);
        assert_eq!(add(&long, "1"), Err(IncrFloatError::CurrentNotFloat));
    }

    #[test]
    fn validity() {
        assert!(is_valid(b"1.5"));
        assert!(is_valid(b"-inf"));
        assert!(!is_valid(b"nan"));
        assert!(!is_valid(b""));
        assert!(!is_valid(b"\t1"));
    }
}
