//! Request parser for multibulk (`*N\r\n$len\r\n...`) and inline commands.
//!
//! Every length read from the wire is checked against [`ParseLimits`] before anything is
//! allocated for it, so a hostile peer cannot make the server reserve memory it never sends.

use bytes::{Bytes, BytesMut};
use thiserror::Error;

/// Caps applied while parsing. Defaults follow Redis 7.0.
#[derive(Debug, Clone, Copy)]
pub struct ParseLimits {
    /// `proto-max-bulk-len`.
    pub bulk_len_max: usize,
    /// Longest inline line and longest `*`/`$` header line accepted (Redis: 64 KiB).
    pub inline_len_max: usize,
    /// Unauthenticated clients get much smaller caps, as in Redis.
    pub authenticated: bool,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits {
            bulk_len_max: 512 * 1024 * 1024,
            inline_len_max: 64 * 1024,
            authenticated: true,
        }
    }
}

const UNAUTH_MULTIBULK_MAX: usize = 10;
const UNAUTH_BULK_MAX: usize = 16384;

/// A request that can never become valid: the connection is answered with
/// `-ERR Protocol error: <message>` and closed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProtocolError {
    #[error("invalid multibulk length")]
    InvalidMultibulkLength,
    #[error("invalid bulk length")]
    InvalidBulkLength,
    #[error("unauthenticated multibulk length")]
    UnauthenticatedMultibulkLength,
    #[error("unauthenticated bulk length")]
    UnauthenticatedBulkLength,
    #[error("expected '$', got '{0}'")]
    ExpectedDollar(char),
    #[error("too big mbulk count string")]
    TooBigMultibulkHeader,
    #[error("too big bulk count string")]
    TooBigBulkHeader,
    #[error("too big inline request")]
    TooBigInline,
    #[error("unbalanced quotes in request")]
    UnbalancedQuotes,
}

/// Parses requests off the front of a connection's input buffer.
///
/// A multibulk request is only split off the buffer once complete; the parser remembers how
/// far it got so that a request with many arguments arriving in small reads is scanned once,
/// not once per read.
#[derive(Debug, Default)]
pub struct RequestParser {
    pending: Option<PendingMultibulk>,
    /// The spans vector of the last request, reused so a request costs no allocation for it.
    spare_spans: Vec<(usize, usize)>,
    /// The bytes of the last multibulk request parsed, as received.
    last_frame: Option<Bytes>,
}

#[derive(Debug)]
struct PendingMultibulk {
    remaining: usize,
    spans: Vec<(usize, usize)>,
    pos: usize,
}

impl RequestParser {
    /// Parses one request from the front of `buf`.
    ///
    /// Returns `Ok(None)` when more bytes are needed (nothing is consumed), `Ok(Some(args))`
    /// when a request was taken off the buffer (`args` may be empty for a blank inline line,
    /// which the caller skips), or an error for input that can never be valid.
    pub fn parse(
        &mut self,
        buf: &mut BytesMut,
        limits: &ParseLimits,
    ) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        let mut args = Vec::new();
        Ok(self.parse_into(buf, limits, &mut args)?.map(|_| args))
    }

    /// [`RequestParser::parse`] appending the arguments to `args` (which a caller reuses
    /// across requests, so a request costs no vector of its own); returns how many.
    pub fn parse_into(
        &mut self,
        buf: &mut BytesMut,
        limits: &ParseLimits,
        args: &mut Vec<Bytes>,
    ) -> Result<Option<usize>, ProtocolError> {
        if self.pending.is_none() {
            if buf.is_empty() {
                return Ok(None);
            }
            self.last_frame = None;
            if buf[0] != b'*' {
                return Ok(parse_inline(buf, limits)?.map(|inline| {
                    let count = inline.len();
                    args.extend(inline);
                    count
                }));
            }
            match parse_multibulk_header(buf, limits)? {
                None => return Ok(None),
                Some((0, pos)) => {
                    let _ = buf.split_to(pos);
                    return Ok(Some(0));
                }
                Some((count, pos)) => {
                    let mut spans = std::mem::take(&mut self.spare_spans);
                    spans.clear();
                    spans.reserve(count.min(1024));
                    self.pending = Some(PendingMultibulk {
                        remaining: count,
                        spans,
                        pos,
                    });
                }
            }
        }
        let Some(pending) = self.pending.as_mut() else {
            return Ok(None);
        };
        let complete = match parse_bulks(buf, limits, pending) {
            Ok(complete) => complete,
            Err(e) => {
                self.pending = None;
                return Err(e);
            }
        };
        if !complete {
            return Ok(None);
        }
        let Some(pending) = self.pending.take() else {
            return Ok(None);
        };
        self.last_frame = Some(take_args(buf, pending.pos, &pending.spans, args));
        let count = pending.spans.len();
        self.spare_spans = pending.spans;
        Ok(Some(count))
    }
}

/// Takes a complete request of `frame_len` bytes off the front of `buf`. The arguments
/// are slices of it, not copies: commands copy what they keep, so the read buffer is free
/// again once the batch has run.
fn take_args(
    buf: &mut BytesMut,
    frame_len: usize,
    spans: &[(usize, usize)],
    args: &mut Vec<Bytes>,
) -> Bytes {
    let frame = buf.split_to(frame_len).freeze();
    args.extend(spans.iter().map(|&(s, e)| frame.slice(s..e)));
    frame
}

impl RequestParser {
    /// The last request's bytes as received, if it was a multibulk (an inline request has
    /// none). A write propagated unchanged can be logged by copying them.
    pub fn take_frame(&mut self) -> Option<Bytes> {
        self.last_frame.take()
    }
}

/// Bytes of `argv` encoded as a RESP multibulk with minimal length headers; a received
/// frame of this length is exactly that encoding (leading zeros would lengthen it).
pub fn canonical_len(argv: &[Bytes]) -> usize {
    fn digits(mut n: usize) -> usize {
        let mut count = 1;
        while n >= 10 {
            n /= 10;
            count += 1;
        }
        count
    }
    let args: usize = argv
        .iter()
        .map(|a| 1 + digits(a.len()) + 2 + a.len() + 2)
        .sum();
    1 + digits(argv.len()) + 2 + args
}

/// One-shot form of [`RequestParser::parse`] for callers holding a whole buffer.
pub fn parse_request(
    buf: &mut BytesMut,
    limits: &ParseLimits,
) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    RequestParser::default().parse(buf, limits)
}

fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    buf[from..]
        .iter()
        .position(|&b| b == b'\r')
        .map(|i| from + i)
}

/// Parses a decimal integer the way Redis's `string2ll` does for protocol headers.
fn parse_header_int(digits: &[u8]) -> Option<i64> {
    if digits.is_empty() || digits.len() > 20 {
        return None;
    }
    let (negative, body) = match digits[0] {
        b'-' => (true, &digits[1..]),
        _ => (false, digits),
    };
    if body.is_empty() {
        return None;
    }
    let mut value: i64 = 0;
    for &d in body {
        if !d.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(i64::from(d - b'0'))?;
    }
    Some(if negative { -value } else { value })
}

/// Returns the element count (0 for a non-positive count) and where the first bulk starts.
fn parse_multibulk_header(
    buf: &[u8],
    limits: &ParseLimits,
) -> Result<Option<(usize, usize)>, ProtocolError> {
    let Some(header_end) = find_crlf(buf, 1) else {
        if buf.len() > limits.inline_len_max {
            return Err(ProtocolError::TooBigMultibulkHeader);
        }
        return Ok(None);
    };
    if header_end + 1 >= buf.len() {
        return Ok(None);
    }
    let count =
        parse_header_int(&buf[1..header_end]).ok_or(ProtocolError::InvalidMultibulkLength)?;
    if count > i64::from(i32::MAX) {
        return Err(ProtocolError::InvalidMultibulkLength);
    }
    if count > UNAUTH_MULTIBULK_MAX as i64 && !limits.authenticated {
        return Err(ProtocolError::UnauthenticatedMultibulkLength);
    }
    // Negative counts are null arrays: no elements.
    Ok(Some((usize::try_from(count).unwrap_or(0), header_end + 2)))
}

/// Advances `pending` over every complete bulk in `buf`; true once all are present.
fn parse_bulks(
    buf: &[u8],
    limits: &ParseLimits,
    pending: &mut PendingMultibulk,
) -> Result<bool, ProtocolError> {
    while pending.remaining > 0 {
        let pos = pending.pos;
        if pos >= buf.len() {
            return Ok(false);
        }
        if buf[pos] != b'$' {
            return Err(ProtocolError::ExpectedDollar(buf[pos] as char));
        }
        let Some(len_end) = find_crlf(buf, pos + 1) else {
            if buf.len() - pos > limits.inline_len_max {
                return Err(ProtocolError::TooBigBulkHeader);
            }
            return Ok(false);
        };
        if len_end + 1 >= buf.len() {
            return Ok(false);
        }
        let len =
            parse_header_int(&buf[pos + 1..len_end]).ok_or(ProtocolError::InvalidBulkLength)?;
        if len < 0 || len as u64 > limits.bulk_len_max as u64 {
            return Err(ProtocolError::InvalidBulkLength);
        }
        if len > UNAUTH_BULK_MAX as i64 && !limits.authenticated {
            return Err(ProtocolError::UnauthenticatedBulkLength);
        }
        let start = len_end + 2;
        // 0..=bulk_len_max, checked above.
        let end = start + usize::try_from(len).map_err(|_| ProtocolError::InvalidBulkLength)?;
        if end + 2 > buf.len() {
            return Ok(false);
        }
        pending.spans.push((start, end));
        pending.pos = end + 2;
        pending.remaining -= 1;
    }
    Ok(true)
}

fn parse_inline(
    buf: &mut BytesMut,
    limits: &ParseLimits,
) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    let Some(newline) = buf.iter().position(|&b| b == b'\n') else {
        if buf.len() > limits.inline_len_max {
            return Err(ProtocolError::TooBigInline);
        }
        return Ok(None);
    };
    let line_end = if newline > 0 && buf[newline - 1] == b'\r' {
        newline - 1
    } else {
        newline
    };
    let args = split_args(&buf[..line_end]).ok_or(ProtocolError::UnbalancedQuotes)?;
    let _ = buf.split_to(newline + 1);
    Ok(Some(args.into_iter().map(Bytes::from).collect()))
}

/// C's `isspace`: unlike `u8::is_ascii_whitespace` it includes the vertical tab.
fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn hex_value(c: u8) -> Option<u8> {
    (c as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// Splits an inline line into arguments with the quoting rules of Redis's `sdssplitargs`:
/// double quotes with escapes (`\n`, `\xHH`, ...), single quotes with `\'`, and a closing
/// quote must be followed by a space or the end of the line.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut args = Vec::new();
    let mut i = 0;
    // sdssplitargs works on a C string: nothing after a NUL byte exists for it. Cutting the
    // line there also keeps the unquoted scan below from stopping on a NUL forever.
    let n = line.iter().position(|&b| b == 0).unwrap_or(line.len());
    loop {
        while i < n && is_c_space(line[i]) {
            i += 1;
        }
        if i >= n {
            return Some(args);
        }
        let mut current = Vec::new();
        let mut in_double = false;
        let mut in_single = false;
        loop {
            if in_double {
                if i >= n {
                    return None;
                }
                let c = line[i];
                if c == b'\\'
                    && i + 3 < n
                    && line[i + 1] == b'x'
                    && let (Some(h), Some(l)) = (hex_value(line[i + 2]), hex_value(line[i + 3]))
                {
                    current.push(h * 16 + l);
                    i += 4;
                    continue;
                }
                if c == b'\\' && i + 1 < n {
                    i += 1;
                    current.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                } else if c == b'"' {
                    if i + 1 < n && !is_c_space(line[i + 1]) {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    current.push(c);
                }
                i += 1;
            } else if in_single {
                if i >= n {
                    return None;
                }
                let c = line[i];
                if c == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    current.push(b'\'');
                    i += 2;
                    continue;
                } else if c == b'\'' {
                    if i + 1 < n && !is_c_space(line[i + 1]) {
                        return None;
                    }
                    i += 1;
                    break;
                }
                current.push(c);
                i += 1;
            } else {
                if i >= n {
                    break;
                }
                match line[i] {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => break,
                    b'"' => in_double = true,
                    b'\'' => in_single = true,
                    c => current.push(c),
                }
                i += 1;
            }
        }
        args.push(current);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_kept_and_canonical_length_detects_padding() {
        let mut parser = RequestParser::default();
        let mut args = Vec::new();
        let wire = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\n0123456789\r\n";
        let mut buf = BytesMut::from(&wire[..]);
        let limits = ParseLimits::default();
        assert_eq!(parser.parse_into(&mut buf, &limits, &mut args), Ok(Some(3)));
        let frame = parser.take_frame().expect("a multibulk keeps its frame");
        assert_eq!(&frame[..], &wire[..]);
        assert_eq!(canonical_len(&args), frame.len());

        let padded = b"*3\r\n$03\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n";
        let mut buf = BytesMut::from(&padded[..]);
        args.clear();
        assert_eq!(parser.parse_into(&mut buf, &limits, &mut args), Ok(Some(3)));
        let frame = parser.take_frame().expect("frame");
        assert_ne!(canonical_len(&args), frame.len());

        let mut buf = BytesMut::from(&b"SET k v\r\n"[..]);
        args.clear();
        assert_eq!(parser.parse_into(&mut buf, &limits, &mut args), Ok(Some(3)));
        assert!(
            parser.take_frame().is_none(),
            "an inline request has no frame"
        );
    }

    fn parse_all(input: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, ProtocolError> {
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        while let Some(args) = parse_request(&mut buf, &ParseLimits::default())? {
            out.push(args.iter().map(|a| a.to_vec()).collect());
        }
        Ok(out)
    }

    #[test]
    fn multibulk_pipeline() {
        let got = parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n").unwrap();
        assert_eq!(
            got,
            vec![vec![b"GET".to_vec(), b"k".to_vec()], vec![b"PING".to_vec()]]
        );
    }

    #[test]
    fn incomplete_consumes_nothing() {
        let full = b"*2\r\n$3\r\nSET\r\n$5\r\nhello\r\n";
        for cut in 0..full.len() {
            let mut buf = BytesMut::from(&full[..cut]);
            assert_eq!(
                parse_request(&mut buf, &ParseLimits::default()),
                Ok(None),
                "cut at {cut}"
            );
            assert_eq!(buf.len(), cut);
        }
    }

    #[test]
    fn huge_declared_lengths_rejected_before_allocation() {
        assert_eq!(
            parse_all(b"*99999999999\r\n"),
            Err(ProtocolError::InvalidMultibulkLength)
        );
        assert_eq!(
            parse_all(b"*1\r\n$999999999999\r\n"),
            Err(ProtocolError::InvalidBulkLength)
        );
        assert_eq!(
            parse_all(b"*1\r\n$-5\r\n"),
            Err(ProtocolError::InvalidBulkLength)
        );
        assert_eq!(
            parse_all(b"*1\r\nx\r\n"),
            Err(ProtocolError::ExpectedDollar('x'))
        );
    }

    #[test]
    fn unauthenticated_caps_are_small() {
        let limits = ParseLimits {
            authenticated: false,
            ..ParseLimits::default()
        };
        let mut buf = BytesMut::from(&b"*11\r\n"[..]);
        assert_eq!(
            parse_request(&mut buf, &limits),
            Err(ProtocolError::UnauthenticatedMultibulkLength)
        );
        let mut buf = BytesMut::from(&b"*1\r\n$16385\r\n"[..]);
        assert_eq!(
            parse_request(&mut buf, &limits),
            Err(ProtocolError::UnauthenticatedBulkLength)
        );
    }

    #[test]
    fn inline_quoting() {
        let got = parse_all(b"set \"a b\" 'c\\'d' \"\\x41\\n\"\r\n\r\nping\n").unwrap();
        assert_eq!(
            got,
            vec![
                vec![
                    b"set".to_vec(),
                    b"a b".to_vec(),
                    b"c'd".to_vec(),
                    b"A\n".to_vec()
                ],
                vec![],
                vec![b"ping".to_vec()],
            ]
        );
        assert_eq!(
            parse_all(b"get \"abc\r\n"),
            Err(ProtocolError::UnbalancedQuotes)
        );
        assert_eq!(
            parse_all(b"get \"a\"b\r\n"),
            Err(ProtocolError::UnbalancedQuotes)
        );
    }

    #[test]
    fn nul_ends_an_inline_line_like_a_c_string() {
        assert_eq!(
            split_args(b"ECHO a\0b c"),
            Some(vec![b"ECHO".to_vec(), b"a".to_vec()])
        );
        assert_eq!(split_args(b"\0PING"), Some(vec![]));
        assert_eq!(split_args(b"ECHO \"a\0b\""), None);
        assert_eq!(
            split_args(b"ECHO \"a\"\x0bb"),
            Some(vec![b"ECHO".to_vec(), b"a".to_vec(), b"b".to_vec()])
        );
    }

    #[test]
    fn resumes_across_reads_without_rescanning() {
        let full = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n";
        let mut parser = RequestParser::default();
        let mut buf = BytesMut::new();
        let mut got = None;
        for &b in full.iter() {
            buf.extend_from_slice(&[b]);
            if let Some(args) = parser.parse(&mut buf, &ParseLimits::default()).unwrap() {
                got = Some(args);
            }
        }
        let args = got.expect("complete request");
        assert_eq!(args, vec![&b"SET"[..], &b"k"[..], &b"value"[..]]);
        assert!(buf.is_empty());
    }

    #[test]
    fn oversized_inline_rejected() {
        let line = vec![b'a'; 70 * 1024];
        assert_eq!(parse_all(&line), Err(ProtocolError::TooBigInline));
    }
}
