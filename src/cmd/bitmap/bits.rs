//! Bit arithmetic on byte strings, pure: bit order is Redis's (bit 0 is the most significant
//! bit of byte 0), ranges and masks as `bitops.c` computes them in Redis 7.0.

/// A bit range's byte span with the bits outside it masked off at both ends (BITCOUNT and
/// BITPOS in BIT mode); in BYTE mode both masks are 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
    /// Bits of the first byte before the range.
    pub first_mask: u8,
    /// Bits of the last byte after the range.
    pub last_mask: u8,
}

/// Resolves `start..=end` (negative from the end; in bits when `bits`) against a string of
/// `len` bytes; `None` for an empty range.
pub fn span(len: usize, start: i64, end: i64, bits: bool) -> Option<Span> {
    let mut total = i64::try_from(len).unwrap_or(i64::MAX);
    if bits {
        total = total.saturating_mul(8);
    }
    let mut start = if start < 0 { total + start } else { start };
    let mut end = if end < 0 { total + end } else { end };
    start = start.max(0);
    end = end.max(0);
    if end >= total {
        end = total - 1;
    }
    if start > end {
        return None;
    }
    let (mut first_mask, mut last_mask) = (0u8, 0u8);
    if bits {
        first_mask = !(0xFFu8 >> (start & 7));
        last_mask = (1u8 << (7 - (end & 7))).wrapping_sub(1);
        start >>= 3;
        end >>= 3;
    }
    Some(Span {
        start: usize::try_from(start).ok()?,
        end: usize::try_from(end).ok()?,
        first_mask,
        last_mask,
    })
}

/// Set bits in `bytes[span]`, the masked edges excluded.
pub fn count(bytes: &[u8], s: Span) -> u64 {
    let Some(range) = bytes.get(s.start..=s.end) else {
        return 0;
    };
    let mut n: u64 = range.iter().map(|b| u64::from(b.count_ones())).sum();
    if let Some(first) = range.first() {
        n -= u64::from((first & s.first_mask).count_ones());
    }
    if let Some(last) = range.last() {
        n -= u64::from((last & s.last_mask).count_ones());
    }
    n
}

/// Position of the first bit equal to `bit` in `bytes`, counting the bits after the end as
/// clear: for a clear bit in a string of set bits, the first bit past it.
fn first_in(bytes: &[u8], bit: bool) -> Option<u64> {
    let skip = if bit { 0x00 } else { 0xFF };
    let at = bytes.iter().position(|&b| b != skip);
    match at {
        Some(i) => {
            let b = if bit { bytes[i] } else { !bytes[i] };
            Some(i as u64 * 8 + u64::from(b.leading_zeros()))
        }
        None if bit => None,
        None => Some(bytes.len() as u64 * 8),
    }
}

/// BITPOS within a span: the absolute bit position, `-1` where none. `end_given`: past the
/// range is not clear bits (an explicit end bounds the search for a 0).
pub fn position(bytes: &[u8], s: Span, bit: bool, end_given: bool) -> i64 {
    let Some(range) = bytes.get(s.start..=s.end) else {
        return -1;
    };
    // The masked edge bits are made the opposite of what is sought, so they are never found.
    let mut copy = range.to_vec();
    let force = |b: &mut u8, mask: u8| {
        if bit {
            *b &= !mask;
        } else {
            *b |= mask;
        }
    };
    if let Some(first) = copy.first_mut() {
        force(first, s.first_mask);
    }
    if let Some(last) = copy.last_mut() {
        force(last, s.last_mask);
    }
    let found = first_in(&copy, bit);
    // Not found (`None`), or for a 0 only past the range: past an explicit end, or past a
    // masked last byte (whose trailing bits are outside the range), there is none.
    let past = copy.len() as u64 * 8;
    match found {
        None => -1,
        Some(p) if p == past && !bit && (end_given || s.last_mask != 0) => -1,
        Some(p) => i64::try_from(s.start as u64 * 8 + p).unwrap_or(i64::MAX),
    }
}

/// The unsigned integer of `width` bits at bit `offset`; bits past the end read as 0.
pub fn get_unsigned(bytes: &[u8], offset: u64, width: u32) -> u64 {
    (0..u64::from(width)).fold(0u64, |value, j| {
        let at = offset + j;
        let byte = usize::try_from(at >> 3)
            .ok()
            .and_then(|i| bytes.get(i))
            .copied()
            .unwrap_or(0);
        (value << 1) | u64::from((byte >> (7 - (at & 7))) & 1)
    })
}

/// The two's-complement integer of `width` bits at bit `offset`.
pub fn get_signed(bytes: &[u8], offset: u64, width: u32) -> i64 {
    let raw = get_unsigned(bytes, offset, width);
    if width < 64 && raw & (1u64 << (width - 1)) != 0 {
        (raw | (u64::MAX << width)) as i64
    } else {
        raw as i64
    }
}

/// Writes the low `width` bits of `value` at bit `offset`; `bytes` must reach that far.
pub fn set_bits(bytes: &mut [u8], offset: u64, width: u32, value: u64) {
    for j in 0..u64::from(width) {
        let at = offset + j;
        let Some(byte) = usize::try_from(at >> 3).ok().and_then(|i| bytes.get_mut(i)) else {
            return;
        };
        let shift = 7 - (at & 7);
        let on = (value >> (u64::from(width) - 1 - j)) & 1;
        *byte = (*byte & !(1 << shift)) | ((on as u8) << shift);
    }
}

/// BITFIELD's OVERFLOW behaviours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    Wrap,
    Sat,
    Fail,
}

/// `value + incr` in an unsigned field of `width` bits (< 64); `None` for FAIL on overflow.
pub fn add_unsigned(value: u64, incr: i64, width: u32, overflow: Overflow) -> Option<u64> {
    let max = (1u64 << width) - 1;
    let sum = i128::from(value) + i128::from(incr);
    if value <= max
        && let Ok(sum) = u64::try_from(sum)
        && sum <= max
    {
        return Some(sum);
    }
    match overflow {
        Overflow::Wrap => Some((value.wrapping_add(incr as u64)) & max),
        Overflow::Sat if sum > i128::from(max) || value > max => Some(max),
        Overflow::Sat => Some(0),
        Overflow::Fail => None,
    }
}

/// `value + incr` in a signed field of `width` bits (<= 64); `None` for FAIL on overflow.
pub fn add_signed(value: i64, incr: i64, width: u32, overflow: Overflow) -> Option<i64> {
    let max = if width == 64 {
        i64::MAX
    } else {
        (1i64 << (width - 1)) - 1
    };
    let min = -max - 1;
    let sum = i128::from(value) + i128::from(incr);
    if let Ok(sum) = i64::try_from(sum)
        && (min..=max).contains(&sum)
    {
        return Some(sum);
    }
    match overflow {
        Overflow::Wrap => {
            let c = (value as u64).wrapping_add(incr as u64);
            if width == 64 {
                return Some(c as i64);
            }
            let mask = u64::MAX << width;
            let sign = 1u64 << (width - 1);
            Some(if c & sign != 0 { c | mask } else { c & !mask } as i64)
        }
        Overflow::Sat if sum > i128::from(max) => Some(max),
        Overflow::Sat => Some(min),
        Overflow::Fail => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_in_bytes_and_bits() {
        assert_eq!(
            span(4, 0, -1, false),
            Some(Span {
                start: 0,
                end: 3,
                first_mask: 0,
                last_mask: 0
            })
        );
        assert_eq!(span(4, 3, 1, false), None);
        let s = span(2, 5, 10, true).expect("a range");
        assert_eq!((s.start, s.end), (0, 1));
        assert_eq!(s.first_mask, 0b1111_1000);
        assert_eq!(s.last_mask, 0b0001_1111);
    }

    #[test]
    fn counts_with_masked_edges() {
        let bytes = [0xFF, 0xFF];
        assert_eq!(count(&bytes, span(2, 0, -1, false).expect("range")), 16);
        assert_eq!(count(&bytes, span(2, 5, 10, true).expect("range")), 6);
        assert_eq!(count(&bytes, span(2, 3, 3, true).expect("range")), 1);
    }

    #[test]
    fn positions_as_redis_reports_them() {
        // "\xff\xf0\x00": first 0 at 12, first 1 at 0.
        let b = [0xFF, 0xF0, 0x00];
        let whole = span(3, 0, -1, false).expect("range");
        assert_eq!(position(&b, whole, false, false), 12);
        assert_eq!(position(&b, whole, true, false), 0);
        // All ones: a 0 is past the end unless the end was given.
        let ones = [0xFF, 0xFF];
        let s = span(2, 0, -1, false).expect("range");
        assert_eq!(position(&ones, s, false, false), 16);
        assert_eq!(position(&ones, s, false, true), -1);
        assert_eq!(position(&[0u8; 2], s, true, false), -1);
        // Bit ranges.
        assert_eq!(
            position(&b, span(3, 7, 15, true).expect("range"), false, true),
            12
        );
        assert_eq!(
            position(&b, span(3, 1, 6, true).expect("range"), false, true),
            -1
        );
    }

    #[test]
    fn fields_read_write_and_overflow() {
        let mut bytes = [0u8; 3];
        set_bits(&mut bytes, 4, 8, 0xAB);
        assert_eq!(bytes, [0x0A, 0xB0, 0x00]);
        assert_eq!(get_unsigned(&bytes, 4, 8), 0xAB);
        assert_eq!(get_signed(&bytes, 4, 8), -85);
        assert_eq!(get_unsigned(&bytes, 20, 8), 0);
        assert_eq!(add_unsigned(250, 10, 8, Overflow::Wrap), Some(4));
        assert_eq!(add_unsigned(250, 10, 8, Overflow::Sat), Some(255));
        assert_eq!(add_unsigned(5, -10, 8, Overflow::Sat), Some(0));
        assert_eq!(add_unsigned(250, 10, 8, Overflow::Fail), None);
        assert_eq!(add_signed(120, 10, 8, Overflow::Wrap), Some(-126));
        assert_eq!(add_signed(120, 10, 8, Overflow::Sat), Some(127));
        assert_eq!(add_signed(-120, -10, 8, Overflow::Sat), Some(-128));
        assert_eq!(add_signed(i64::MAX, 1, 64, Overflow::Wrap), Some(i64::MIN));
        assert_eq!(add_signed(i64::MAX, 1, 64, Overflow::Fail), None);
    }
}
