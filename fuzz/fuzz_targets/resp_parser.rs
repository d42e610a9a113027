//! Fuzzes the request parser: no input may panic it, and feeding the same bytes in pieces
//! must give the same requests (or the same error) as feeding them at once.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use sluice::resp::parse::{ParseLimits, RequestParser};

fn parse_all(chunks: &[&[u8]], limits: &ParseLimits) -> (Vec<Vec<Vec<u8>>>, Option<String>) {
    let mut parser = RequestParser::default();
    let mut buf = BytesMut::new();
    let mut requests = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        loop {
            match parser.parse(&mut buf, limits) {
                Ok(Some(args)) => requests.push(args.iter().map(|a| a.to_vec()).collect()),
                Ok(None) => break,
                Err(e) => return (requests, Some(e.to_string())),
            }
        }
    }
    (requests, None)
}

fuzz_target!(|data: &[u8]| {
    // Small caps so that length checks are reached with small inputs.
    let limits = ParseLimits { bulk_len_max: 4096, inline_len_max: 1024, authenticated: data.first() != Some(&0) };
    let whole = parse_all(&[data], &limits);
    let split_at = data.len() / 3;
    let pieces = parse_all(&[&data[..split_at], &data[split_at..]], &limits);
    let bytewise: Vec<&[u8]> = data.chunks(1).collect();
    let by_byte = parse_all(&bytewise, &limits);
    // "too big" errors depend on how much was buffered when a line had not ended yet (Redis
    // behaves the same), so a run that hit one may have parsed fewer requests; otherwise the
    // split must not matter at all.
    for other in [&pieces, &by_byte] {
        let size_dependent = [&whole, other].iter().any(|r| r.1.as_deref().is_some_and(|e| e.starts_with("too big")));
        if size_dependent {
            let common = whole.0.len().min(other.0.len());
            assert_eq!(whole.0[..common], other.0[..common]);
        } else {
            assert_eq!(whole, *other);
        }
    }
});
