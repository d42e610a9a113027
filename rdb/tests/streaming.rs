//! Streaming behaviour: one-byte chunks stay linear on huge values, buffering stays bounded,
//! detached strings own their memory.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

mod common;

use bytes::Bytes;
use common::build::Rdb;
use sluice_rdb::{DecodeLimits, Decoder, Encoder, EncoderOptions, Item, RdbValue, rdb_type};

fn feed(data: &[u8], chunk: usize, dec: &mut Decoder, mut each: impl FnMut(Item, &Decoder)) {
    for piece in data.chunks(chunk) {
        dec.push(piece);
        while let Some(item) = dec.next_item().expect("valid input") {
            each(item, dec);
        }
    }
    dec.finish().expect("complete input");
}

#[test]
fn one_byte_chunks_stay_linear_on_huge_values() {
    // A plain list of 100k elements, a plain hash of 50k fields, a quicklist of 100k
    // elements and a 2 MB string: quadratic re-parsing would take hours here.
    let mut r = Rdb::new(10);
    r.u8(rdb_type::LIST).string(b"plain-list").len(100_000);
    for i in 0..100_000u32 {
        r.string(format!("e{i}").as_bytes());
    }
    r.u8(rdb_type::HASH).string(b"plain-hash").len(50_000);
    for i in 0..50_000u32 {
        r.string(format!("f{i}").as_bytes()).string(b"v");
    }
    let mut enc = Encoder::new(EncoderOptions::default());
    let items: Vec<String> = (0..100_000).map(|i| format!("q{i}")).collect();
    enc.write_list(b"quicklist", &items, None).unwrap();
    enc.write_string(b"big", &vec![7u8; 2 << 20], None);
    let tail = enc.finish().concat();
    // Splice the encoder's entries (after its 9-byte header) behind the hand-built ones.
    r.raw(&tail[9..tail.len() - 9]);
    let data = r.eof();

    let mut dec = Decoder::new(DecodeLimits::default());
    let mut sizes = Vec::new();
    feed(&data, 1, &mut dec, |item, _| {
        if let Item::Entry(e) = item {
            sizes.push(match e.value {
                RdbValue::List(v) => v.len(),
                RdbValue::Hash(v) => v.len(),
                RdbValue::String(v) => v.len(),
                other => panic!("{other:?}"),
            });
        }
    });
    assert_eq!(sizes, vec![100_000, 50_000, 100_000, 2 << 20]);
}

#[test]
fn buffering_stays_bounded_by_one_unit_plus_one_chunk() {
    let mut enc = Encoder::new(EncoderOptions::default());
    let value = vec![b'x'; 1000];
    for i in 0..5000u32 {
        enc.write_string(format!("key:{i}").as_bytes(), &value, None);
    }
    let data = enc.finish().concat();
    let chunk = 4096;
    let mut dec = Decoder::new(DecodeLimits::default());
    let mut entries = 0;
    let mut buffered_max = 0;
    feed(&data, chunk, &mut dec, |item, dec| {
        entries += usize::from(matches!(item, Item::Entry(_)));
        buffered_max = buffered_max.max(dec.buffered_bytes());
    });
    assert_eq!(entries, 5000);
    assert!(
        buffered_max <= chunk + 1100,
        "buffered up to {buffered_max} bytes"
    );
}

#[test]
fn detached_strings_own_their_memory() {
    let mut enc = Encoder::new(EncoderOptions::default());
    enc.write_string(b"k", b"shared-or-not", None);
    enc.write_hash(b"h", [(&b"f"[..], &b"v"[..])], None)
        .unwrap();
    let data = enc.finish().concat();
    for detach in [false, true] {
        let mut dec = Decoder::default();
        dec.set_detach_strings(detach);
        let mut all: Vec<Bytes> = Vec::new();
        feed(&data, data.len(), &mut dec, |item, _| {
            if let Item::Entry(e) = item {
                all.push(e.key);
                match e.value {
                    RdbValue::String(v) => all.push(v),
                    RdbValue::Hash(v) => v.into_iter().for_each(|(f, v)| all.extend([f, v])),
                    other => panic!("{other:?}"),
                }
            }
        });
        drop(dec);
        assert_eq!(all.len(), 5);
        // Without detaching, the strings share the input segment.
        assert_eq!(all.iter().all(Bytes::is_unique), detach);
    }
}
