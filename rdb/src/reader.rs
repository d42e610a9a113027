//! A cursor over the decoder's current segment. Reads never block: when the segment ends
//! before a read can complete, they return [`Halt::More`] with the segment length needed, and
//! the decoder rewinds to the start of the current unit and waits for that much input.

use bytes::Bytes;

use crate::DecodeError;
use crate::lzf;

/// Why a read did not produce a value.
#[derive(Debug)]
pub(crate) enum Halt {
    /// The segment must hold at least this many bytes (counted from its start) to go on.
    More(usize),
    Fail(DecodeError),
}

impl From<DecodeError> for Halt {
    fn from(e: DecodeError) -> Self {
        Halt::Fail(e)
    }
}

pub(crate) type R<T> = Result<T, Halt>;

/// A length field: a plain length, or the marker of a specially encoded string.
pub(crate) enum Len {
    Plain(u64),
    /// Low 6 bits of a `11xxxxxx` byte: 0/1/2 = int8/16/32 string, 3 = LZF string.
    Special(u8),
}

const ENC_INT8: u8 = 0;
const ENC_INT16: u8 = 1;
const ENC_INT32: u8 = 2;
const ENC_LZF: u8 = 3;

pub(crate) struct Cur<'a> {
    pub data: &'a Bytes,
    pub pos: usize,
    /// Absolute input offset of `data[0]`, for error reports.
    pub base: u64,
}

impl<'a> Cur<'a> {
    pub fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    pub fn offset_at(&self, pos: usize) -> u64 {
        self.base + pos as u64
    }

    #[inline]
    fn need(&self, n: usize) -> R<()> {
        if self.data.len() - self.pos < n {
            Err(Halt::More(self.pos.saturating_add(n)))
        } else {
            Ok(())
        }
    }

    #[inline]
    pub fn u8(&mut self) -> R<u8> {
        match self.data.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                Ok(b)
            }
            None => Err(Halt::More(self.pos + 1)),
        }
    }

    #[inline]
    pub fn array<const N: usize>(&mut self) -> R<[u8; N]> {
        self.need(N)?;
        let out: [u8; N] = self
            .data
            .get(self.pos..self.pos + N)
            .and_then(|s| s.try_into().ok())
            .ok_or(Halt::More(self.pos + N))?;
        self.pos += N;
        Ok(out)
    }

    /// Takes `n` bytes as a zero-copy slice of the segment.
    #[inline]
    pub fn bytes(&mut self, n: usize) -> R<Bytes> {
        self.need(n)?;
        let b = self.data.slice(self.pos..self.pos + n);
        self.pos += n;
        Ok(b)
    }

    #[inline]
    pub fn len_or_special(&mut self) -> R<Len> {
        let at = self.pos;
        let first = self.u8()?;
        match first >> 6 {
            0 => Ok(Len::Plain(u64::from(first & 0x3f))),
            1 => {
                let second = self.u8()?;
                Ok(Len::Plain(
                    (u64::from(first & 0x3f) << 8) | u64::from(second),
                ))
            }
            2 => match first {
                0x80 => Ok(Len::Plain(u64::from(u32::from_be_bytes(self.array()?)))),
                0x81 => Ok(Len::Plain(u64::from_be_bytes(self.array()?))),
                _ => Err(DecodeError::BadLength {
                    byte: first,
                    offset: self.offset_at(at),
                }
                .into()),
            },
            _ => Ok(Len::Special(first & 0x3f)),
        }
    }

    /// A plain length; a special string marker here is an error.
    #[inline]
    pub fn len(&mut self) -> R<u64> {
        let at = self.pos;
        match self.len_or_special()? {
            Len::Plain(n) => Ok(n),
            Len::Special(_) => Err(DecodeError::BadLength {
                byte: self.data.get(at).copied().unwrap_or(0),
                offset: self.offset_at(at),
            }
            .into()),
        }
    }

    /// A length that must fit the given cap; `what` names it in the error.
    pub fn len_capped(&mut self, what: &'static str, max: u64) -> R<u64> {
        let at = self.pos;
        let n = self.len()?;
        if n > max {
            return Err(DecodeError::LimitExceeded {
                what,
                len: n,
                max,
                offset: self.offset_at(at),
            }
            .into());
        }
        Ok(n)
    }

    /// Reads an RDB string: raw bytes (zero-copy), an integer encoding (returned as decimal
    /// text) or an LZF-compressed string (decompressed). `max` caps both the compressed and
    /// the declared uncompressed length before anything is allocated or awaited.
    pub fn string(&mut self, max: u64) -> R<Bytes> {
        let at = self.pos;
        match self.len_or_special()? {
            Len::Plain(n) => {
                let n = cap(n, max, "string length", self.offset_at(at))?;
                self.bytes(n)
            }
            Len::Special(ENC_INT8) => {
                let [b] = self.array()?;
                Ok(int_text(i64::from(b as i8)))
            }
            Len::Special(ENC_INT16) => Ok(int_text(i64::from(i16::from_le_bytes(self.array()?)))),
            Len::Special(ENC_INT32) => Ok(int_text(i64::from(i32::from_le_bytes(self.array()?)))),
            Len::Special(ENC_LZF) => {
                let clen_at = self.pos;
                let clen = self.len()?;
                let ulen = self.len()?;
                let clen = cap(
                    clen,
                    max,
                    "compressed string length",
                    self.offset_at(clen_at),
                )?;
                let ulen_u = cap(ulen, max, "string length", self.offset_at(clen_at))?;
                if ulen > (clen as u64).saturating_mul(lzf::EXPANSION_RATIO_MAX) {
                    return Err(DecodeError::Lzf {
                        offset: self.offset_at(clen_at),
                        reason: "declared length larger than the compressed data can produce",
                    }
                    .into());
                }
                self.need(clen)?;
                let data_at = self.pos;
                let input = self
                    .data
                    .get(self.pos..self.pos + clen)
                    .ok_or(Halt::More(self.pos + clen))?;
                let out = lzf::decompress(input, ulen_u).map_err(|e| DecodeError::Lzf {
                    offset: self.offset_at(data_at + e.pos),
                    reason: e.reason,
                })?;
                self.pos += clen;
                Ok(Bytes::from(out))
            }
            Len::Special(_) => Err(DecodeError::BadLength {
                byte: self.data.get(at).copied().unwrap_or(0),
                offset: self.offset_at(at),
            }
            .into()),
        }
    }
}

fn cap(n: u64, max: u64, what: &'static str, offset: u64) -> R<usize> {
    if n > max {
        return Err(DecodeError::LimitExceeded {
            what,
            len: n,
            max,
            offset,
        }
        .into());
    }
    usize::try_from(n).map_err(|_| {
        Halt::Fail(DecodeError::LimitExceeded {
            what,
            len: n,
            max: usize::MAX as u64,
            offset,
        })
    })
}

/// Decimal text of an integer, as Redis returns integer-encoded strings.
pub(crate) fn int_text(v: i64) -> Bytes {
    let mut buf = itoa::Buffer::new();
    Bytes::copy_from_slice(buf.format(v).as_bytes())
}
