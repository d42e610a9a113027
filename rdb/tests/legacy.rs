//! Encodings Redis 7.0 does not write (older and newer formats), built byte by byte by the
//! test-only writers in common/build.rs, and the typed rejections. Hashes with field expiry are
//! in hash_field_expiry.rs, the IDMP part of type 26 streams in stream_idmp.rs.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

mod common;

use bytes::Bytes;
use common::build::{
    Ent, Rdb, intset, listpack, lzf_literals, stream_id_raw, stream_node, ziplist, zipmap,
};
use common::decode_every_way;
use sluice_rdb::{
    CrcStatus, DecodeError, DecodeLimits, Item, KeyEntry, RdbValue, StreamId, decode_all, rdb_type,
};

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn entries(items: &[Item]) -> Vec<&KeyEntry> {
    items
        .iter()
        .filter_map(|i| match i {
            Item::Entry(e) => Some(e),
            _ => None,
        })
        .collect()
}

fn single(data: &[u8]) -> KeyEntry {
    let items = decode_every_way(data).unwrap_or_else(|e| panic!("{e}"));
    let es = entries(&items);
    assert_eq!(es.len(), 1);
    es[0].clone()
}

fn one_value(version: u32, t: u8, blob: &[u8]) -> Vec<u8> {
    let mut r = Rdb::new(version);
    r.u8(t).string(b"k").string(blob);
    r.eof()
}

#[test]
fn zipmap_hash() {
    let zm = zipmap(
        &[
            (b"name", b"sluice"),
            (b"n", b"42"),
            (&[b'k'; 300], &[b'v'; 260]),
        ],
        0,
    );
    let e = single(&one_value(6, rdb_type::HASH_ZIPMAP, &zm));
    assert_eq!(
        e.value,
        RdbValue::Hash(vec![
            (b("name"), b("sluice")),
            (b("n"), b("42")),
            (Bytes::from(vec![b'k'; 300]), Bytes::from(vec![b'v'; 260])),
        ])
    );
    // Free bytes after a value are skipped.
    let zm = zipmap(&[(b"a", b"1"), (b"b", b"2")], 3);
    let e = single(&one_value(6, rdb_type::HASH_ZIPMAP, &zm));
    assert_eq!(
        e.value,
        RdbValue::Hash(vec![(b("a"), b("1")), (b("b"), b("2"))])
    );
}

#[test]
fn ziplist_types() {
    let big = vec![b'x'; 300];
    let huge = vec![b'y'; 20000];
    let ints = [
        0i64,
        12,
        13,
        -1,
        127,
        -128,
        200,
        -32768,
        32767,
        40000,
        -8388608,
        8388607,
        1 << 30,
        -(1 << 31),
        i64::MAX,
        i64::MIN,
    ];
    let mut ents: Vec<Ent<'_>> = ints.iter().map(|&v| Ent::I(v)).collect();
    ents.push(Ent::S(b"str"));
    ents.push(Ent::S(&big));
    ents.push(Ent::S(&huge));
    ents.push(Ent::S(b""));
    let zl = ziplist(&ents);
    let e = single(&one_value(6, rdb_type::LIST_ZIPLIST, &zl));
    let mut want: Vec<Bytes> = ints.iter().map(|v| b(&v.to_string())).collect();
    want.extend([
        b("str"),
        Bytes::from(big.clone()),
        Bytes::from(huge.clone()),
        b(""),
    ]);
    assert_eq!(e.value, RdbValue::List(want.clone()));

    // Old quicklist (type 14): a list of ziplist nodes.
    let mut r = Rdb::new(8);
    r.u8(rdb_type::LIST_QUICKLIST).string(b"q").len(2);
    r.string(&zl).string(&ziplist(&[Ent::S(b"last")]));
    let e = single(&r.eof());
    want.push(b("last"));
    assert_eq!(e.value, RdbValue::List(want));

    let zl = ziplist(&[
        Ent::S(b"m1"),
        Ent::S(b"1.5"),
        Ent::S(b"m2"),
        Ent::I(3),
        Ent::S(b"m3"),
        Ent::S(b"-inf"),
    ]);
    let e = single(&one_value(6, rdb_type::ZSET_ZIPLIST, &zl));
    assert_eq!(
        e.value,
        RdbValue::SortedSet(vec![
            (b("m1"), 1.5),
            (b("m2"), 3.0),
            (b("m3"), f64::NEG_INFINITY)
        ])
    );

    let zl = ziplist(&[Ent::S(b"f"), Ent::S(b"v"), Ent::I(7), Ent::I(-7)]);
    let e = single(&one_value(6, rdb_type::HASH_ZIPLIST, &zl));
    assert_eq!(
        e.value,
        RdbValue::Hash(vec![(b("f"), b("v")), (b("7"), b("-7"))])
    );
}

#[test]
fn listpack_types_including_set_listpack() {
    let long = vec![b'z'; 5000];
    let ents = [
        Ent::S(b"a"),
        Ent::I(-4096),
        Ent::I(4095),
        Ent::I(100000),
        Ent::I(i64::MIN),
        Ent::S(&long),
    ];
    let lp = listpack(&ents);
    let e = single(&one_value(11, rdb_type::SET_LISTPACK, &lp));
    assert_eq!(
        e.value,
        RdbValue::Set(vec![
            b("a"),
            b("-4096"),
            b("4095"),
            b("100000"),
            b(&i64::MIN.to_string()),
            Bytes::from(long)
        ])
    );
    let lp = listpack(&[Ent::S(b"f"), Ent::S(b"v")]);
    assert_eq!(
        single(&one_value(10, rdb_type::HASH_LISTPACK, &lp)).value,
        RdbValue::Hash(vec![(b("f"), b("v"))])
    );
    let lp = listpack(&[Ent::S(b"m"), Ent::S(b"0.25")]);
    assert_eq!(
        single(&one_value(10, rdb_type::ZSET_LISTPACK, &lp)).value,
        RdbValue::SortedSet(vec![(b("m"), 0.25)])
    );
}

#[test]
fn quicklist2_plain_and_packed_nodes() {
    let mut r = Rdb::new(10);
    r.u8(rdb_type::LIST_QUICKLIST_2).string(b"l").len(3);
    r.len(2).string(&listpack(&[Ent::S(b"a"), Ent::I(1)]));
    r.len(1).string(b"plain element");
    // A compressed node: blobs may be LZF strings.
    let lp = listpack(&[Ent::S(b"compressed-node-element-1234567890")]);
    let c = lzf_literals(&lp);
    r.len(2)
        .u8(0xC3)
        .len(c.len() as u64)
        .len(lp.len() as u64)
        .raw(&c);
    let e = single(&r.eof());
    assert_eq!(
        e.value,
        RdbValue::List(vec![
            b("a"),
            b("1"),
            b("plain element"),
            b("compressed-node-element-1234567890")
        ])
    );
}

#[test]
fn intsets_of_every_width() {
    for (width, values) in [
        (2u32, vec![-5i64, 0, 300]),
        (4, vec![-100000, 7]),
        (8, vec![i64::MIN, 0, i64::MAX]),
    ] {
        let e = single(&one_value(6, rdb_type::SET_INTSET, &intset(width, &values)));
        let want: Vec<Bytes> = values.iter().map(|v| b(&v.to_string())).collect();
        assert_eq!(e.value, RdbValue::Set(want));
    }
}

#[test]
fn plain_types_old_doubles_and_opcodes() {
    let mut r = Rdb::new(9);
    r.u8(0xFA).string(b"redis-ver").string(b"5.0.0");
    r.u8(0xFA)
        .string(b"ctime")
        .u8(0xC2)
        .raw(&1_700_000_000i32.to_le_bytes());
    r.u8(0xFE).len(3).u8(0xFB).len(4).len(1);
    r.u8(0xF4).len(100).len(4).len(1); // SLOT_INFO
    r.u8(0xFD).raw(&1_900_000_000i32.to_le_bytes()); // EXPIRETIME (seconds)
    r.u8(0xF8).len(55); // IDLE
    r.u8(rdb_type::LIST)
        .string(b"list")
        .len(2)
        .string(b"x")
        .u8(0xC0)
        .u8(0xF6);
    r.u8(0xF9).u8(9); // FREQ
    r.u8(rdb_type::SET).string(b"set").len(1).string(b"m");
    r.u8(rdb_type::ZSET).string(b"z").len(4);
    r.string(b"a")
        .u8(3)
        .raw(b"1.5")
        .string(b"b")
        .u8(254)
        .string(b"c")
        .u8(255);
    r.string(b"d").u8(19).raw(b"0.10000000000000001");
    r.u8(rdb_type::ZSET_2)
        .string(b"z2")
        .len(1)
        .string(b"a")
        .raw(&(-2.5f64).to_le_bytes());
    r.u8(rdb_type::HASH)
        .string(b"h")
        .len(1)
        .string(b"f")
        .string(b"v");
    r.u8(0xF5).string(b"#!lua name=x\n");
    let items = decode_every_way(&r.eof()).unwrap();
    assert!(items.contains(&Item::Aux {
        key: b("ctime"),
        value: b("1700000000")
    }));
    assert!(items.contains(&Item::SelectDb(3)));
    assert!(items.contains(&Item::ResizeDb {
        db_size: 4,
        expires_size: 1
    }));
    assert!(items.contains(&Item::SlotInfo {
        slot: 100,
        slot_size: 4,
        expires_slot_size: 1
    }));
    assert!(items.contains(&Item::Function(b("#!lua name=x\n"))));
    assert!(matches!(
        items.last(),
        Some(Item::End(CrcStatus::Verified(_)))
    ));
    let es = entries(&items);
    assert_eq!(es[0].db, 3);
    assert_eq!(es[0].expire_at_ms, Some(1_900_000_000_000));
    assert_eq!(es[0].lru_idle_secs, Some(55));
    assert_eq!(es[0].value, RdbValue::List(vec![b("x"), b("-10")]));
    assert_eq!(
        (es[1].expire_at_ms, es[1].lru_idle_secs, es[1].lfu_freq),
        (None, None, Some(9))
    );
    assert_eq!(
        es[2].value,
        RdbValue::SortedSet(vec![
            (b("a"), 1.5),
            (b("b"), f64::INFINITY),
            (b("c"), f64::NEG_INFINITY),
            (b("d"), 0.1)
        ])
    );
    assert_eq!(es[3].value, RdbValue::SortedSet(vec![(b("a"), -2.5)]));
    assert_eq!(es[4].value, RdbValue::Hash(vec![(b("f"), b("v"))]));
}

#[test]
fn versions_below_5_have_no_crc() {
    for version in 1..=4 {
        let mut r = Rdb::new(version);
        r.u8(0xFE).len(0).u8(0).string(b"k").string(b"v");
        let data = r.eof_no_crc();
        let items = decode_every_way(&data).unwrap();
        assert_eq!(items.last(), Some(&Item::End(CrcStatus::Absent)));
    }
}

#[test]
fn streams_of_every_format() {
    let e1: Vec<(&[u8], &[u8])> = vec![(b"f", b"1"), (b"g", b"x")];
    let e2: Vec<(&[u8], &[u8])> = vec![(b"f", b"2"), (b"g", b"y")];
    let e3: Vec<(&[u8], &[u8])> = vec![(b"other", b"3")];
    let node = stream_node(
        (1000, 0),
        &[
            (1000, 0, e1.clone(), false),
            (1000, 1, e2.clone(), true),
            (1001, 0, e3.clone(), false),
        ],
    );
    let node2 = stream_node((2000, 5), &[(2000, 5, e2.clone(), false)]);
    for t in [
        rdb_type::STREAM_LISTPACKS,
        rdb_type::STREAM_LISTPACKS_2,
        rdb_type::STREAM_LISTPACKS_3,
        rdb_type::STREAM_LISTPACKS_4,
    ] {
        let mut r = Rdb::new(11);
        r.u8(t).string(b"s").len(2);
        r.string(&stream_id_raw(1000, 0)).string(&node);
        r.string(&stream_id_raw(2000, 5)).string(&node2);
        r.len(3).len(2000).len(5); // length, last id
        if t >= rdb_type::STREAM_LISTPACKS_2 {
            r.len(1000).len(0).len(1000).len(1).len(4); // first id, max deleted id, entries added
        }
        r.len(1); // groups
        r.string(b"grp").len(1001).len(0);
        if t >= rdb_type::STREAM_LISTPACKS_2 {
            r.len(2);
        }
        r.len(2); // group PEL
        r.raw(&stream_id_raw(1000, 0))
            .raw(&123u64.to_le_bytes())
            .len(1);
        r.raw(&stream_id_raw(1001, 0))
            .raw(&456u64.to_le_bytes())
            .len(3);
        r.len(1); // consumers
        r.string(b"alice").raw(&789u64.to_le_bytes());
        if t >= rdb_type::STREAM_LISTPACKS_3 {
            r.raw(&790u64.to_le_bytes());
        }
        r.len(2)
            .raw(&stream_id_raw(1000, 0))
            .raw(&stream_id_raw(1001, 0));
        if t >= rdb_type::STREAM_LISTPACKS_4 {
            // An empty IDMP section, as Redis 8.6 writes it for a stream that never saw IDMP:
            // duration, size cap, no producers, two zero counters.
            r.len(100).len(100).len(0).len(0).len(0);
        }
        let e = single(&r.eof());
        let RdbValue::Stream(s) = e.value else {
            panic!("not a stream")
        };
        let ids: Vec<StreamId> = s.entries.iter().map(|e| e.id).collect();
        assert_eq!(
            ids,
            vec![
                StreamId { ms: 1000, seq: 0 },
                StreamId { ms: 1001, seq: 0 },
                StreamId { ms: 2000, seq: 5 }
            ]
        );
        assert_eq!(s.entries[1].fields, vec![(b("other"), b("3"))]);
        assert_eq!(
            s.entries[2].fields,
            vec![(b("f"), b("2")), (b("g"), b("y"))]
        );
        assert_eq!(s.length, 3);
        assert_eq!(s.last_id, StreamId { ms: 2000, seq: 5 });
        assert_eq!(s.first_id, StreamId { ms: 1000, seq: 0 });
        let g = &s.groups[0];
        assert_eq!(g.name, b("grp"));
        assert_eq!(g.pending.len(), 2);
        assert_eq!(g.pending[1].delivery_count, 3);
        assert_eq!(g.consumers[0].name, b("alice"));
        assert_eq!(g.consumers[0].seen_time_ms, 789);
        assert_eq!(g.consumers[0].pending.len(), 2);
        if t == rdb_type::STREAM_LISTPACKS {
            assert_eq!((g.entries_read, s.entries_added), (None, 3));
        } else {
            assert_eq!(
                (g.entries_read, s.entries_added, s.max_deleted_entry_id),
                (Some(2), 4, StreamId { ms: 1000, seq: 1 })
            );
        }
        let active = (t >= rdb_type::STREAM_LISTPACKS_3).then_some(790);
        assert_eq!(g.consumers[0].active_time_ms, active);
    }
}

fn expect_err(data: &[u8]) -> DecodeError {
    let e = decode_all(data, DecodeLimits::default()).expect_err("must fail");
    // The same error, at the same offset, whatever the chunking.
    let chunked =
        common::decode_chunked(data, &[1], DecodeLimits::default()).expect_err("must fail");
    assert_eq!(e, chunked);
    e
}

#[test]
fn modules_and_pre_release_payloads_are_rejected_by_name() {
    let mut r = Rdb::new(9);
    r.u8(6).string(b"k");
    assert!(matches!(
        expect_err(&r.eof()),
        DecodeError::UnsupportedType { rdb_type: 6, .. }
    ));

    // Module ids pack nine 6-bit characters and a 10-bit version.
    let charset = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let id = b"ReJSON-RL".iter().fold(0u64, |id, c| {
        (id << 6) | charset.iter().position(|x| x == c).unwrap() as u64
    }) << 10
        | 3;
    let mut r = Rdb::new(9);
    r.u8(7).string(b"doc").len(id);
    match expect_err(&r.eof()) {
        DecodeError::ModuleData { module, offset } => {
            assert_eq!((module.as_str(), offset), ("ReJSON-RL/3", 9))
        }
        other => panic!("{other:?}"),
    }
    let mut r = Rdb::new(9);
    r.u8(0xF7).len(id).len(2).len(2);
    assert!(matches!(
        expect_err(&r.eof()),
        DecodeError::ModuleData { .. }
    ));
    let mut r = Rdb::new(10);
    r.u8(0xF6).string(b"x");
    assert_eq!(
        expect_err(&r.eof()),
        DecodeError::FunctionPreGa { offset: 9 }
    );
}
