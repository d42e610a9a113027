//! Streams of type 26 (Redis 8.6): the idempotent-producer (IDMP) section after the consumer
//! groups is parsed in full, with limits, and dropped.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

mod common;

use common::build::{Rdb, lzf_literals, stream_id_raw, stream_node};
use common::{decode_chunked, decode_every_way};
use sluice_rdb::{
    DecodeError, DecodeLimits, Item, KeyEntry, RdbValue, StreamId, StreamValue, decode_all,
    rdb_type,
};

/// One IDMP producer: its ID and its (IID, entry ms, entry seq) records.
type Producer<'a> = (&'a [u8], Vec<(Iid<'a>, u64, u64)>);

/// How an IID is stored: raw, integer-encoded, or LZF-compressed.
#[derive(Clone, Copy)]
enum Iid<'a> {
    Raw(&'a [u8]),
    Int16(i16),
    Lzf(&'a [u8]),
}

/// A type 26 stream "s" with one entry, a group with a consumer and a pending entry, then the
/// given IDMP section, then a string key "after".
fn stream26(duration: u64, max: u64, producers: &[Producer<'_>], counters: (u64, u64)) -> Rdb {
    let node = stream_node((7, 0), &[(7, 0, vec![(b"f", b"v")], false)]);
    let mut r = Rdb::new(13);
    r.u8(0xFE).len(0);
    r.u8(rdb_type::STREAM_LISTPACKS_4).string(b"s").len(1);
    r.string(&stream_id_raw(7, 0)).string(&node);
    r.len(1).len(7).len(0); // length, last id
    r.len(7).len(0).len(0).len(0).len(1); // first id, max deleted id, entries added
    r.len(1).string(b"g").len(7).len(0).len(1); // group, last delivered, entries read
    r.len(1)
        .raw(&stream_id_raw(7, 0))
        .raw(&99u64.to_le_bytes())
        .len(1); // PEL
    r.len(1).string(b"alice").raw(&100u64.to_le_bytes());
    r.raw(&101u64.to_le_bytes())
        .len(1)
        .raw(&stream_id_raw(7, 0));
    r.len(duration).len(max).len(producers.len() as u64);
    for (pid, entries) in producers {
        r.string(pid).len(entries.len() as u64);
        for (iid, ms, seq) in entries {
            match iid {
                Iid::Raw(s) => {
                    r.string(s);
                }
                Iid::Int16(v) => {
                    r.u8(0xC1).raw(&v.to_le_bytes());
                }
                Iid::Lzf(s) => {
                    let c = lzf_literals(s);
                    r.u8(0xC3).len(c.len() as u64).len(s.len() as u64).raw(&c);
                }
            }
            r.len(*ms).len(*seq);
        }
    }
    r.len(counters.0).len(counters.1);
    r.u8(rdb_type::STRING).string(b"after").string(b"x");
    r
}

fn stream_and_next(data: &[u8]) -> (StreamValue, KeyEntry) {
    let items = decode_every_way(data).unwrap_or_else(|e| panic!("{e}"));
    let mut es = items.into_iter().filter_map(|i| match i {
        Item::Entry(e) => Some(e),
        _ => None,
    });
    let s = es.next().unwrap();
    assert_eq!(s.rdb_type, rdb_type::STREAM_LISTPACKS_4);
    let RdbValue::Stream(v) = s.value else {
        panic!("not a stream")
    };
    let next = es.next().unwrap();
    assert!(es.next().is_none());
    (*v, next)
}

fn producers<'a>(digest: &'a [u8], long: &'a [u8]) -> Vec<Producer<'a>> {
    vec![
        // IDMPAUTO records a 16-byte digest of the entry.
        (b"auto", vec![(Iid::Raw(digest), 7, 0)]),
        (
            b"p2",
            vec![
                (Iid::Int16(12345), 7, 1),
                (Iid::Lzf(long), 1 << 40, 1 << 33),
            ],
        ),
        (b"producer-1", vec![(Iid::Raw(b"order-1"), 7, 0)]),
        // A producer whose IDs all expired.
        (b"idle", vec![]),
    ]
}

#[test]
fn idmp_section_is_parsed_and_dropped() {
    let digest = [0xA5u8; 16];
    let long = vec![b'i'; 200];
    // 86400 and 10000 are XCFGSET's largest values: 32-bit and 14-bit lengths.
    let data = stream26(86400, 10000, &producers(&digest, &long), (5, 1)).eof();
    let (s, next) = stream_and_next(&data);
    assert_eq!(s.entries.len(), 1);
    assert_eq!(s.entries[0].id, StreamId { ms: 7, seq: 0 });
    assert_eq!(s.entries_added, 1);
    let g = &s.groups[0];
    assert_eq!(g.pending.len(), 1);
    assert_eq!(g.consumers[0].active_time_ms, Some(101));
    // The key after the stream starts where the IDMP section ends.
    assert_eq!(next.key.as_ref(), b"after");
    assert_eq!(
        next.value,
        RdbValue::String(bytes::Bytes::from_static(b"x"))
    );

    // The empty section Redis 8.6 writes for a stream that never used IDMP.
    let (s, next) = stream_and_next(&stream26(100, 100, &[], (0, 0)).eof());
    assert_eq!(s.groups[0].consumers[0].name.as_ref(), b"alice");
    assert_eq!(next.key.as_ref(), b"after");
}

#[test]
fn every_truncation_of_the_idmp_section_is_truncated() {
    let digest = [0x5Au8; 16];
    let long = vec![b'i'; 50];
    let data = stream26(100, 100, &producers(&digest, &long), (3, 0)).eof();
    for cut in 0..data.len() {
        assert_eq!(
            decode_all(&data[..cut], DecodeLimits::default()),
            Err(DecodeError::Truncated { offset: cut as u64 }),
            "cut at {cut}"
        );
    }
}

#[test]
fn idmp_counts_and_sizes_are_limited() {
    let limits = DecodeLimits {
        string_bytes_max: 64,
        value_bytes_max: 1 << 20,
        elements_max: 50,
    };
    let check = |data: &[u8], want: &str| {
        let e = decode_all(data, limits).expect_err("must fail");
        assert_eq!(
            decode_chunked(data, &[1], limits).expect_err("must fail"),
            e
        );
        match e {
            DecodeError::LimitExceeded { what, .. } => assert_eq!(what, want),
            other => panic!("{other:?}"),
        }
    };
    // A declared producer count past the cap fails before anything is awaited.
    let mut r = stream26(100, 100, &[], (0, 0));
    let n = r.buf.len();
    // Cut after the size cap (before "0 producers, 0, 0" and the key after): 12 bytes.
    r.buf.truncate(n - 12);
    let cut = r.buf.clone();
    assert_eq!(cut[cut.len() - 4..], [0x40, 100, 0x40, 100]);
    let mut huge = cut.clone();
    huge.extend_from_slice(&[0x80, 0, 1, 0, 0]); // 65536
    check(&huge, "IDMP producer count");
    let mut huge = cut.clone();
    huge.extend_from_slice(&[1, 1, b'p', 0x80, 0, 1, 0, 0]);
    check(&huge, "IDMP entry count");
    // Oversized strings.
    let big = vec![b'x'; 65];
    let data = stream26(100, 100, &[(&big, vec![])], (0, 0)).eof();
    check(&data, "string length");
    let data = stream26(100, 100, &[(b"p", vec![(Iid::Raw(&big), 1, 1)])], (0, 0)).eof();
    check(&data, "string length");
    // IDMP entries count toward the value's element budget: 45 fit the entry count cap,
    // not the budget the stream already used 6 of.
    let many: Vec<(Iid<'_>, u64, u64)> = (0..45).map(|i| (Iid::Raw(b"id"), 7, i)).collect();
    let data = stream26(100, 100, &[(b"p", many)], (45, 0)).eof();
    check(&data, "element count");
}

#[test]
fn idmp_lengths_are_validated() {
    // A special string encoding where a count belongs: the producer count position.
    let mut r = stream26(100, 100, &[], (0, 0));
    let n = r.buf.len();
    let at = n - 12;
    r.buf[at] = 0xC0;
    let data = r.eof();
    let e = decode_all(&data, DecodeLimits::default()).expect_err("must fail");
    assert_eq!(
        e,
        DecodeError::BadLength {
            byte: 0xC0,
            offset: at as u64
        }
    );
}
