//! Encoder → decoder round trips over arbitrary datasets (proptest), and encoder details.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use proptest::prelude::*;
use sluice_rdb::{
    CrcStatus, DecodeLimits, EncodeError, Encoder, EncoderOptions, FIELD_EXPIRE_AT_MS_MAX, Item,
    RdbValue, SnapshotAux, decode_all,
};

use common::decode_chunked;

/// A value in a canonical form: unordered collections sorted, so that encodings that reorder
/// (intsets, listpack sorted sets) compare equal.
#[derive(Debug, Clone, PartialEq)]
enum V {
    Str(Vec<u8>),
    List(Vec<Vec<u8>>),
    Set(BTreeSet<Vec<u8>>),
    Hash(BTreeMap<Vec<u8>, Vec<u8>>),
    /// A hash with field expiry: value and expiry of each field.
    HashEx(BTreeMap<Vec<u8>, (Vec<u8>, Option<u64>)>),
    ZSet(BTreeMap<Vec<u8>, f64>),
}

fn canon(v: &RdbValue) -> V {
    let b = |x: &Bytes| x.to_vec();
    match v {
        RdbValue::String(s) => V::Str(b(s)),
        RdbValue::List(l) => V::List(l.iter().map(b).collect()),
        RdbValue::Set(s) => V::Set(s.iter().map(b).collect()),
        RdbValue::Hash(h) => V::Hash(h.iter().map(|(f, v)| (b(f), b(v))).collect()),
        RdbValue::HashWithFieldExpiry(h) => V::HashEx(
            h.iter()
                .map(|e| (b(&e.field), (b(&e.value), e.expire_at_ms)))
                .collect(),
        ),
        RdbValue::SortedSet(z) => V::ZSet(z.iter().map(|(m, s)| (b(m), *s)).collect()),
        RdbValue::Stream(_) => unreachable!("not generated"),
    }
}

fn element() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => any::<i64>().prop_map(|v| v.to_string().into_bytes()),
        2 => (-200i64..200).prop_map(|v| v.to_string().into_bytes()),
        6 => prop::collection::vec(any::<u8>(), 0..24),
        2 => prop::collection::vec(any::<u8>(), 24..300),
        1 => prop::collection::vec(prop::sample::select(vec![b'a', b'b', 0u8]), 4000..12000),
    ]
}

fn score() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => any::<f64>().prop_filter("no NaN", |s| !s.is_nan()),
        2 => (-1000i64..1000).prop_map(|v| v as f64),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(0.1),
    ]
}

/// A field expiry: none, anything Redis accepts, or one of its edges.
fn field_expiry() -> impl Strategy<Value = Option<u64>> {
    prop_oneof![
        2 => Just(None),
        3 => (1..=FIELD_EXPIRE_AT_MS_MAX).prop_map(Some),
        1 => prop_oneof![Just(1), Just(FIELD_EXPIRE_AT_MS_MAX)].prop_map(Some),
    ]
}

fn value() -> impl Strategy<Value = V> {
    let small = 1usize..12;
    let big = 100usize..700;
    prop_oneof![
        4 => element().prop_map(V::Str),
        2 => prop::collection::vec(element(), small.clone()).prop_map(V::List),
        1 => prop::collection::vec(prop::collection::vec(any::<u8>(), 0..8), big.clone()).prop_map(V::List),
        2 => prop::collection::btree_set(element(), small.clone()).prop_map(V::Set),
        1 => prop::collection::btree_set(any::<i32>().prop_map(|v| v.to_string().into_bytes()), big.clone()).prop_map(V::Set),
        2 => prop::collection::btree_map(element(), element(), small.clone()).prop_map(V::Hash),
        1 => prop::collection::btree_map(prop::collection::vec(any::<u8>(), 1..6), element(), big.clone()).prop_map(V::Hash),
        2 => prop::collection::btree_map(element(), (element(), field_expiry()), small.clone()).prop_map(V::HashEx),
        1 => prop::collection::btree_map(prop::collection::vec(any::<u8>(), 1..6), (element(), field_expiry()), big.clone()).prop_map(V::HashEx),
        2 => prop::collection::btree_map(element(), score(), small).prop_map(V::ZSet),
        1 => prop::collection::btree_map(prop::collection::vec(any::<u8>(), 1..6), score(), big).prop_map(V::ZSet),
    ]
}

type Dataset = BTreeMap<(u32, Vec<u8>), (V, Option<u64>)>;

fn dataset() -> impl Strategy<Value = Dataset> {
    prop::collection::btree_map(
        (0u32..4, prop::collection::vec(any::<u8>(), 0..16)),
        (value(), prop::option::of(0u64..u64::from(u32::MAX) * 1000)),
        0..24,
    )
}

/// Encodes `data`; hashes with field expiry are refused below RDB 12 (and so left out of what
/// the file holds).
fn encode(data: &Dataset, options: EncoderOptions) -> Vec<Bytes> {
    let mut enc = Encoder::new(options);
    enc.write_snapshot_aux(&SnapshotAux {
        redis_ver: "7.0.0",
        ctime_secs: 1_700_000_000,
        used_mem_bytes: 1 << 30,
        repl_stream_db: 0,
        repl_id: "0123456789abcdef0123456789abcdef01234567",
        repl_offset: 987654321,
    });
    let mut chunks = Vec::new();
    let mut db = None;
    for ((d, key), (v, expire)) in data {
        if db != Some(*d) {
            enc.select_db(*d);
            let n = data.keys().filter(|(x, _)| x == d).count() as u64;
            enc.resize_db(n, 0);
            db = Some(*d);
        }
        match v {
            V::Str(s) => enc.write_string(key, s, *expire),
            V::List(l) => enc.write_list(key, l, *expire).unwrap(),
            V::Set(s) => enc.write_set(key, s, *expire).unwrap(),
            V::Hash(h) => enc.write_hash(key, h, *expire).unwrap(),
            V::HashEx(h) => {
                let fields = h.iter().map(|(f, (v, e))| (f, v, *e));
                let res = enc.write_hash_with_field_expiry(key, fields, *expire);
                if options.rdb_version >= 12 {
                    res.unwrap();
                } else {
                    assert!(matches!(res, Err(EncodeError::VersionTooOld { .. })));
                }
            }
            V::ZSet(z) => enc
                .write_zset(key, z.iter().map(|(m, s)| (m, *s)), *expire)
                .unwrap(),
        }
        // Take chunks as they fill, as a streaming consumer would.
        while let Some(c) = enc.pop_chunk() {
            chunks.push(c);
        }
    }
    chunks.extend(enc.finish());
    chunks
}

fn decoded(items: &[Item]) -> Dataset {
    items
        .iter()
        .filter_map(|i| match i {
            Item::Entry(e) => Some(((e.db, e.key.to_vec()), (canon(&e.value), e.expire_at_ms))),
            _ => None,
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn encode_then_decode_gives_the_dataset_back(
        data in dataset(),
        chunk_size_bytes in prop_oneof![1usize..64, 64usize..5000, Just(1 << 20)],
        compress_lzf in any::<bool>(),
        rdb_version in prop_oneof![Just(10u32), Just(12), Just(13)],
        feed in prop::collection::vec(1usize..9000, 1..4),
    ) {
        let chunks = encode(&data, EncoderOptions { chunk_size_bytes, compress_lzf, rdb_version });
        for c in &chunks[..chunks.len() - 1] {
            prop_assert_eq!(c.len(), chunk_size_bytes);
        }
        let file = chunks.concat();
        let items = decode_chunked(&file, &feed, DecodeLimits::default()).unwrap();
        prop_assert!(matches!(items.last(), Some(Item::End(CrcStatus::Verified(_)))));
        let mut data = data;
        if rdb_version < 12 {
            data.retain(|_, (v, _)| !matches!(v, V::HashEx(_)));
        }
        prop_assert_eq!(decoded(&items), data);
        let whole = decode_all(&file, DecodeLimits::default()).unwrap();
        prop_assert_eq!(whole, items);
    }
}

#[test]
fn snapshot_aux_and_functions_roundtrip() {
    let mut enc = Encoder::default();
    enc.write_snapshot_aux(&SnapshotAux {
        redis_ver: "7.2.4",
        ctime_secs: 1_700_000_000,
        used_mem_bytes: 123_456_789_012,
        repl_stream_db: 3,
        repl_id: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        repl_offset: 42,
    });
    enc.write_function(b"#!lua name=lib\nredis.register_function('f', function() return 1 end)");
    let file = enc.finish().concat();
    assert_eq!(&file[..9], b"REDIS0010");
    let items = decode_all(&file, DecodeLimits::default()).unwrap();
    let aux: BTreeMap<Vec<u8>, Vec<u8>> = items
        .iter()
        .filter_map(|i| match i {
            Item::Aux { key, value } => Some((key.to_vec(), value.to_vec())),
            _ => None,
        })
        .collect();
    let get = |k: &str| String::from_utf8(aux[k.as_bytes()].clone()).unwrap();
    assert_eq!(get("redis-ver"), "7.2.4");
    assert_eq!(get("redis-bits"), "64");
    assert_eq!(get("ctime"), "1700000000");
    assert_eq!(get("used-mem"), "123456789012");
    assert_eq!(get("repl-stream-db"), "3");
    assert_eq!(get("repl-id"), "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    assert_eq!(get("repl-offset"), "42");
    assert!(
        items
            .iter()
            .any(|i| matches!(i, Item::Function(f) if f.starts_with(b"#!lua")))
    );
}

#[test]
fn encoder_refuses_what_redis_would_drop() {
    let mut enc = Encoder::default();
    let none: [&[u8]; 0] = [];
    assert_eq!(
        enc.write_list(b"k", none, None),
        Err(EncodeError::EmptyCollection { what: "list" })
    );
    assert_eq!(
        enc.write_set(b"k", none, None),
        Err(EncodeError::EmptyCollection { what: "set" })
    );
    let no_pairs: [(&[u8], &[u8]); 0] = [];
    assert_eq!(
        enc.write_hash(b"k", no_pairs, None),
        Err(EncodeError::EmptyCollection { what: "hash" })
    );
    assert_eq!(
        enc.write_zset(b"k", [(&b"m"[..], f64::NAN)], None),
        Err(EncodeError::NanScore)
    );
    let before = enc.bytes_written();
    // Nothing was written by the refused values.
    assert_eq!(before, 9);
}

/// An iterator whose clones yield one element fewer: the encoder must notice.
#[derive(Debug)]
struct Shrinking(usize);

impl Iterator for Shrinking {
    type Item = &'static [u8];
    fn next(&mut self) -> Option<Self::Item> {
        if self.0 == 0 {
            return None;
        }
        self.0 -= 1;
        Some(b"x")
    }
}

impl Clone for Shrinking {
    fn clone(&self) -> Self {
        Shrinking(self.0 + 1)
    }
}

#[test]
fn encoder_detects_inconsistent_iterators() {
    let mut enc = Encoder::default();
    // Plain set: the first pass counts 3 (a clone), the second writes 2.
    let members = (0..3).map(|i| {
        if i == 0 {
            &b"not-an-int"[..]
        } else {
            &b"y"[..]
        }
    });
    assert!(enc.write_set(b"ok", members, None).is_ok());
    assert!(matches!(
        enc.write_set(b"k", Shrinking(2), None),
        Err(EncodeError::LengthMismatch {
            what: "set",
            promised: 3,
            yielded: 2
        })
    ));
}

#[test]
fn lzf_output_is_smaller_and_still_decodes() {
    let big = b"0123456789".repeat(10_000);
    let mut plain = Encoder::default();
    plain.write_string(b"k", &big, None);
    let mut packed = Encoder::new(EncoderOptions {
        compress_lzf: true,
        ..EncoderOptions::default()
    });
    packed.write_string(b"k", &big, None);
    let plain = plain.finish().concat();
    let packed = packed.finish().concat();
    assert!(
        packed.len() * 10 < plain.len(),
        "{} vs {}",
        packed.len(),
        plain.len()
    );
    let items = decode_all(&packed, DecodeLimits::default()).unwrap();
    assert!(matches!(&items[0], Item::Entry(e) if e.value == RdbValue::String(Bytes::from(big))));
}
