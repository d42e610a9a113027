//! The two framings a master uses to send an RDB over a replication link:
//! - disk-backed: `$<len>\r\n` followed by exactly `len` RDB bytes (no trailing CRLF);
//! - diskless (replicas that announced `capa eof`): `$EOF:<40 random chars>\r\n`, the RDB, then
//!   the same 40 characters, since the length is not known when sending starts.
//!
//! Before the header a master may send bare `\n` keepalives; the parser skips them.

use bytes::{BufMut, Bytes, BytesMut};

use crate::FramingError;

/// Length of the `$EOF:` delimiter.
pub const EOF_MARK_BYTES: usize = 40;

/// The header line is short; anything longer is not a payload header.
const HEADER_LINE_BYTES_MAX: usize = 128;

/// The 40-character delimiter of the `$EOF:` framing. Redis uses random hex characters; any
/// value works as long as it does not occur at the end of the RDB by chance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EofMark([u8; EOF_MARK_BYTES]);

impl EofMark {
    /// A mark made of the hex digits of 20 random bytes supplied by the caller (the crate has
    /// no randomness of its own, so that it stays deterministic).
    pub fn from_random_bytes(random: [u8; EOF_MARK_BYTES / 2]) -> Self {
        fn hex_digit(nibble: u8) -> u8 {
            match nibble {
                0..=9 => b'0' + nibble,
                _ => b'a' + (nibble - 10),
            }
        }
        let mut mark = [0u8; EOF_MARK_BYTES];
        for (pair, b) in mark.chunks_exact_mut(2).zip(random) {
            pair.copy_from_slice(&[hex_digit(b >> 4), hex_digit(b & 15)]);
        }
        Self(mark)
    }

    /// A mark from a fill function (e.g. a random generator's `fill_bytes`).
    pub fn from_fill(fill: impl FnOnce(&mut [u8])) -> Self {
        let mut random = [0u8; EOF_MARK_BYTES / 2];
        fill(&mut random);
        Self::from_random_bytes(random)
    }

    /// A mark given as is (e.g. parsed from a header).
    pub fn from_bytes(mark: [u8; EOF_MARK_BYTES]) -> Self {
        Self(mark)
    }

    pub fn as_bytes(&self) -> &[u8; EOF_MARK_BYTES] {
        &self.0
    }

    /// The header line `$EOF:<mark>\r\n`.
    pub fn header(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(5 + EOF_MARK_BYTES + 2);
        b.put_slice(b"$EOF:");
        b.put_slice(&self.0);
        b.put_slice(b"\r\n");
        b.freeze()
    }

    /// The trailer sent after the RDB: the mark itself.
    pub fn trailer(&self) -> Bytes {
        Bytes::copy_from_slice(&self.0)
    }
}

/// The header line `$<len>\r\n` of the disk-backed framing.
pub fn length_header(rdb_len_bytes: u64) -> Bytes {
    let mut n = itoa::Buffer::new();
    let digits = n.format(rdb_len_bytes);
    let mut b = BytesMut::with_capacity(digits.len() + 3);
    b.put_u8(b'$');
    b.put_slice(digits.as_bytes());
    b.put_slice(b"\r\n");
    b.freeze()
}

/// A parsed payload header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadHeader {
    /// `$<len>`: exactly this many RDB bytes follow.
    Length(u64),
    /// `$EOF:<mark>`: the RDB is followed by the mark.
    Eof(EofMark),
    /// `$ZSTD:<mark>`: sluice's compressed framing (frames of raw or zstd-compressed RDB
    /// bytes, then an end frame carrying the mark), sent only to replicas that announced
    /// `capa zstd`.
    Zstd(EofMark),
}

/// Parses the payload header at the start of `buf`, skipping `\n` keepalives before it.
/// Returns the header and the bytes consumed (keepalives included), or `None` when the line
/// is not complete yet.
pub fn parse_payload_header(buf: &[u8]) -> Result<Option<(PayloadHeader, usize)>, FramingError> {
    let start = buf.iter().position(|&b| b != b'\n').unwrap_or(buf.len());
    let rest = buf.get(start..).unwrap_or_default();
    let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
        if rest.len() > HEADER_LINE_BYTES_MAX {
            return Err(FramingError::LineTooLong {
                max_bytes: HEADER_LINE_BYTES_MAX,
            });
        }
        return Ok(None);
    };
    let unexpected = || FramingError::Unexpected {
        line: String::from_utf8_lossy(
            rest.get(..nl.min(HEADER_LINE_BYTES_MAX))
                .unwrap_or_default(),
        )
        .into_owned(),
    };
    if nl > HEADER_LINE_BYTES_MAX {
        return Err(FramingError::LineTooLong {
            max_bytes: HEADER_LINE_BYTES_MAX,
        });
    }
    let line = rest
        .get(..nl)
        .unwrap_or_default()
        .strip_suffix(b"\r")
        .ok_or_else(unexpected)?;
    let consumed = start + nl + 1;
    if let Some(mark) = line.strip_prefix(b"$EOF:") {
        let mark: [u8; EOF_MARK_BYTES] = mark.try_into().map_err(|_| unexpected())?;
        return Ok(Some((PayloadHeader::Eof(EofMark(mark)), consumed)));
    }
    if let Some(mark) = line.strip_prefix(b"$ZSTD:") {
        let mark: [u8; EOF_MARK_BYTES] = mark.try_into().map_err(|_| unexpected())?;
        return Ok(Some((PayloadHeader::Zstd(EofMark(mark)), consumed)));
    }
    let digits = line.strip_prefix(b"$").ok_or_else(unexpected)?;
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(unexpected());
    }
    let len = digits
        .iter()
        .fold(0u64, |v, d| v * 10 + u64::from(d - b'0'));
    Ok(Some((PayloadHeader::Length(len), consumed)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_roundtrip() {
        let mark = EofMark::from_random_bytes([0xab; 20]);
        assert_eq!(&mark.as_bytes()[..4], b"abab");
        let h = mark.header();
        assert_eq!(h.len(), 47);
        let mut with_keepalives = b"\n\n".to_vec();
        with_keepalives.extend_from_slice(&h);
        with_keepalives.extend_from_slice(b"REDIS");
        assert_eq!(
            parse_payload_header(&with_keepalives).unwrap(),
            Some((PayloadHeader::Eof(mark), 49))
        );
        assert_eq!(
            parse_payload_header(&length_header(12345)).unwrap(),
            Some((PayloadHeader::Length(12345), 8))
        );
        assert_eq!(parse_payload_header(b"$12").unwrap(), None);
        assert!(parse_payload_header(b"-ERR no\r\n").is_err());
        assert!(parse_payload_header(b"$EOF:short\r\n").is_err());
        assert!(parse_payload_header(b"$12\n").is_err());
        let filled = EofMark::from_fill(|b| b.fill(1));
        assert_eq!(&filled.as_bytes()[..4], b"0101");
    }
}
