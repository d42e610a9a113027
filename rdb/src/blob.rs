//! Parsers for the packed encodings stored as one RDB string: ziplist, listpack, intset and
//! zipmap. Each walks the blob once, validating every header and entry against the blob's
//! bounds, and hands elements to a callback as positions in the blob (so strings can become
//! zero-copy slices of it) or as integers.

/// One element of a packed encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Elem {
    /// A string at `start..start + len` of the blob.
    Str {
        start: usize,
        len: usize,
    },
    Int(i64),
}

/// Why a walk stopped: the blob is corrupt at `pos`, or the callback refused an element.
#[derive(Debug)]
pub(crate) enum BlobErr<E> {
    Corrupt { pos: usize, reason: &'static str },
    Callback(E),
}

fn corrupt<E>(pos: usize, reason: &'static str) -> BlobErr<E> {
    BlobErr::Corrupt { pos, reason }
}

fn le_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn le_u16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

/// Sign-extends the low `bytes` little-endian bytes at `at`.
fn le_int(b: &[u8], at: usize, bytes: usize) -> Option<i64> {
    if !(1..=8).contains(&bytes) {
        return None;
    }
    let s = b.get(at..at + bytes)?;
    let mut v: u64 = 0;
    for (i, &x) in s.iter().enumerate() {
        v |= u64::from(x) << (8 * i);
    }
    let shift = 64 - 8 * u32::try_from(bytes).ok()?;
    Some(((v << shift) as i64) >> shift)
}

const ZIPLIST_HEADER_BYTES: usize = 10;
const ZIP_END: u8 = 0xFF;
const ZIP_BIG_PREVLEN: u8 = 0xFE;

/// Walks a ziplist: `zlbytes u32 | zltail u32 | zllen u16 | entries | 0xFF`, each entry being
/// `prevlen (1 or 5 bytes) | encoding | data`.
pub(crate) fn ziplist<E>(
    b: &[u8],
    mut f: impl FnMut(Elem) -> Result<(), E>,
) -> Result<usize, BlobErr<E>> {
    if b.len() < ZIPLIST_HEADER_BYTES + 1 {
        return Err(corrupt(0, "shorter than its header"));
    }
    let zlbytes = le_u32(b, 0).unwrap_or(0) as usize;
    if zlbytes != b.len() {
        return Err(corrupt(0, "declared size differs from the string length"));
    }
    let zltail = le_u32(b, 4).unwrap_or(0) as usize;
    let zllen = le_u16(b, 8).unwrap_or(0);
    let mut p = ZIPLIST_HEADER_BYTES;
    let mut count = 0usize;
    let mut prev_entry_bytes = 0usize;
    let mut last_entry_at = ZIPLIST_HEADER_BYTES;
    loop {
        let Some(&first) = b.get(p) else {
            return Err(corrupt(p, "missing end marker"));
        };
        if first == ZIP_END {
            break;
        }
        let entry_at = p;
        let prevlen = if first == ZIP_BIG_PREVLEN {
            let Some(v) = le_u32(b, p + 1) else {
                return Err(corrupt(p, "prevlen past the end"));
            };
            p += 5;
            v as usize
        } else {
            p += 1;
            first as usize
        };
        if prevlen != prev_entry_bytes {
            return Err(corrupt(
                entry_at,
                "prevlen does not match the previous entry",
            ));
        }
        let Some(&enc) = b.get(p) else {
            return Err(corrupt(p, "entry header past the end"));
        };
        let elem = match enc >> 6 {
            0 => {
                let len = usize::from(enc & 0x3f);
                p += 1;
                Elem::Str { start: p, len }
            }
            1 => {
                let Some(&lo) = b.get(p + 1) else {
                    return Err(corrupt(p, "entry header past the end"));
                };
                let len = (usize::from(enc & 0x3f) << 8) | usize::from(lo);
                p += 2;
                Elem::Str { start: p, len }
            }
            2 => {
                if enc != 0x80 {
                    return Err(corrupt(p, "invalid string encoding"));
                }
                let Some(s) = b
                    .get(p + 1..p + 5)
                    .and_then(|s| <[u8; 4]>::try_from(s).ok())
                else {
                    return Err(corrupt(p, "entry header past the end"));
                };
                let len = u32::from_be_bytes(s) as usize;
                p += 5;
                Elem::Str { start: p, len }
            }
            _ => {
                let width = match enc {
                    0xC0 => 2,
                    0xD0 => 4,
                    0xE0 => 8,
                    0xF0 => 3,
                    0xFE => 1,
                    0xF1..=0xFD => 0,
                    _ => return Err(corrupt(p, "invalid integer encoding")),
                };
                p += 1;
                let v = if width == 0 {
                    i64::from(enc & 0x0f) - 1
                } else {
                    match le_int(b, p, width) {
                        Some(v) => v,
                        None => return Err(corrupt(p, "integer past the end")),
                    }
                };
                p += width;
                Elem::Int(v)
            }
        };
        if let Elem::Str { start, len } = elem {
            // The end marker must still follow the data, hence `>=`.
            if start.checked_add(len).is_none_or(|end| end >= b.len()) {
                return Err(corrupt(entry_at, "string past the end"));
            }
            p = start + len;
        }
        f(elem).map_err(BlobErr::Callback)?;
        count += 1;
        prev_entry_bytes = p - entry_at;
        last_entry_at = entry_at;
    }
    if p != b.len() - 1 {
        return Err(corrupt(p, "data after the end marker"));
    }
    if count > 0 && zltail != last_entry_at || count == 0 && zltail != ZIPLIST_HEADER_BYTES {
        return Err(corrupt(4, "tail offset does not point at the last entry"));
    }
    if zllen != u16::MAX && usize::from(zllen) != count {
        return Err(corrupt(8, "entry count differs from the header"));
    }
    Ok(count)
}

const LP_HEADER_BYTES: usize = 6;
const LP_EOF: u8 = 0xFF;

/// Number of bytes the backlen of an entry of `entry_bytes` takes.
pub(crate) fn lp_backlen_bytes(entry_bytes: usize) -> usize {
    match entry_bytes {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    }
}

/// Walks a listpack: `total u32 | count u16 | entries | 0xFF`, each entry being
/// `encoding | data | backlen`.
pub(crate) fn listpack<E>(
    b: &[u8],
    mut f: impl FnMut(Elem) -> Result<(), E>,
) -> Result<usize, BlobErr<E>> {
    if b.len() < LP_HEADER_BYTES + 1 {
        return Err(corrupt(0, "shorter than its header"));
    }
    if le_u32(b, 0).unwrap_or(0) as usize != b.len() {
        return Err(corrupt(0, "declared size differs from the string length"));
    }
    let declared = le_u16(b, 4).unwrap_or(0);
    let mut p = LP_HEADER_BYTES;
    let mut count = 0usize;
    loop {
        let Some(&enc) = b.get(p) else {
            return Err(corrupt(p, "missing end marker"));
        };
        if enc == LP_EOF {
            break;
        }
        let entry_at = p;
        let (elem, entry_bytes) = if enc & 0x80 == 0 {
            (Elem::Int(i64::from(enc)), 1)
        } else if enc & 0xC0 == 0x80 {
            let len = usize::from(enc & 0x3f);
            (Elem::Str { start: p + 1, len }, 1 + len)
        } else if enc & 0xE0 == 0xC0 {
            let Some(&lo) = b.get(p + 1) else {
                return Err(corrupt(p, "integer past the end"));
            };
            let raw = (u16::from(enc & 0x1f) << 8) | u16::from(lo);
            // 13-bit two's complement.
            let v = i64::from(((raw << 3) as i16) >> 3);
            (Elem::Int(v), 2)
        } else if enc & 0xF0 == 0xE0 {
            let Some(&lo) = b.get(p + 1) else {
                return Err(corrupt(p, "string header past the end"));
            };
            let len = (usize::from(enc & 0x0f) << 8) | usize::from(lo);
            (Elem::Str { start: p + 2, len }, 2 + len)
        } else {
            match enc {
                0xF0 => {
                    let Some(len) = le_u32(b, p + 1) else {
                        return Err(corrupt(p, "string header past the end"));
                    };
                    let len = len as usize;
                    (Elem::Str { start: p + 5, len }, 5usize.saturating_add(len))
                }
                0xF1..=0xF4 => {
                    let width = match enc {
                        0xF1 => 2,
                        0xF2 => 3,
                        0xF3 => 4,
                        _ => 8,
                    };
                    let Some(v) = le_int(b, p + 1, width) else {
                        return Err(corrupt(p, "integer past the end"));
                    };
                    (Elem::Int(v), 1 + width)
                }
                _ => return Err(corrupt(p, "invalid entry encoding")),
            }
        };
        let backlen = lp_backlen_bytes(entry_bytes);
        // The end marker must still follow the entry, hence `>=`.
        let Some(next) = entry_at
            .checked_add(entry_bytes)
            .and_then(|x| x.checked_add(backlen))
            .filter(|&next| next < b.len())
        else {
            return Err(corrupt(entry_at, "entry past the end"));
        };
        if b.get(next - backlen..next).and_then(lp_decode_backlen) != Some(entry_bytes as u64) {
            return Err(corrupt(next - backlen, "backlen does not match the entry"));
        }
        f(elem).map_err(BlobErr::Callback)?;
        count += 1;
        p = next;
    }
    if p != b.len() - 1 {
        return Err(corrupt(p, "data after the end marker"));
    }
    if declared != u16::MAX && usize::from(declared) != count {
        return Err(corrupt(4, "entry count differs from the header"));
    }
    Ok(count)
}

/// Decodes a backlen field (read right to left, 7 bits per byte, the high bit marking that
/// another byte follows to the left).
fn lp_decode_backlen(s: &[u8]) -> Option<u64> {
    let mut v: u64 = 0;
    let mut shift = 0;
    for (i, &byte) in s.iter().rev().enumerate() {
        v |= u64::from(byte & 127) << shift;
        shift += 7;
        let more = byte & 128 != 0;
        if more != (i + 1 < s.len()) {
            return None;
        }
    }
    Some(v)
}

/// Walks an intset: `encoding u32 (2, 4 or 8) | length u32 | sorted little-endian integers`.
pub(crate) fn intset<E>(
    b: &[u8],
    mut f: impl FnMut(i64) -> Result<(), E>,
) -> Result<usize, BlobErr<E>> {
    let (Some(width), Some(len)) = (le_u32(b, 0), le_u32(b, 4)) else {
        return Err(corrupt(0, "shorter than its header"));
    };
    let width = width as usize;
    if !matches!(width, 2 | 4 | 8) {
        return Err(corrupt(0, "invalid encoding width"));
    }
    let len = len as usize;
    if len.checked_mul(width).and_then(|x| x.checked_add(8)) != Some(b.len()) {
        return Err(corrupt(4, "length does not match the string length"));
    }
    let mut prev: Option<i64> = None;
    for i in 0..len {
        let at = 8 + i * width;
        let Some(v) = le_int(b, at, width) else {
            return Err(corrupt(at, "integer past the end"));
        };
        if prev.is_some_and(|p| p >= v) {
            return Err(corrupt(at, "integers not strictly ascending"));
        }
        prev = Some(v);
        f(v).map_err(BlobErr::Callback)?;
    }
    Ok(len)
}

/// Walks a zipmap: `count u8 | (len key len free value free-bytes)* | 0xFF`, lengths being one
/// byte below 254 or 254 followed by a little-endian u32. Yields keys and values alternately.
pub(crate) fn zipmap<E>(
    b: &[u8],
    mut f: impl FnMut(Elem) -> Result<(), E>,
) -> Result<usize, BlobErr<E>> {
    let Some(&declared) = b.first() else {
        return Err(corrupt(0, "empty"));
    };
    let mut p = 1usize;
    let mut pairs = 0usize;
    let read_len = |p: &mut usize| -> Result<Option<usize>, BlobErr<E>> {
        match b.get(*p) {
            None => Err(corrupt(*p, "missing end marker")),
            Some(&255) => Ok(None),
            Some(&254) => {
                let Some(v) = le_u32(b, *p + 1) else {
                    return Err(corrupt(*p, "length past the end"));
                };
                *p += 5;
                Ok(Some(v as usize))
            }
            Some(&l) => {
                *p += 1;
                Ok(Some(usize::from(l)))
            }
        }
    };
    loop {
        let Some(klen) = read_len(&mut p)? else {
            break;
        };
        let kstart = p;
        if kstart.checked_add(klen).is_none_or(|e| e >= b.len()) {
            return Err(corrupt(kstart, "key past the end"));
        }
        p = kstart + klen;
        let vlen_at = p;
        let Some(vlen) = read_len(&mut p)? else {
            return Err(corrupt(vlen_at, "key without a value"));
        };
        let Some(&free) = b.get(p) else {
            return Err(corrupt(p, "free byte past the end"));
        };
        p += 1;
        let vstart = p;
        if vstart
            .checked_add(vlen)
            .and_then(|e| e.checked_add(usize::from(free)))
            .is_none_or(|e| e >= b.len())
        {
            return Err(corrupt(vstart, "value past the end"));
        }
        p = vstart + vlen + usize::from(free);
        f(Elem::Str {
            start: kstart,
            len: klen,
        })
        .map_err(BlobErr::Callback)?;
        f(Elem::Str {
            start: vstart,
            len: vlen,
        })
        .map_err(BlobErr::Callback)?;
        pairs += 1;
    }
    if p != b.len() - 1 {
        return Err(corrupt(p, "data after the end marker"));
    }
    if declared < 254 && usize::from(declared) != pairs {
        return Err(corrupt(0, "pair count differs from the header"));
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backlen_roundtrip() {
        for (len, bytes) in [(1usize, 1usize), (127, 1), (128, 2), (16382, 2), (16383, 3)] {
            assert_eq!(lp_backlen_bytes(len), bytes);
        }
        // 200 -> [200 >> 7, (200 & 127) | 128]
        assert_eq!(lp_decode_backlen(&[1, 200 & 127 | 128]), Some(200));
        assert_eq!(lp_decode_backlen(&[5]), Some(5));
        assert_eq!(lp_decode_backlen(&[129]), None);
    }

    #[test]
    fn le_int_sign_extends() {
        assert_eq!(le_int(&[0xff, 0xff, 0xff], 0, 3), Some(-1));
        assert_eq!(le_int(&[0xff, 0xff, 0x7f], 0, 3), Some(0x7fffff));
        assert_eq!(le_int(&[0x00, 0x80], 0, 2), Some(-32768));
    }
}
