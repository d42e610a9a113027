//! Headers: `REDIS` with versions 1 to 13, `VALKEY080`, and the refusals; what a `VALKEY080`
//! file may hold (Valkey gives the type bytes from 22 up meanings of its own).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

mod common;

use bytes::Bytes;
use common::build::{Ent, Rdb, listpack, stream_id_raw, stream_node};
use common::{decode_chunked, decode_every_way};
use sluice_rdb::{
    CrcStatus, DecodeError, DecodeLimits, Decoder, Item, RdbSignature, RdbValue, decode_all,
    rdb_type,
};

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// A few core types after `header`.
fn sample(header: &[u8]) -> Vec<u8> {
    let mut r = Rdb::with_header(header);
    r.u8(0xFA).string(b"valkey-ver").string(b"9.0.0");
    r.u8(0xFE).len(0).u8(0xFB).len(3).len(0);
    r.u8(rdb_type::STRING).string(b"s").string(b"v");
    r.u8(rdb_type::SET_LISTPACK)
        .string(b"set")
        .string(&listpack(&[Ent::S(b"a"), Ent::I(1)]));
    let node = stream_node((5, 0), &[(5, 0, vec![(b"f", b"v")], false)]);
    r.u8(rdb_type::STREAM_LISTPACKS_3).string(b"st").len(1);
    r.string(&stream_id_raw(5, 0)).string(&node);
    r.len(1)
        .len(5)
        .len(0)
        .len(5)
        .len(0)
        .len(0)
        .len(0)
        .len(1)
        .len(0);
    r.eof()
}

fn header_of(data: &[u8]) -> (Option<RdbSignature>, Option<u32>) {
    let mut dec = Decoder::default();
    dec.push(data);
    while dec.next_item().unwrap().is_some() {}
    (dec.signature(), dec.version())
}

fn expect_err(data: &[u8]) -> DecodeError {
    let e = decode_all(data, DecodeLimits::default()).expect_err("must fail");
    let chunked = decode_chunked(data, &[1], DecodeLimits::default()).expect_err("must fail");
    assert_eq!(e, chunked);
    e
}

#[test]
fn redis_versions_1_to_13_are_read() {
    for version in 5..=13 {
        let data = sample(format!("REDIS{version:04}").as_bytes());
        let items = decode_every_way(&data).unwrap();
        assert_eq!(
            items.iter().filter(|i| matches!(i, Item::Entry(_))).count(),
            3
        );
        assert_eq!(header_of(&data), (Some(RdbSignature::Redis), Some(version)));
    }
}

#[test]
fn valkey_080_is_read_with_its_version() {
    let data = sample(b"VALKEY080");
    let items = decode_every_way(&data).unwrap();
    assert!(matches!(
        items.last(),
        Some(Item::End(CrcStatus::Verified(_)))
    ));
    assert!(items.contains(&Item::Aux {
        key: b("valkey-ver"),
        value: b("9.0.0")
    }));
    let values: Vec<&RdbValue> = items
        .iter()
        .filter_map(|i| match i {
            Item::Entry(e) => Some(&e.value),
            _ => None,
        })
        .collect();
    assert_eq!(values[0], &RdbValue::String(b("v")));
    assert_eq!(values[1], &RdbValue::Set(vec![b("a"), b("1")]));
    assert!(matches!(values[2], RdbValue::Stream(_)));
    // The number after the signature, not a Redis version.
    assert_eq!(header_of(&data), (Some(RdbSignature::Valkey), Some(80)));
    let dec = Decoder::default();
    assert_eq!((dec.signature(), dec.version()), (None, None));
}

#[test]
fn other_headers_are_refused() {
    for (header, err) in [
        (
            &b"REDIS0014"[..],
            DecodeError::UnsupportedVersion {
                version: 14,
                offset: 5,
            },
        ),
        (
            b"REDIS0000",
            DecodeError::UnsupportedVersion {
                version: 0,
                offset: 5,
            },
        ),
        (
            b"REDIS0080",
            DecodeError::UnsupportedVersion {
                version: 80,
                offset: 5,
            },
        ),
        (
            b"VALKEY081",
            DecodeError::UnsupportedVersion {
                version: 81,
                offset: 6,
            },
        ),
        (
            b"VALKEY011",
            DecodeError::UnsupportedVersion {
                version: 11,
                offset: 6,
            },
        ),
        (
            b"VALKEY013",
            DecodeError::UnsupportedVersion {
                version: 13,
                offset: 6,
            },
        ),
        (b"VALKEY0x0", DecodeError::BadMagic { offset: 6 }),
        (b"VALKEYVAL", DecodeError::BadMagic { offset: 6 }),
        (b"VALKEY 80", DecodeError::BadMagic { offset: 6 }),
        (b"valkey080", DecodeError::BadMagic { offset: 0 }),
        (b"VALKE0080", DecodeError::BadMagic { offset: 0 }),
        (b"REDIS080\0", DecodeError::BadMagic { offset: 5 }),
        (b"KEYDB0010", DecodeError::BadMagic { offset: 0 }),
    ] {
        assert_eq!(
            expect_err(&sample(header)),
            err,
            "{}",
            String::from_utf8_lossy(header)
        );
    }
    // A header cut short is a truncation, whatever signature it starts like.
    for cut in [b"VALKEY".as_slice(), b"VALKEY08", b"REDIS001"] {
        assert_eq!(
            decode_all(cut, DecodeLimits::default()),
            Err(DecodeError::Truncated {
                offset: cut.len() as u64
            })
        );
    }
}

#[test]
fn valkey_type_bytes_from_23_are_refused_by_name() {
    // 22, Valkey's hash with field expiry, is read (see hash_field_expiry.rs).
    for (t, name) in [
        (23u8, "Valkey path hash"),
        (24, "unknown Valkey type"),
        (25, "unknown Valkey type"),
        (26, "unknown Valkey type"),
        (100, "unknown Valkey type"),
        (242, "Valkey UPDATE opcode"),
        (243, "Valkey SLOT_IMPORT opcode"),
    ] {
        let mut r = Rdb::with_header(b"VALKEY080");
        r.u8(0xFE).len(0).u8(t).string(b"k").string(b"whatever");
        assert_eq!(
            expect_err(&r.eof()),
            DecodeError::UnsupportedType {
                rdb_type: t,
                name,
                offset: 11
            },
            "type {t}"
        );
    }
    // The same bytes in a Redis file: 22 to 26 are decoded (see hash_field_expiry.rs and
    // stream_idmp.rs), 27 is Redis 8.8's stream, newer than anything read.
    let mut r = Rdb::new(13);
    r.u8(27).string(b"k");
    assert_eq!(
        expect_err(&r.eof()),
        DecodeError::UnsupportedType {
            rdb_type: 27,
            name: "stream v5 (Redis 8.8)",
            offset: 9
        }
    );
}
