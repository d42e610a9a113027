//! Hashes with field expiry (Redis 7.4+): types 22 to 25 decoded from hand-built layouts, the
//! encoder's type 24 read back, and the typed refusals (times past 2^48 - 1, broken triples,
//! truncation, limits, versions too old to carry them).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

mod common;

use std::cell::Cell;

use bytes::Bytes;
use common::build::{Ent, Rdb, listpack, lzf_literals};
use common::{decode_chunked, decode_every_way};
use sluice_rdb::{
    DecodeError, DecodeLimits, EncodeError, Encoder, EncoderOptions, FIELD_EXPIRE_AT_MS_MAX,
    HashFieldEntry, Item, KeyEntry, RdbValue, decode_all, rdb_type,
};

const T: u64 = 4_102_444_800_123; // 2100-01-01
const NONE: u64 = FIELD_EXPIRE_AT_MS_MAX + 1;

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn fe(field: &str, value: &str, expire_at_ms: Option<u64>) -> HashFieldEntry {
    HashFieldEntry {
        field: b(field),
        value: b(value),
        expire_at_ms,
    }
}

fn entries(items: Vec<Item>) -> Vec<KeyEntry> {
    items
        .into_iter()
        .filter_map(|i| match i {
            Item::Entry(e) => Some(e),
            _ => None,
        })
        .collect()
}

fn single(data: &[u8]) -> KeyEntry {
    let es = entries(decode_every_way(data).unwrap_or_else(|e| panic!("{e}")));
    assert_eq!(es.len(), 1);
    es.into_iter().next().unwrap()
}

fn hfe_fields(e: &KeyEntry) -> &[HashFieldEntry] {
    match &e.value {
        RdbValue::HashWithFieldExpiry(v) => v,
        other => panic!("not a hash with field expiry: {other:?}"),
    }
}

/// The same error, at the same offset, whatever the chunking.
fn expect_err(data: &[u8], limits: DecodeLimits) -> DecodeError {
    let e = decode_all(data, limits).expect_err("must fail");
    assert_eq!(
        decode_chunked(data, &[1], limits).expect_err("must fail"),
        e
    );
    e
}

fn encoder(rdb_version: u32) -> Encoder {
    Encoder::new(EncoderOptions {
        chunk_size_bytes: 7,
        compress_lzf: true,
        rdb_version,
    })
}

type Triple<'a> = (&'a [u8], &'a [u8], Option<u64>);

fn encode_one(fields: &[Triple<'_>], expire_at_ms: Option<u64>) -> Vec<u8> {
    let mut enc = encoder(13);
    enc.write_hash_with_field_expiry(b"k", fields.iter().copied(), expire_at_ms)
        .unwrap();
    enc.finish().concat()
}

// --- Decoding hand-built layouts ----------------------------------------------------------

#[test]
fn type_24_relative_times() {
    // minExpire T; TTLs are relative to it, plus one; 0 is "none".
    let mut r = Rdb::new(12);
    r.u8(rdb_type::HASH_METADATA).string(b"k");
    r.raw(&T.to_le_bytes()).len(4);
    r.len(1).string(b"first").string(b"a");
    r.len(0).string(b"none").string(b"b");
    r.len(1001)
        .u8(0xC0)
        .u8(7)
        .u8(0xC1)
        .raw(&(-300i16).to_le_bytes());
    r.len(1).string(b"same").string(b"");
    let e = single(&r.eof());
    assert_eq!(e.rdb_type, rdb_type::HASH_METADATA);
    assert_eq!(e.value.type_name(), "hash");
    assert_eq!(
        hfe_fields(&e),
        [
            fe("first", "a", Some(T)),
            fe("none", "b", None),
            // Integer-encoded fields and values come back as decimal text.
            fe("7", "-300", Some(T + 1000)),
            fe("same", "", Some(T)),
        ]
    );
}

#[test]
fn type_24_edge_cases_of_the_earliest_expiry() {
    // 2^48 is "no expiry": every TTL is 0.
    let mut r = Rdb::new(12);
    r.u8(rdb_type::HASH_METADATA).string(b"k");
    r.raw(&NONE.to_le_bytes()).len(1);
    r.len(0).string(b"f").string(b"v");
    assert_eq!(hfe_fields(&single(&r.eof())), [fe("f", "v", None)]);

    // The largest relative TTL, from 1 to 2^48 - 1.
    let mut r = Rdb::new(12);
    r.u8(rdb_type::HASH_METADATA).string(b"k");
    r.raw(&1u64.to_le_bytes()).len(2);
    r.len(1).string(b"min").string(b"v");
    r.len(FIELD_EXPIRE_AT_MS_MAX).string(b"max").string(b"v");
    assert_eq!(
        hfe_fields(&single(&r.eof())),
        [
            fe("min", "v", Some(1)),
            fe("max", "v", Some(FIELD_EXPIRE_AT_MS_MAX))
        ]
    );

    // An earliest expiry of 0 with TTL 1 gives time 0, which Redis reads as "none".
    let mut r = Rdb::new(12);
    r.u8(rdb_type::HASH_METADATA).string(b"k");
    r.raw(&0u64.to_le_bytes()).len(1);
    r.len(1).string(b"f").string(b"v");
    assert_eq!(hfe_fields(&single(&r.eof())), [fe("f", "v", None)]);
}

#[test]
fn type_22_absolute_times() {
    let mut r = Rdb::new(12);
    r.u8(0xFC).raw(&(T + 9).to_le_bytes()); // the key's own expiry
    r.u8(rdb_type::HASH_METADATA_PRE_GA).string(b"k").len(3);
    r.len(T).string(b"a").string(b"1");
    r.len(0).string(b"b").string(b"2");
    r.len(FIELD_EXPIRE_AT_MS_MAX)
        .string(b"c")
        .u8(0xC2)
        .raw(&100_000i32.to_le_bytes());
    let e = single(&r.eof());
    assert_eq!(e.expire_at_ms, Some(T + 9));
    assert_eq!(e.rdb_type, rdb_type::HASH_METADATA_PRE_GA);
    assert_eq!(
        hfe_fields(&e),
        [
            fe("a", "1", Some(T)),
            fe("b", "2", None),
            fe("c", "100000", Some(FIELD_EXPIRE_AT_MS_MAX))
        ]
    );
}

fn triples_listpack() -> Vec<u8> {
    listpack(&[
        Ent::S(b"a"),
        Ent::S(b"1"),
        Ent::I(T as i64),
        Ent::I(12),
        Ent::I(-5),
        Ent::I(FIELD_EXPIRE_AT_MS_MAX as i64),
        Ent::S(b"none"),
        Ent::S(b"v"),
        Ent::I(0),
    ])
}

fn triples_want() -> Vec<HashFieldEntry> {
    vec![
        fe("a", "1", Some(T)),
        fe("12", "-5", Some(FIELD_EXPIRE_AT_MS_MAX)),
        fe("none", "v", None),
    ]
}

#[test]
fn type_23_listpack_triples() {
    let mut r = Rdb::new(12);
    r.u8(rdb_type::HASH_LISTPACK_EX_PRE_GA)
        .string(b"k")
        .string(&triples_listpack());
    let e = single(&r.eof());
    assert_eq!(e.rdb_type, rdb_type::HASH_LISTPACK_EX_PRE_GA);
    assert_eq!(hfe_fields(&e), triples_want());
}

#[test]
fn type_25_listpack_triples_plain_and_compressed() {
    let lp = triples_listpack();
    // The earliest expiry before the blob is informative: Redis writes 0 when it has none,
    // and a stale one after HPERSIST.
    for min in [0, T, NONE] {
        let mut r = Rdb::new(12);
        r.u8(rdb_type::HASH_LISTPACK_EX)
            .string(b"k")
            .raw(&min.to_le_bytes())
            .string(&lp);
        assert_eq!(hfe_fields(&single(&r.eof())), triples_want());
    }
    let c = lzf_literals(&lp);
    let mut r = Rdb::new(13);
    r.u8(rdb_type::HASH_LISTPACK_EX)
        .string(b"k")
        .raw(&T.to_le_bytes())
        .u8(0xC3)
        .len(c.len() as u64)
        .len(lp.len() as u64)
        .raw(&c);
    assert_eq!(hfe_fields(&single(&r.eof())), triples_want());

    // An expiry spelled as listpack text is read as Redis reads it.
    let lp = listpack(&[Ent::S(b"f"), Ent::S(b"v"), Ent::S(b"4102444800123")]);
    let mut r = Rdb::new(12);
    r.u8(rdb_type::HASH_LISTPACK_EX)
        .string(b"k")
        .raw(&0u64.to_le_bytes())
        .string(&lp);
    assert_eq!(hfe_fields(&single(&r.eof())), [fe("f", "v", Some(T))]);
}

#[test]
fn duplicate_fields_are_returned_as_stored() {
    // As for the other hash encodings: the caller decides what a duplicate means.
    let mut r = Rdb::new(12);
    r.u8(rdb_type::HASH_METADATA_PRE_GA).string(b"k").len(2);
    r.len(T).string(b"f").string(b"1");
    r.len(0).string(b"f").string(b"2");
    assert_eq!(
        hfe_fields(&single(&r.eof())),
        [fe("f", "1", Some(T)), fe("f", "2", None)]
    );
}

#[test]
fn detached_strings_are_equal() {
    let data = encode_one(&[(b"f", b"some value", Some(T))], None);
    let mut dec = sluice_rdb::Decoder::default();
    dec.set_detach_strings(true);
    dec.push(&data);
    let mut items = Vec::new();
    while let Some(i) = dec.next_item().unwrap() {
        items.push(i);
    }
    dec.finish().unwrap();
    assert_eq!(items, decode_all(&data, DecodeLimits::default()).unwrap());
}

// --- Refusals ------------------------------------------------------------------------------

#[test]
fn expire_times_past_2_48_are_corruption() {
    let d = DecodeLimits::default();
    // Type 24: an earliest expiry past 2^48, at its own offset (header 9, type 1, key 2).
    let mut r = Rdb::new(12);
    r.u8(rdb_type::HASH_METADATA).string(b"k");
    r.raw(&(NONE + 1).to_le_bytes()).len(1);
    r.len(0).string(b"f").string(b"v");
    assert_eq!(
        expect_err(&r.eof(), d),
        DecodeError::FieldExpiry {
            expire_at_ms: NONE + 1,
            offset: 12
        }
    );
    // Type 24: a TTL that lands past 2^48 - 1, at the TTL's offset (after 8 + 1 bytes).
    let mut r = Rdb::new(12);
    r.u8(rdb_type::HASH_METADATA).string(b"k");
    r.raw(&2u64.to_le_bytes()).len(1);
    r.len(FIELD_EXPIRE_AT_MS_MAX).string(b"f").string(b"v");
    assert_eq!(
        expect_err(&r.eof(), d),
        DecodeError::FieldExpiry {
            expire_at_ms: NONE,
            offset: 21
        }
    );
    // ... and a TTL of 1 when there is no earliest expiry.
    let mut r = Rdb::new(12);
    r.u8(rdb_type::HASH_METADATA).string(b"k");
    r.raw(&NONE.to_le_bytes()).len(1);
    r.len(1).string(b"f").string(b"v");
    assert!(matches!(
        expect_err(&r.eof(), d),
        DecodeError::FieldExpiry { offset: 21, .. }
    ));
    // A TTL so large that adding the earliest expiry overflows.
    let mut r = Rdb::new(12);
    r.u8(rdb_type::HASH_METADATA).string(b"k");
    r.raw(&T.to_le_bytes()).len(1);
    r.len(u64::MAX).string(b"f").string(b"v");
    assert!(matches!(
        expect_err(&r.eof(), d),
        DecodeError::FieldExpiry { offset: 21, .. }
    ));
    // Type 22: an absolute time past 2^48 - 1.
    let mut r = Rdb::new(12);
    r.u8(rdb_type::HASH_METADATA_PRE_GA).string(b"k").len(1);
    r.len(NONE).string(b"f").string(b"v");
    assert_eq!(
        expect_err(&r.eof(), d),
        DecodeError::FieldExpiry {
            expire_at_ms: NONE,
            offset: 13
        }
    );
    // Types 23 and 25: past 2^48 - 1, and negative; the offset is the blob's.
    for ttl in [NONE as i64, -1] {
        let lp = listpack(&[Ent::S(b"f"), Ent::S(b"v"), Ent::I(ttl)]);
        let mut r = Rdb::new(12);
        r.u8(rdb_type::HASH_LISTPACK_EX_PRE_GA)
            .string(b"k")
            .string(&lp);
        assert_eq!(
            expect_err(&r.eof(), d),
            DecodeError::FieldExpiry {
                expire_at_ms: ttl as u64,
                offset: 13
            }
        );
        let mut r = Rdb::new(12);
        r.u8(rdb_type::HASH_LISTPACK_EX)
            .string(b"k")
            .raw(&0u64.to_le_bytes())
            .string(&lp);
        assert!(matches!(
            expect_err(&r.eof(), d),
            DecodeError::FieldExpiry { offset: 21, .. }
        ));
    }
    // Type 25: its informative earliest expiry past 2^48 is corruption too.
    let mut r = Rdb::new(12);
    r.u8(rdb_type::HASH_LISTPACK_EX)
        .string(b"k")
        .raw(&u64::MAX.to_le_bytes())
        .string(&triples_listpack());
    assert_eq!(
        expect_err(&r.eof(), d),
        DecodeError::FieldExpiry {
            expire_at_ms: u64::MAX,
            offset: 12
        }
    );
}

#[test]
fn broken_triples_are_listpack_errors() {
    let d = DecodeLimits::default();
    for lp in [
        // Field and value without an expiry.
        listpack(&[Ent::S(b"f"), Ent::S(b"v")]),
        listpack(&[Ent::S(b"f"), Ent::S(b"v"), Ent::I(0), Ent::S(b"g")]),
        // An expiry that is not an integer.
        listpack(&[Ent::S(b"f"), Ent::S(b"v"), Ent::S(b"soon")]),
        listpack(&[Ent::S(b"f"), Ent::S(b"v"), Ent::S(b"007")]),
    ] {
        for t in [
            rdb_type::HASH_LISTPACK_EX_PRE_GA,
            rdb_type::HASH_LISTPACK_EX,
        ] {
            let mut r = Rdb::new(12);
            r.u8(t).string(b"k");
            if t == rdb_type::HASH_LISTPACK_EX {
                r.raw(&0u64.to_le_bytes());
            }
            r.string(&lp);
            assert!(
                matches!(expect_err(&r.eof(), d), DecodeError::Listpack { .. }),
                "type {t}"
            );
        }
    }
}

#[test]
fn every_truncation_of_a_field_expiry_hash_is_truncated() {
    let mut r = Rdb::new(12);
    r.u8(rdb_type::HASH_METADATA).string(b"k24");
    r.raw(&T.to_le_bytes()).len(2);
    r.len(5).string(b"f").string(b"v");
    r.len(0).string(b"g").string(b"w");
    r.u8(rdb_type::HASH_METADATA_PRE_GA).string(b"k22").len(1);
    r.len(T).string(b"f").string(b"v");
    r.u8(rdb_type::HASH_LISTPACK_EX)
        .string(b"k25")
        .raw(&T.to_le_bytes())
        .string(&triples_listpack());
    r.u8(rdb_type::HASH_LISTPACK_EX_PRE_GA)
        .string(b"k23")
        .string(&triples_listpack());
    let data = r.eof();
    assert_eq!(entries(decode_every_way(&data).unwrap()).len(), 4);
    for cut in 0..data.len() {
        assert_eq!(
            decode_all(&data[..cut], DecodeLimits::default()),
            Err(DecodeError::Truncated { offset: cut as u64 }),
            "cut at {cut}"
        );
    }
}

#[test]
fn limits_apply_to_field_expiry_hashes() {
    let limits = DecodeLimits {
        string_bytes_max: 1 << 20,
        value_bytes_max: 1 << 20,
        elements_max: 2,
    };
    let mut r = Rdb::new(12);
    r.u8(rdb_type::HASH_METADATA).string(b"k");
    r.raw(&T.to_le_bytes()).len(3);
    assert!(matches!(
        expect_err(&r.eof(), limits),
        DecodeError::LimitExceeded {
            what: "element count",
            offset: 20,
            ..
        }
    ));
    let lp = listpack(&[
        Ent::S(b"a"),
        Ent::S(b"1"),
        Ent::I(0),
        Ent::S(b"b"),
        Ent::S(b"2"),
        Ent::I(0),
        Ent::S(b"c"),
        Ent::S(b"3"),
        Ent::I(0),
    ]);
    let mut r = Rdb::new(12);
    r.u8(rdb_type::HASH_LISTPACK_EX_PRE_GA)
        .string(b"k")
        .string(&lp);
    assert!(matches!(
        expect_err(&r.eof(), limits),
        DecodeError::LimitExceeded {
            what: "element count",
            ..
        }
    ));
}

// --- The encoder ---------------------------------------------------------------------------

#[test]
fn encoder_round_trip() {
    let long = vec![b'x'; 300];
    let fields: Vec<Triple<'_>> = vec![
        (b"a", b"1", Some(T + 10)),
        (b"no-expiry", b"v", None),
        (b"12", b"-7", Some(T)),
        (b"long", &long, Some(T + 10)),
    ];
    let data = encode_one(&fields, Some(T + 99));
    assert_eq!(&data[..9], b"REDIS0013");
    let e = single(&data);
    assert_eq!(e.rdb_type, rdb_type::HASH_METADATA);
    assert_eq!(e.expire_at_ms, Some(T + 99));
    let got: Vec<(Vec<u8>, Vec<u8>, Option<u64>)> = hfe_fields(&e)
        .iter()
        .map(|f| (f.field.to_vec(), f.value.to_vec(), f.expire_at_ms))
        .collect();
    let want: Vec<(Vec<u8>, Vec<u8>, Option<u64>)> = fields
        .iter()
        .map(|(f, v, t)| (f.to_vec(), v.to_vec(), *t))
        .collect();
    assert_eq!(got, want);

    // Through write_value, and many fields.
    let value = RdbValue::HashWithFieldExpiry(
        (0..1000u64)
            .map(|i| HashFieldEntry {
                field: Bytes::from(format!("f{i}")),
                value: Bytes::from(format!("v{i}")),
                expire_at_ms: (i % 3 == 0).then_some(T - i),
            })
            .collect(),
    );
    let mut enc = encoder(12);
    enc.write_value(b"big", &value, None).unwrap();
    let data = enc.finish().concat();
    assert_eq!(&data[..9], b"REDIS0012");
    assert_eq!(single(&data).value, value);
}

#[test]
fn encoder_earliest_expiry_edge_cases() {
    // (fields, earliest expiry stored before the count).
    let cases: Vec<(Vec<Triple<'_>>, u64)> = vec![
        (vec![(b"f", b"v", None), (b"g", b"w", None)], NONE),
        (
            vec![(b"f", b"v", Some(FIELD_EXPIRE_AT_MS_MAX))],
            FIELD_EXPIRE_AT_MS_MAX,
        ),
        (
            vec![
                (b"late", b"v", Some(FIELD_EXPIRE_AT_MS_MAX)),
                (b"none", b"v", None),
                (b"early", b"v", Some(1)),
            ],
            1,
        ),
    ];
    for (fields, min) in cases {
        let data = encode_one(&fields, None);
        // Header 9, type 1, key "k" 2: the earliest expiry follows, little-endian.
        assert_eq!(data[9], rdb_type::HASH_METADATA);
        assert_eq!(data[12..20], min.to_le_bytes());
        let e = single(&data);
        let got: Vec<Option<u64>> = hfe_fields(&e).iter().map(|f| f.expire_at_ms).collect();
        let want: Vec<Option<u64>> = fields.iter().map(|f| f.2).collect();
        assert_eq!(got, want);
    }
}

#[test]
fn encoder_refusals() {
    let one = [(&b"f"[..], &b"v"[..], Some(T))];
    for version in [10, 11] {
        let mut enc = encoder(version);
        assert_eq!(
            enc.write_hash_with_field_expiry(b"k", one, None),
            Err(EncodeError::VersionTooOld {
                what: "hash with field expiry",
                needed: 12,
                version
            })
        );
        let value = RdbValue::HashWithFieldExpiry(vec![fe("f", "v", None)]);
        assert!(matches!(
            enc.write_value(b"k", &value, None),
            Err(EncodeError::VersionTooOld { .. })
        ));
        // Nothing was written.
        assert_eq!(enc.bytes_written(), 9);
    }
    let mut enc = encoder(13);
    for bad in [0, NONE, u64::MAX] {
        assert_eq!(
            enc.write_hash_with_field_expiry(b"k", [(&b"f"[..], &b"v"[..], Some(bad))], None),
            Err(EncodeError::FieldExpiry { expire_at_ms: bad })
        );
    }
    let none: [Triple<'_>; 0] = [];
    assert_eq!(
        enc.write_hash_with_field_expiry(b"k", none, None),
        Err(EncodeError::EmptyCollection { what: "hash" })
    );
    assert_eq!(enc.bytes_written(), 9);

    // An iterator that yields an earlier time on its second walk is caught, not misencoded.
    let walks = Cell::new(0u64);
    let shifty = (0..1).map(|_| {
        walks.set(walks.get() + 1);
        (&b"f"[..], &b"v"[..], Some(T - walks.get()))
    });
    assert!(matches!(
        enc.write_hash_with_field_expiry(b"k", shifty, None),
        Err(EncodeError::FieldExpiry { .. })
    ));
}

#[test]
fn encoder_versions() {
    for v in 10..=13 {
        let opts = EncoderOptions {
            rdb_version: v,
            ..EncoderOptions::default()
        };
        let enc = Encoder::try_new(opts).unwrap();
        assert_eq!(enc.rdb_version(), v);
        assert_eq!(
            enc.finish().concat()[..9],
            format!("REDIS{v:04}").into_bytes()[..]
        );
    }
    assert_eq!(Encoder::default().rdb_version(), 10);
    // 80 is Valkey 9's format, written under its own signature.
    let valkey = EncoderOptions {
        rdb_version: 80,
        ..EncoderOptions::default()
    };
    assert_eq!(
        Encoder::try_new(valkey).unwrap().finish().concat()[..9],
        b"VALKEY080"[..]
    );
    for (asked, got) in [(0, 10), (9, 10), (14, 13), (79, 13), (81, 13)] {
        let opts = EncoderOptions {
            rdb_version: asked,
            ..EncoderOptions::default()
        };
        assert_eq!(
            Encoder::try_new(opts).err(),
            Some(EncodeError::UnsupportedVersion { version: asked })
        );
        assert_eq!(Encoder::new(opts).rdb_version(), got);
    }
}

// --- Valkey 9 (VALKEY080, type 22) -------------------------------------------------------

/// The key `HSET h a 1 b 2; HPEXPIREAT h 4102444800000 FIELDS 1 a` as valkey-server 9.1.2
/// saves it (its bytes, after the key name, from a `dump.rdb` it wrote), in a file with no
/// checksum.
const VALKEY_HASH: &[u8] = b"\x16\x01h\x02\x01a\xc0\x01\x00\xd8\xc3\x2c\xbb\x03\x00\x00\x01b\xc0\x02\xff\xff\xff\xff\xff\xff\xff\xff";

fn valkey_file(body: &[u8]) -> Vec<u8> {
    let mut file = b"VALKEY080".to_vec();
    file.extend_from_slice(body);
    file.push(0xFF);
    file.extend_from_slice(&[0; 8]);
    file
}

#[test]
fn valkey_type_22_as_valkey_9_writes_it() {
    let e = single(&valkey_file(VALKEY_HASH));
    assert_eq!(e.rdb_type, rdb_type::VALKEY_HASH_2);
    assert_eq!(
        hfe_fields(&e),
        [fe("a", "1", Some(4_102_444_800_000)), fe("b", "2", None)]
    );
    // Under the REDIS signature the same byte is Redis's pre-GA layout, not Valkey's.
    let mut redis = b"REDIS0011".to_vec();
    redis.extend_from_slice(VALKEY_HASH);
    redis.push(0xFF);
    redis.extend_from_slice(&[0; 8]);
    assert!(decode_all(&redis, DecodeLimits::default()).is_err());
}

#[test]
fn valkey_type_22_refuses_times_below_minus_one() {
    let mut body = VALKEY_HASH.to_vec();
    let last = body.len() - 8;
    body[last..].copy_from_slice(&(-2i64).to_le_bytes());
    assert!(matches!(
        expect_err(&valkey_file(&body), DecodeLimits::default()),
        DecodeError::FieldExpiry { .. }
    ));
}

#[test]
fn version_80_writes_valkey_9_files() {
    let mut enc = encoder(80);
    enc.write_hash_with_field_expiry(
        b"h",
        [
            (&b"a"[..], &b"1"[..], Some(4_102_444_800_000)),
            (b"b", b"2", None),
        ],
        None,
    )
    .unwrap();
    let file = enc.finish().concat();
    assert!(file.starts_with(b"VALKEY080"));
    assert!(file.windows(VALKEY_HASH.len()).any(|w| w == VALKEY_HASH));
    let e = single(&file);
    assert_eq!(
        hfe_fields(&e),
        [fe("a", "1", Some(4_102_444_800_000)), fe("b", "2", None)]
    );
}
