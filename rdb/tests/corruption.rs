//! Damaged input: every truncation point, byte flips, and each typed error with its offset.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

mod common;

use common::build::{Ent, Rdb, intset, listpack, ziplist};
use common::{decode_chunked, read_fixture};
use sluice_rdb::{
    DecodeError, DecodeLimits, Decoder, Encoder, EncoderOptions, decode_all, rdb_type,
};

/// A small RDB holding every type the encoder writes: at version 13 with a hash with field
/// expiry, at version 10 without.
fn small_encoded(rdb_version: u32) -> Vec<u8> {
    let mut enc = Encoder::new(EncoderOptions {
        chunk_size_bytes: 64,
        compress_lzf: true,
        rdb_version,
    });
    enc.write_aux(b"repl-offset", b"12345");
    enc.select_db(0);
    enc.resize_db(6, 1);
    enc.write_string(b"s", b"value", Some(1_900_000_000_000));
    enc.write_string(b"i", b"-1234", None);
    enc.write_string(b"lzf", &b"abc".repeat(20), None);
    enc.write_list(b"l", [&b"a"[..], b"12", &[b'x'; 40]], None)
        .unwrap();
    enc.write_set(b"si", [&b"1"[..], b"2"], None).unwrap();
    enc.write_set(b"ss", [&b"x"[..], b"y"], None).unwrap();
    enc.write_hash(b"h", [(&b"f"[..], &b"v"[..])], None)
        .unwrap();
    enc.write_zset(b"z", [(&b"m"[..], 1.5)], None).unwrap();
    enc.write_zset(b"z2", [(&[b'm'; 70][..], 2.0)], None)
        .unwrap();
    if rdb_version >= 12 {
        enc.write_hash_with_field_expiry(
            b"hfe",
            [
                (&b"f"[..], &b"v"[..], Some(1_900_000_000_000)),
                (b"g", b"12", None),
                (b"h", b"w", Some(1_900_000_000_500)),
            ],
            None,
        )
        .unwrap();
    }
    enc.finish().concat()
}

#[test]
fn every_truncation_is_reported_as_truncated() {
    for data in [
        small_encoded(10),
        small_encoded(13),
        read_fixture("redis7_nocompress_nocrc_lfu"),
        read_fixture("redis8_field_expiry"),
    ] {
        assert!(decode_all(&data, DecodeLimits::default()).is_ok());
        for cut in 0..data.len() {
            let err = decode_all(&data[..cut], DecodeLimits::default())
                .expect_err("truncated input must fail");
            assert_eq!(
                err,
                DecodeError::Truncated { offset: cut as u64 },
                "cut at {cut}"
            );
        }
    }
}

#[test]
fn byte_flips_never_panic_and_crc_catches_them() {
    let data = small_encoded(10);
    for at in 0..data.len() {
        for mask in [0xFFu8, 0x01, 0x80, 0x40] {
            let mut bad = data.clone();
            bad[at] ^= mask;
            // With a verified CRC, any change must be an error of some kind.
            let res = decode_all(&bad, DecodeLimits::default());
            assert!(res.is_err(), "flip {mask:#x} at {at} went unnoticed");
            let chunked = decode_chunked(&bad, &[3, 1], DecodeLimits::default());
            assert_eq!(
                res, chunked,
                "flip {mask:#x} at {at}: chunking changed the outcome"
            );
        }
    }
    // Past the header, the CRC catches every flip at version 13 too. (In the header, one bit
    // turns `REDIS0013` into `REDIS0003`, a valid version that has no CRC.)
    let data = small_encoded(13);
    for at in 9..data.len() {
        for mask in [0xFFu8, 0x01, 0x80, 0x40] {
            let mut bad = data.clone();
            bad[at] ^= mask;
            assert!(
                decode_all(&bad, DecodeLimits::default()).is_err(),
                "v13: flip {mask:#x} at {at} went unnoticed"
            );
        }
    }
    // Without a CRC, flips may decode to something else, but must never panic.
    let data = read_fixture("redis7_nocompress_nocrc_lfu");
    for at in 0..data.len() {
        for mask in [0xFFu8, 0x01, 0x80, 0x3F] {
            let mut bad = data.clone();
            bad[at] ^= mask;
            let _ = decode_all(&bad, DecodeLimits::default());
        }
    }
}

#[test]
fn larger_fixture_flips_never_panic() {
    let data = read_fixture("redis7_encodings");
    // Every 397th byte keeps this quick in debug builds while touching every value type.
    for at in (9..data.len()).step_by(397) {
        let mut bad = data.clone();
        bad[at] ^= 0x5A;
        assert!(
            decode_all(&bad, DecodeLimits::default()).is_err(),
            "flip at {at} went unnoticed"
        );
    }
}

#[test]
fn header_errors() {
    assert_eq!(
        decode_all(b"RADIS0010", DecodeLimits::default()),
        Err(DecodeError::BadMagic { offset: 0 })
    );
    assert_eq!(
        decode_all(b"REDIS00x0", DecodeLimits::default()),
        Err(DecodeError::BadMagic { offset: 5 })
    );
    assert_eq!(
        decode_all(b"REDIS0014", DecodeLimits::default()),
        Err(DecodeError::UnsupportedVersion {
            version: 14,
            offset: 5
        })
    );
    assert_eq!(
        decode_all(b"REDIS0000", DecodeLimits::default()),
        Err(DecodeError::UnsupportedVersion {
            version: 0,
            offset: 5
        })
    );
}

#[test]
fn crc_mismatch_has_its_own_error() {
    let mut data = small_encoded(10);
    let n = data.len();
    data[n - 1] ^= 1;
    match decode_all(&data, DecodeLimits::default()) {
        Err(DecodeError::CrcMismatch {
            offset,
            stored,
            computed,
        }) => {
            assert_eq!(offset, n as u64 - 8);
            assert_ne!(stored, computed);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unknown_opcodes_and_types() {
    for t in [8u8, 28, 100, 0xF0, 0xF3] {
        let mut r = Rdb::new(10);
        r.u8(0xFE).len(0).u8(t);
        assert_eq!(
            decode_all(&r.eof(), DecodeLimits::default()),
            Err(DecodeError::UnknownOpcode {
                byte: t,
                offset: 11
            })
        );
    }
}

#[test]
fn bad_length_encoding() {
    let mut r = Rdb::new(10);
    r.u8(0).u8(0x82);
    assert_eq!(
        decode_all(&r.eof(), DecodeLimits::default()),
        Err(DecodeError::BadLength {
            byte: 0x82,
            offset: 10
        })
    );
    // A special string encoding where a count is expected.
    let mut r = Rdb::new(10);
    r.u8(rdb_type::LIST).string(b"k").u8(0xC0);
    assert_eq!(
        decode_all(&r.eof(), DecodeLimits::default()),
        Err(DecodeError::BadLength {
            byte: 0xC0,
            offset: 12
        })
    );
}

#[test]
fn limits_are_enforced_before_waiting_or_allocating() {
    let limits = DecodeLimits {
        string_bytes_max: 1000,
        value_bytes_max: 5000,
        elements_max: 10,
    };
    // A string declared larger than the cap fails at once, without its bytes.
    let mut r = Rdb::new(10);
    r.u8(0).string(b"k").len(1 << 40);
    let mut dec = Decoder::new(limits);
    dec.push(&r.buf);
    match dec.next_item() {
        Err(DecodeError::LimitExceeded {
            what,
            len,
            max,
            offset,
        }) => {
            assert_eq!(
                (what, len, max, offset),
                ("string length", 1 << 40, 1000, 12)
            );
        }
        other => panic!("{other:?}"),
    }
    // Errors are sticky.
    assert!(dec.next_item().is_err());
    assert!(dec.finish().is_err());

    let mut r = Rdb::new(10);
    r.u8(rdb_type::LIST).string(b"k").len(11);
    assert!(matches!(
        decode_all(&r.eof(), limits),
        Err(DecodeError::LimitExceeded {
            what: "element count",
            ..
        })
    ));
    // Element count of a packed value.
    let ents: Vec<Ent<'_>> = (0..11).map(Ent::I).collect();
    let mut r = Rdb::new(10);
    r.u8(rdb_type::SET_LISTPACK)
        .string(b"k")
        .string(&listpack(&ents));
    assert!(matches!(
        decode_all(&r.eof(), limits),
        Err(DecodeError::LimitExceeded {
            what: "element count",
            ..
        })
    ));
    // Total payload of a value.
    let mut r = Rdb::new(10);
    r.u8(rdb_type::LIST).string(b"k").len(6);
    for _ in 0..6 {
        r.string(&[b'x'; 999]);
    }
    assert!(matches!(
        decode_all(&r.eof(), limits),
        Err(DecodeError::LimitExceeded {
            what: "value size",
            ..
        })
    ));
    // LZF: declared length beyond the cap, and beyond what the compressed bytes can produce.
    let mut r = Rdb::new(10);
    r.u8(0)
        .string(b"k")
        .u8(0xC3)
        .len(3)
        .len(1001)
        .raw(&[1, b'a', b'b']);
    assert!(matches!(
        decode_all(&r.eof(), limits),
        Err(DecodeError::LimitExceeded { .. })
    ));
    let mut r = Rdb::new(10);
    r.u8(0)
        .string(b"k")
        .u8(0xC3)
        .len(3)
        .len(900)
        .raw(&[1, b'a', b'b']);
    assert!(matches!(
        decode_all(&r.eof(), limits),
        Err(DecodeError::Lzf { offset: 13, .. })
    ));
}

#[test]
fn lzf_errors_point_into_the_compressed_data() {
    let mut r = Rdb::new(10);
    // Back reference before the start of the output, at the first compressed byte (offset 15).
    r.u8(0)
        .string(b"k")
        .u8(0xC3)
        .len(2)
        .len(10)
        .raw(&[0x20, 0x00]);
    assert!(matches!(
        decode_all(&r.eof(), DecodeLimits::default()),
        Err(DecodeError::Lzf { offset: 15, .. })
    ));
}

#[test]
fn packed_encoding_errors() {
    let one = |t: u8, blob: &[u8]| {
        let mut r = Rdb::new(10);
        r.u8(t).string(b"k").string(blob);
        decode_all(&r.eof(), DecodeLimits::default())
    };
    // Blob data starts at offset 13: header 9, type 1, key 2, blob length 1.
    let mut zl = ziplist(&[Ent::S(b"a"), Ent::S(b"b")]);
    zl[0] ^= 1; // zlbytes
    assert!(matches!(
        one(rdb_type::LIST_ZIPLIST, &zl),
        Err(DecodeError::Ziplist { offset: 13, .. })
    ));
    let mut zl = ziplist(&[Ent::S(b"a"), Ent::S(b"b")]);
    zl[13] = 9; // prevlen of the second entry
    assert!(matches!(
        one(rdb_type::LIST_ZIPLIST, &zl),
        Err(DecodeError::Ziplist { offset: 26, .. })
    ));

    let mut lp = listpack(&[Ent::S(b"a"), Ent::S(b"b")]);
    lp[8] = 5; // backlen of the first entry
    assert!(matches!(
        one(rdb_type::SET_LISTPACK, &lp),
        Err(DecodeError::Listpack { offset: 21, .. })
    ));
    let mut lp = listpack(&[Ent::S(b"a")]);
    lp[6] = 0xF5; // reserved encoding
    assert!(matches!(
        one(rdb_type::SET_LISTPACK, &lp),
        Err(DecodeError::Listpack { offset: 19, .. })
    ));
    let lp = listpack(&[Ent::S(b"field-without-value")]);
    assert!(matches!(
        one(rdb_type::HASH_LISTPACK, &lp),
        Err(DecodeError::Listpack { .. })
    ));
    let lp = listpack(&[Ent::S(b"m"), Ent::S(b"not-a-number")]);
    assert!(matches!(
        one(rdb_type::ZSET_LISTPACK, &lp),
        Err(DecodeError::BadScore { .. })
    ));

    let is = intset(2, &[3, 1]);
    assert!(matches!(
        one(rdb_type::SET_INTSET, &is),
        Err(DecodeError::Intset { offset: 23, .. })
    ));
    let is = intset(3, &[1]);
    assert!(matches!(
        one(rdb_type::SET_INTSET, &is),
        Err(DecodeError::Intset { offset: 13, .. })
    ));
    assert!(matches!(
        one(rdb_type::HASH_ZIPMAP, &[1, 3, b'a']),
        Err(DecodeError::Zipmap { .. })
    ));

    let mut r = Rdb::new(10);
    r.u8(rdb_type::LIST_QUICKLIST_2)
        .string(b"k")
        .len(1)
        .len(3)
        .string(b"x");
    assert!(matches!(
        decode_all(&r.eof(), DecodeLimits::default()),
        Err(DecodeError::Quicklist { offset: 13, .. })
    ));
    let mut r = Rdb::new(10);
    r.u8(rdb_type::ZSET_2)
        .string(b"k")
        .len(1)
        .string(b"m")
        .raw(&f64::NAN.to_le_bytes());
    assert!(matches!(
        decode_all(&r.eof(), DecodeLimits::default()),
        Err(DecodeError::BadScore { offset: 15 })
    ));
}

#[test]
fn remainder_after_eof_is_returned() {
    let mut data = small_encoded(10);
    data.extend_from_slice(b"0123456789abcdef0123456789abcdef01234567*1\r\n$4\r\nPING\r\n");
    let mut dec = Decoder::default();
    for chunk in data.chunks(5) {
        dec.push(chunk);
        while dec.next_item().unwrap().is_some() {}
    }
    assert!(dec.is_done());
    dec.finish().unwrap();
    assert_eq!(
        &dec.take_remainder()[..],
        &b"0123456789abcdef0123456789abcdef01234567*1\r\n$4\r\nPING\r\n"[..]
    );
}
