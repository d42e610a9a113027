//! Writes small RDBs covering every encoding the decoder reads into the fuzz corpus:
//! `cargo test -p sluice-rdb --test fuzz_seeds -- --ignored`. Ignored by default because it
//! writes outside the crate; the normal run only checks that every seed decodes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

mod common;

use std::path::PathBuf;

use common::build::{
    Ent, Rdb, intset, listpack, lzf_literals, stream_id_raw, stream_node, ziplist, zipmap,
};
use sluice_rdb::{DecodeLimits, Encoder, EncoderOptions, decode_all, rdb_type};

fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let mut out = Vec::new();
    let one = |version: u32, t: u8, blob: &[u8]| {
        let mut r = Rdb::new(version);
        r.u8(0xFE)
            .len(0)
            .u8(0xFC)
            .raw(&1_900_000_000_000u64.to_le_bytes());
        r.u8(t).string(b"key").string(blob);
        r.eof()
    };
    out.push((
        "zipmap",
        one(
            6,
            rdb_type::HASH_ZIPMAP,
            &zipmap(&[(b"a", b"1"), (b"bb", b"22")], 1),
        ),
    ));
    let zl = ziplist(&[Ent::S(b"m"), Ent::I(1), Ent::S(b"n"), Ent::S(b"2.5")]);
    out.push(("list_ziplist", one(6, rdb_type::LIST_ZIPLIST, &zl)));
    out.push(("zset_ziplist", one(6, rdb_type::ZSET_ZIPLIST, &zl)));
    out.push(("hash_ziplist", one(6, rdb_type::HASH_ZIPLIST, &zl)));
    let lp = listpack(&[Ent::S(b"m"), Ent::I(-3), Ent::S(b"n"), Ent::I(100000)]);
    out.push(("set_listpack", one(11, rdb_type::SET_LISTPACK, &lp)));
    out.push(("hash_listpack", one(10, rdb_type::HASH_LISTPACK, &lp)));
    out.push(("zset_listpack", one(10, rdb_type::ZSET_LISTPACK, &lp)));
    out.push((
        "intset",
        one(6, rdb_type::SET_INTSET, &intset(4, &[-70000, 1, 70000])),
    ));
    let mut r = Rdb::new(8);
    r.u8(rdb_type::LIST_QUICKLIST)
        .string(b"q")
        .len(2)
        .string(&zl)
        .string(&ziplist(&[Ent::I(5)]));
    out.push(("quicklist1", r.eof()));
    let mut r = Rdb::new(10);
    r.u8(rdb_type::LIST_QUICKLIST_2)
        .string(b"q")
        .len(2)
        .len(1)
        .string(b"plain");
    let c = lzf_literals(&lp);
    r.len(2)
        .u8(0xC3)
        .len(c.len() as u64)
        .len(lp.len() as u64)
        .raw(&c);
    out.push(("quicklist2_lzf", r.eof()));
    let mut r = Rdb::new(3);
    r.u8(0xFD).raw(&2_000_000_000u32.to_le_bytes());
    r.u8(rdb_type::ZSET)
        .string(b"z")
        .len(2)
        .string(b"a")
        .u8(3)
        .raw(b"1.5")
        .string(b"b")
        .u8(254);
    r.u8(rdb_type::LIST)
        .string(b"l")
        .len(1)
        .u8(0xC1)
        .raw(&300i16.to_le_bytes());
    out.push(("v3_no_crc", r.eof_no_crc()));
    for (name, t) in [
        ("stream1", rdb_type::STREAM_LISTPACKS),
        ("stream2", rdb_type::STREAM_LISTPACKS_2),
        ("stream3", rdb_type::STREAM_LISTPACKS_3),
    ] {
        let node = stream_node(
            (5, 0),
            &[
                (5, 0, vec![(b"f", b"v")], false),
                (5, 1, vec![(b"f", b"w")], true),
                (6, 0, vec![(b"g", b"x")], false),
            ],
        );
        let mut r = Rdb::new(11);
        r.u8(t)
            .string(b"s")
            .len(1)
            .string(&stream_id_raw(5, 0))
            .string(&node)
            .len(2)
            .len(6)
            .len(0);
        if t >= rdb_type::STREAM_LISTPACKS_2 {
            r.len(5).len(0).len(5).len(1).len(3);
        }
        r.len(1).string(b"g").len(6).len(0);
        if t >= rdb_type::STREAM_LISTPACKS_2 {
            r.len(2);
        }
        r.len(1)
            .raw(&stream_id_raw(6, 0))
            .raw(&7u64.to_le_bytes())
            .len(1);
        r.len(1).string(b"c").raw(&8u64.to_le_bytes());
        if t >= rdb_type::STREAM_LISTPACKS_3 {
            r.raw(&9u64.to_le_bytes());
        }
        r.len(1).raw(&stream_id_raw(6, 0));
        out.push((name, r.eof()));
    }
    // Hashes with field expiry, and a Valkey header.
    let triples = listpack(&[
        Ent::S(b"f"),
        Ent::S(b"v"),
        Ent::I(1_900_000_000_000),
        Ent::I(7),
        Ent::I(8),
        Ent::I(0),
    ]);
    out.push((
        "hash_listpack_ex_pre_ga",
        one(12, rdb_type::HASH_LISTPACK_EX_PRE_GA, &triples),
    ));
    let mut r = Rdb::new(12);
    r.u8(rdb_type::HASH_LISTPACK_EX)
        .string(b"h")
        .raw(&1_900_000_000_000u64.to_le_bytes())
        .string(&triples);
    r.u8(rdb_type::HASH_METADATA_PRE_GA)
        .string(b"h22")
        .len(2)
        .len(1_900_000_000_000)
        .string(b"f")
        .string(b"v")
        .len(0)
        .u8(0xC0)
        .u8(1)
        .string(b"w");
    r.u8(rdb_type::HASH_METADATA)
        .string(b"h24")
        .raw(&1_900_000_000_000u64.to_le_bytes())
        .len(2)
        .len(1)
        .string(b"f")
        .string(b"v")
        .len(0)
        .string(b"g")
        .string(b"w");
    out.push(("hash_field_expiry_v12", r.eof()));
    let node = stream_node((5, 0), &[(5, 0, vec![(b"f", b"v")], false)]);
    let mut r = Rdb::new(13);
    r.u8(rdb_type::STREAM_LISTPACKS_4)
        .string(b"s")
        .len(1)
        .string(&stream_id_raw(5, 0))
        .string(&node);
    r.len(1)
        .len(5)
        .len(0)
        .len(5)
        .len(0)
        .len(0)
        .len(0)
        .len(1)
        .len(0);
    // IDMP: duration, size cap, one producer with one IID, the two counters.
    r.len(100)
        .len(100)
        .len(1)
        .string(b"p")
        .len(1)
        .string(b"iid")
        .len(5)
        .len(0);
    r.len(1).len(0);
    out.push(("stream4_idmp", r.eof()));
    let mut r = Rdb::with_header(b"VALKEY080");
    r.u8(0xFE).len(0).u8(0).string(b"k").string(b"v");
    out.push(("valkey080", r.eof()));

    let mut r = Rdb::new(12);
    r.u8(0xF4)
        .len(1)
        .len(2)
        .len(0)
        .u8(0xF8)
        .len(10)
        .u8(0xF9)
        .u8(5)
        .u8(0)
        .string(b"k")
        .string(b"v");
    r.u8(0xF5).string(b"#!lua name=l\n");
    out.push(("opcodes_v12", r.eof()));

    let mut enc = Encoder::new(EncoderOptions {
        chunk_size_bytes: 1 << 16,
        compress_lzf: true,
        rdb_version: 13,
    });
    enc.write_aux(b"redis-ver", b"7.0.0");
    enc.select_db(1);
    enc.resize_db(5, 1);
    enc.write_string(b"s", &b"ab".repeat(30), Some(1));
    enc.write_list(b"l", [&b"1"[..], b"x"], None).unwrap();
    enc.write_set(b"si", [&b"1"[..], b"-2"], None).unwrap();
    enc.write_hash(b"h", [(&b"f"[..], &b"v"[..])], None)
        .unwrap();
    enc.write_zset(b"z", [(&b"m"[..], 0.5)], None).unwrap();
    enc.write_hash_with_field_expiry(b"hfe", [(&b"f"[..], &b"v"[..], Some(1))], None)
        .unwrap();
    out.push(("encoder_small", enc.finish().concat()));
    out
}

#[test]
fn every_seed_decodes() {
    for (name, data) in seeds() {
        decode_all(&data, DecodeLimits::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
#[ignore = "writes into fuzz/corpus/rdb_decoder"]
fn write_fuzz_seeds() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/rdb_decoder");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, data) in seeds() {
        std::fs::write(dir.join(format!("seed_{name}")), data).unwrap();
    }
    for name in common::FIXTURES {
        std::fs::write(dir.join(name), common::read_fixture(name)).unwrap();
    }
}
