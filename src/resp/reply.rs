//! Replies and their encoding for RESP2 and RESP3.
//!
//! Commands build a [`Reply`] without knowing the client's protocol; the connection encodes it
//! for the protocol negotiated by HELLO, mapping RESP3-only types onto RESP2 the way Redis does.

use std::borrow::Cow;

use bytes::{BufMut, Bytes, BytesMut};

use super::float::format_g17;
use crate::util::inline_bytes::InlineBytes;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    #[default]
    Resp2,
    Resp3,
}

#[derive(Debug, Clone)]
pub enum Reply {
    /// `+<text>`
    Simple(Cow<'static, str>),
    /// `-<text>`; the text starts with the error code (`ERR`, `WRONGTYPE`, ...).
    Error(Cow<'static, str>),
    Integer(i64),
    Bulk(Bytes),
    /// A bulk string copied inline: a read of a small stored value (GET of a counter) costs
    /// a copy instead of a reference count taken and dropped on the stored value.
    SmallBulk(InlineBytes),
    /// Null bulk string: `$-1` in RESP2, `_` in RESP3.
    Nil,
    /// Null array: `*-1` in RESP2, `_` in RESP3.
    NilArray,
    Array(Vec<Reply>),
    /// A map in RESP3, a flat array of key, value, ... in RESP2.
    Map(Vec<(Reply, Reply)>),
    /// A set in RESP3, an array in RESP2.
    Set(Vec<Reply>),
    /// `,<%.17g>` in RESP3, a bulk string in RESP2.
    Double(f64),
    /// A double already formatted (GEOPOS prints `%.17Lf` trimmed): `,<text>` in RESP3, a
    /// bulk string in RESP2.
    DoubleText(Bytes),
    /// `#t`/`#f` in RESP3, `:1`/`:0` in RESP2.
    Bool(bool),
    /// Out-of-band data (pub/sub messages): `>` in RESP3, an array in RESP2.
    Push(Vec<Reply>),
    /// `=<len>\r\ntxt:<text>` in RESP3, a bulk string in RESP2.
    Verbatim(Bytes),
    /// Several top-level replies in a row (SUBSCRIBE to several channels answers once per
    /// channel).
    Sequence(Vec<Reply>),
    /// Already encoded bytes, written as they are (used for replies identical in both
    /// protocols that are hot enough to pre-encode).
    Raw(&'static [u8]),
}

pub const OK: Reply = Reply::Raw(b"+OK\r\n");
pub const QUEUED: Reply = Reply::Raw(b"+QUEUED\r\n");
pub const PONG: Reply = Reply::Raw(b"+PONG\r\n");

impl Reply {
    pub fn ok() -> Reply {
        OK
    }

    pub fn error(text: impl Into<Cow<'static, str>>) -> Reply {
        Reply::Error(text.into())
    }

    pub fn simple(text: impl Into<Cow<'static, str>>) -> Reply {
        Reply::Simple(text.into())
    }

    pub fn bulk(data: impl Into<Bytes>) -> Reply {
        Reply::Bulk(data.into())
    }

    /// A bulk reply for a stored value: inline when small, a shared reference otherwise.
    pub fn bulk_of(data: &Bytes) -> Reply {
        match InlineBytes::new(data) {
            Some(small) => Reply::SmallBulk(small),
            None => Reply::Bulk(data.clone()),
        }
    }

    /// The bytes of a bulk string reply, whichever way it is held.
    pub fn bulk_bytes(&self) -> Option<&[u8]> {
        match self {
            Reply::Bulk(b) => Some(b),
            Reply::SmallBulk(s) => Some(s.as_bytes()),
            _ => None,
        }
    }

    pub fn bulk_copy(data: &[u8]) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(data))
    }

    pub fn bulk_str(text: &str) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(text.as_bytes()))
    }

    pub fn integer(v: impl TryInto<i64>) -> Reply {
        Reply::Integer(v.try_into().unwrap_or(i64::MAX))
    }

    pub fn bulk_array<I, B>(items: I) -> Reply
    where
        I: IntoIterator<Item = B>,
        B: Into<Bytes>,
    {
        Reply::Array(items.into_iter().map(|b| Reply::Bulk(b.into())).collect())
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// Encodes the reply for `protocol`, appending to `out`.
    pub fn encode(&self, protocol: Protocol, out: &mut BytesMut) {
        let resp3 = protocol == Protocol::Resp3;
        match self {
            Reply::Simple(s) => line(out, b'+', s.as_bytes()),
            Reply::Error(s) => {
                // A newline in an error would break framing; Redis replaces them with spaces.
                out.put_u8(b'-');
                out.extend(
                    s.bytes()
                        .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
                );
                out.put_slice(b"\r\n");
            }
            Reply::Integer(v) => integer_line(out, b':', *v),
            Reply::Bulk(b) => bulk(out, b),
            Reply::SmallBulk(s) => bulk(out, s.as_bytes()),
            Reply::Nil => out.put_slice(if resp3 { b"_\r\n" } else { b"$-1\r\n" }),
            Reply::NilArray => out.put_slice(if resp3 { b"_\r\n" } else { b"*-1\r\n" }),
            Reply::Array(items) => {
                integer_line(out, b'*', items.len() as i64);
                for item in items {
                    item.encode(protocol, out);
                }
            }
            Reply::Map(pairs) => {
                if resp3 {
                    integer_line(out, b'%', pairs.len() as i64);
                } else {
                    integer_line(out, b'*', 2 * pairs.len() as i64);
                }
                for (k, v) in pairs {
                    k.encode(protocol, out);
                    v.encode(protocol, out);
                }
            }
            Reply::Set(items) => {
                integer_line(out, if resp3 { b'~' } else { b'*' }, items.len() as i64);
                for item in items {
                    item.encode(protocol, out);
                }
            }
            Reply::Push(items) => {
                integer_line(out, if resp3 { b'>' } else { b'*' }, items.len() as i64);
                for item in items {
                    item.encode(protocol, out);
                }
            }
            Reply::Double(v) => {
                let text = format_g17(*v);
                if resp3 {
                    line(out, b',', text.as_bytes());
                } else {
                    bulk(out, text.as_bytes());
                }
            }
            Reply::DoubleText(text) => {
                if resp3 {
                    line(out, b',', text);
                } else {
                    bulk(out, text);
                }
            }
            Reply::Bool(v) => {
                if resp3 {
                    out.put_slice(if *v { b"#t\r\n" } else { b"#f\r\n" });
                } else {
                    out.put_slice(if *v { b":1\r\n" } else { b":0\r\n" });
                }
            }
            Reply::Verbatim(text) => {
                if resp3 {
                    integer_line(out, b'=', text.len() as i64 + 4);
                    out.put_slice(b"txt:");
                    out.put_slice(text);
                    out.put_slice(b"\r\n");
                } else {
                    bulk(out, text);
                }
            }
            Reply::Sequence(items) => {
                for item in items {
                    item.encode(protocol, out);
                }
            }
            Reply::Raw(bytes) => out.put_slice(bytes),
        }
    }

    /// Encoded size estimate used for output-buffer accounting.
    pub fn encoded_len_hint(&self) -> usize {
        match self {
            Reply::Bulk(b) | Reply::Verbatim(b) => b.len() + 16,
            Reply::SmallBulk(s) => s.as_bytes().len() + 16,
            Reply::Array(items)
            | Reply::Set(items)
            | Reply::Push(items)
            | Reply::Sequence(items) => {
                16 + items.iter().map(Reply::encoded_len_hint).sum::<usize>()
            }
            Reply::Map(pairs) => {
                16 + pairs
                    .iter()
                    .map(|(k, v)| k.encoded_len_hint() + v.encoded_len_hint())
                    .sum::<usize>()
            }
            Reply::Simple(s) | Reply::Error(s) => s.len() + 3,
            Reply::Raw(b) => b.len(),
            _ => 24,
        }
    }
}

fn line(out: &mut BytesMut, prefix: u8, body: &[u8]) {
    out.reserve(body.len() + 3);
    out.put_u8(prefix);
    out.put_slice(body);
    out.put_slice(b"\r\n");
}

fn integer_line(out: &mut BytesMut, prefix: u8, v: i64) {
    let mut digits = itoa::Buffer::new();
    line(out, prefix, digits.format(v).as_bytes());
}

fn bulk(out: &mut BytesMut, data: &[u8]) {
    integer_line(out, b'$', data.len() as i64);
    out.reserve(data.len() + 2);
    out.put_slice(data);
    out.put_slice(b"\r\n");
}

/// Bulk strings are equal by their bytes, however each is held.
impl PartialEq for Reply {
    fn eq(&self, other: &Reply) -> bool {
        use Reply::*;
        match (self, other) {
            (Bulk(_) | SmallBulk(_), Bulk(_) | SmallBulk(_)) => {
                self.bulk_bytes() == other.bulk_bytes()
            }
            (Simple(a), Simple(b)) | (Error(a), Error(b)) => a == b,
            (Integer(a), Integer(b)) => a == b,
            (Nil, Nil) | (NilArray, NilArray) => true,
            (Array(a), Array(b))
            | (Set(a), Set(b))
            | (Push(a), Push(b))
            | (Sequence(a), Sequence(b)) => a == b,
            (Map(a), Map(b)) => a == b,
            (Double(a), Double(b)) => a == b,
            (DoubleText(a), DoubleText(b)) => a == b,
            (Bool(a), Bool(b)) => a == b,
            (Verbatim(a), Verbatim(b)) => a == b,
            (Raw(a), Raw(b)) => a == b,
            _ => false,
        }
    }
}

impl From<i64> for Reply {
    fn from(v: i64) -> Reply {
        Reply::Integer(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::inline_bytes::INLINE_BYTES_MAX;

    fn enc(r: &Reply, p: Protocol) -> Vec<u8> {
        let mut out = BytesMut::new();
        r.encode(p, &mut out);
        out.to_vec()
    }

    #[test]
    fn resp2_and_resp3_shapes() {
        let map = Reply::Map(vec![(Reply::bulk_str("a"), Reply::Integer(1))]);
        assert_eq!(enc(&map, Protocol::Resp2), b"*2\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(enc(&map, Protocol::Resp3), b"%1\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(enc(&Reply::Nil, Protocol::Resp2), b"$-1\r\n");
        assert_eq!(enc(&Reply::NilArray, Protocol::Resp2), b"*-1\r\n");
        assert_eq!(enc(&Reply::Nil, Protocol::Resp3), b"_\r\n");
        assert_eq!(enc(&Reply::Double(1.5), Protocol::Resp2), b"$3\r\n1.5\r\n");
        assert_eq!(enc(&Reply::Double(1.5), Protocol::Resp3), b",1.5\r\n");
        assert_eq!(enc(&Reply::Bool(true), Protocol::Resp2), b":1\r\n");
        let small = Reply::bulk_of(&Bytes::from_static(b"abc"));
        assert!(matches!(small, Reply::SmallBulk(_)));
        assert_eq!(enc(&small, Protocol::Resp2), b"$3\r\nabc\r\n");
        assert_eq!(small, Reply::bulk_str("abc"));
        let long = [b'x'; INLINE_BYTES_MAX + 1];
        assert!(matches!(
            Reply::bulk_of(&Bytes::copy_from_slice(&long)),
            Reply::Bulk(_)
        ));
        assert_eq!(
            std::mem::size_of::<Reply>(),
            std::mem::size_of::<Bytes>() + 8
        );
        assert_eq!(
            enc(&Reply::error("ERR a\r\nb"), Protocol::Resp2),
            b"-ERR a  b\r\n"
        );
    }
}
