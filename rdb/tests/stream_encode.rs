//! Streams through the encoder: round trips through the decoder at RDB 10 (type 19) and 11 to
//! 13 (type 21), the node layout, the refusals of streams Redis could not load, and loads into
//! real servers: the Debian redis-server 7.0 (RDB 10; SLUICE_SKIP_REDIS=1 skips it), and the
//! Redis 8.x that SLUICE_REDIS8_SERVER names, if any (RDB 12 and 13).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use bytes::Bytes;
use proptest::prelude::*;
use sluice_rdb::{
    DecodeLimits, EncodeError, Encoder, EncoderOptions, Item, KeyEntry, RdbValue, StreamConsumer,
    StreamDefect, StreamEntry, StreamGroup, StreamId, StreamPending, StreamValue, decode_all,
    rdb_type,
};

use common::redis::{Conn, REDIS_SERVER, Reply, start_binary};
use common::{decode_every_way, read_fixture};

const FAR_FUTURE_MS: u64 = 4_102_444_800_123;
const T0: u64 = 1_700_000_000_000;

fn id(ms: u64, seq: u64) -> StreamId {
    StreamId { ms, seq }
}

fn b(s: impl AsRef<[u8]>) -> Bytes {
    Bytes::copy_from_slice(s.as_ref())
}

fn entry(ms: u64, seq: u64, fields: &[(&[u8], &[u8])]) -> StreamEntry {
    StreamEntry {
        id: id(ms, seq),
        fields: fields.iter().map(|(f, v)| (b(f), b(v))).collect(),
    }
}

/// A stream as XADD alone builds it: nothing deleted, every entry counted as added.
fn added(entries: Vec<StreamEntry>) -> StreamValue {
    let n = entries.len() as u64;
    StreamValue {
        first_id: entries.first().map(|e| e.id).unwrap_or_default(),
        last_id: entries.last().map(|e| e.id).unwrap_or_default(),
        length: n,
        entries_added: n,
        entries,
        ..StreamValue::default()
    }
}

fn pending(ms: u64, seq: u64, time: u64, count: u64) -> StreamPending {
    StreamPending {
        id: id(ms, seq),
        delivery_time_ms: time,
        delivery_count: count,
    }
}

fn consumer(name: &str, seen: u64, active: Option<u64>, ids: &[StreamId]) -> StreamConsumer {
    StreamConsumer {
        name: b(name),
        seen_time_ms: seen,
        active_time_ms: active,
        pending: ids.to_vec(),
    }
}

fn options(rdb_version: u32, compress_lzf: bool) -> EncoderOptions {
    EncoderOptions {
        chunk_size_bytes: 4096,
        compress_lzf,
        rdb_version,
    }
}

/// The file of one stream under key `s`.
fn encode(stream: &StreamValue, rdb_version: u32, compress_lzf: bool) -> Vec<u8> {
    let mut enc = Encoder::try_new(options(rdb_version, compress_lzf)).unwrap();
    enc.write_stream(b"s", stream, None).unwrap();
    enc.finish().concat()
}

fn entries_of(items: Vec<Item>) -> Vec<KeyEntry> {
    items
        .into_iter()
        .filter_map(|i| match i {
            Item::Entry(e) => Some(e),
            _ => None,
        })
        .collect()
}

/// What the decoder gives back for `stream` written at `rdb_version`: type 19 has no active
/// time, and type 21 stores the seen time for a consumer without one.
fn expected(stream: &StreamValue, rdb_version: u32) -> StreamValue {
    let mut want = stream.clone();
    for c in want.groups.iter_mut().flat_map(|g| g.consumers.iter_mut()) {
        c.active_time_ms = if rdb_version >= 11 {
            Some(c.active_time_ms.unwrap_or(c.seen_time_ms))
        } else {
            None
        };
    }
    want
}

/// Writes `stream` at every version, with and without LZF, and decodes it back (in one piece
/// and in chunks), checking the type byte and the value.
fn round_trip(stream: &StreamValue) {
    for rdb_version in 10..=13 {
        for lzf in [false, true] {
            let file = encode(stream, rdb_version, lzf);
            let entries = entries_of(decode_every_way(&file).unwrap());
            assert_eq!(entries.len(), 1);
            let e = &entries[0];
            let want_type = if rdb_version >= 11 {
                rdb_type::STREAM_LISTPACKS_3
            } else {
                rdb_type::STREAM_LISTPACKS_2
            };
            assert_eq!(e.rdb_type, want_type, "RDB {rdb_version}");
            let RdbValue::Stream(got) = &e.value else {
                panic!("not a stream: {:?}", e.value)
            };
            assert_eq!(
                **got,
                expected(stream, rdb_version),
                "RDB {rdb_version}, LZF {lzf}"
            );
        }
    }
}

/// Reads an RDB length at `*p`.
fn read_len(data: &[u8], p: &mut usize) -> u64 {
    let first = data[*p];
    *p += 1;
    match first >> 6 {
        0 => u64::from(first & 0x3f),
        1 => {
            let v = (u64::from(first & 0x3f) << 8) | u64::from(data[*p]);
            *p += 1;
            v
        }
        _ => {
            let n = if first == 0x80 { 4 } else { 8 };
            let mut v = 0u64;
            for &x in &data[*p..*p + n] {
                v = (v << 8) | u64::from(x);
            }
            *p += n;
            v
        }
    }
}

/// The listpack nodes of the stream a file written without LZF starts with, after a
/// one-byte key: (master ID, listpack).
fn nodes_of(file: &[u8]) -> Vec<(StreamId, Vec<u8>)> {
    let mut p = 9;
    assert!(matches!(file[p], 19 | 21), "type {}", file[p]);
    p += 1;
    let key_len = usize::try_from(read_len(file, &mut p)).unwrap();
    p += key_len;
    let n = read_len(file, &mut p);
    (0..n)
        .map(|_| {
            let k = usize::try_from(read_len(file, &mut p)).unwrap();
            assert_eq!(k, 16);
            let master = StreamId::from_be_bytes(file[p..p + 16].try_into().unwrap());
            p += 16;
            let l = usize::try_from(read_len(file, &mut p)).unwrap();
            let lp = file[p..p + l].to_vec();
            p += l;
            (master, lp)
        })
        .collect()
}

/// A node's live entry count: the first element of its listpack, a small integer.
fn node_count(lp: &[u8]) -> usize {
    assert!(lp[6] < 128, "count is not a 7-bit integer");
    usize::from(lp[6])
}

fn data_bytes(e: &StreamEntry) -> usize {
    e.fields.iter().map(|(f, v)| f.len() + v.len()).sum()
}

/// Checks where the nodes were cut against Redis's rule: a node is closed when it has 100
/// entries or when its size plus the next entry's raw field and value bytes reaches 4096.
fn check_node_cuts(stream: &StreamValue) -> Vec<usize> {
    let file = encode(stream, 10, false);
    let nodes = nodes_of(&file);
    let counts: Vec<usize> = nodes.iter().map(|(_, lp)| node_count(lp)).collect();
    assert_eq!(counts.iter().sum::<usize>(), stream.entries.len());
    let mut at = 0;
    for (i, (master, lp)) in nodes.iter().enumerate() {
        assert_eq!(*master, stream.entries[at].id, "node {i} master ID");
        let lp_bytes = u32::from_le_bytes(lp[..4].try_into().unwrap()) as usize;
        assert_eq!(lp_bytes, lp.len());
        at += counts[i];
        if let Some(next) = stream.entries.get(at) {
            assert!(
                counts[i] == 100 || lp_bytes + data_bytes(next) >= 4096,
                "node {i} closed early: {} entries, {lp_bytes} bytes, next entry {} bytes",
                counts[i],
                data_bytes(next)
            );
        }
    }
    counts
}

#[test]
fn same_and_different_fields() {
    let s = added(vec![
        entry(1, 0, &[(b"name", b"ann"), (b"age", b"31")]),
        entry(1, 1, &[(b"name", b"bob"), (b"age", b"40")]),
        // Same names, other order: not the master's fields.
        entry(2, 0, &[(b"age", b"22"), (b"name", b"cy")]),
        // A prefix of them, and more of them.
        entry(3, 0, &[(b"name", b"dee")]),
        entry(3, 7, &[(b"name", b"eve"), (b"age", b"5"), (b"x", b"y")]),
        // Repeated field names, as XADD allows.
        entry(4, 0, &[(b"name", b"f1"), (b"name", b"f2")]),
        // No field at all: XADD cannot make one, but a loader takes it.
        entry(5, 0, &[]),
        entry(6, 0, &[(b"name", b"gus"), (b"age", b"")]),
    ]);
    round_trip(&s);

    // A node whose master entry has no fields.
    let s = added(vec![entry(1, 1, &[]), entry(1, 2, &[(b"f", b"v")])]);
    round_trip(&s);
}

#[test]
fn binary_and_integer_values() {
    let all: Vec<u8> = (0..=255u8).collect();
    let long = vec![b'L'; 5000];
    let huge: Vec<u8> = (0..70_000u32)
        .map(|i| u8::try_from(i % 251).unwrap())
        .collect();
    let values: Vec<&[u8]> = vec![
        b"0",
        b"-1",
        b"127",
        b"128",
        b"-4096",
        b"4095",
        b"4096",
        b"-32768",
        b"32767",
        b"8388607",
        b"-8388608",
        b"2147483647",
        b"-2147483648",
        b"2147483648",
        b"9223372036854775807",
        b"-9223372036854775808",
        b"9223372036854775808",
        b"007",
        b"-0",
        b"+1",
        b" 1",
        b"1.5",
        b"",
        &all,
        &long,
        &huge,
    ];
    let mut entries = Vec::new();
    for (i, v) in values.iter().enumerate() {
        // Integer field names too: they are stored as listpack integers, like values.
        entries.push(entry(
            10,
            i as u64,
            &[(b"v", v), (i.to_string().as_bytes(), v)],
        ));
        entries.push(entry(11, i as u64, &[(b"v", v)]));
    }
    entries.sort_by_key(|e| e.id);
    round_trip(&added(entries));
}

#[test]
fn ids_relative_to_the_master() {
    // Sequences below the master's are stored as negative differences, and a jump to the
    // largest millisecond as one past 2^63.
    let s = added(vec![
        entry(5, 1000, &[(b"f", b"1")]),
        entry(6, 0, &[(b"f", b"2")]),
        entry(6, u64::MAX, &[(b"f", b"3")]),
        entry(1 << 62, 3, &[(b"f", b"4")]),
        entry(u64::MAX, 0, &[(b"f", b"5")]),
        entry(u64::MAX, u64::MAX, &[(b"f", b"6")]),
    ]);
    round_trip(&s);
    let s = added(vec![entry(0, 1, &[(b"f", b"first possible")])]);
    round_trip(&s);
}

#[test]
fn many_entries_span_several_nodes() {
    // 100 entries per node when they are small.
    let small = added(
        (0..250u64)
            .map(|i| {
                entry(
                    T0 + i / 3,
                    i % 3,
                    &[
                        (b"name", format!("n{i}").as_bytes()),
                        (b"n", i.to_string().as_bytes()),
                    ],
                )
            })
            .collect(),
    );
    assert_eq!(check_node_cuts(&small), vec![100, 100, 50]);
    round_trip(&small);

    // Four entries of 1007 raw bytes fit under 4096 bytes, the fifth starts a new node.
    let wide = added(
        (0..10u64)
            .map(|i| entry(1, i, &[(b"payload", &[b'p'; 1000])]))
            .collect(),
    );
    assert_eq!(check_node_cuts(&wide), vec![4, 4, 2]);
    round_trip(&wide);

    // An entry larger than a node gets one of its own; mixed shapes and sizes.
    let mut entries = Vec::new();
    for i in 0..1500usize {
        let big = vec![b'a' + u8::try_from(i % 26).unwrap(); (i * 37) % 3000];
        let ms = T0 + i as u64;
        let e = match i % 5 {
            0 => entry(ms, 0, &[(b"a", b"1"), (b"b", &big)]),
            1 => entry(ms, 0, &[(b"a", i.to_string().as_bytes())]),
            2 => entry(ms, 0, &[(b"b", &big), (b"a", b"x")]),
            3 => entry(ms, 0, &[(b"huge", &vec![b'h'; 9000])]),
            _ => entry(ms, 0, &[(b"a", b"-5"), (b"b", b"")]),
        };
        entries.push(e);
    }
    let mixed = added(entries);
    let counts = check_node_cuts(&mixed);
    assert!(counts.len() > 100, "{} nodes", counts.len());
    round_trip(&mixed);
}

/// Entries whose sizes put a node exactly at the limit. A node holding one 1000-byte value
/// is 1030 bytes: a next entry of 3066 raw bytes (field `p` and 3065 bytes) brings it to 4096
/// and goes to a new node, one of 3065 raw bytes (4095) stays.
fn edge_stream() -> StreamValue {
    let v = |n: usize| vec![b'v'; n];
    added(vec![
        entry(1, 1, &[(b"p", &v(1000))]),
        entry(1, 2, &[(b"p", &v(3065))]),
        entry(1, 3, &[(b"p", &v(1000))]),
        entry(1, 4, &[(b"p", &v(3064))]),
    ])
}

#[test]
fn nodes_cut_at_the_byte_limit() {
    // 1-2's node is then 3095 bytes, and 3095 + 1001 reaches 4096 again.
    assert_eq!(check_node_cuts(&edge_stream()), vec![1, 1, 2]);
    round_trip(&edge_stream());
}

#[test]
fn wide_entry_listpack_count_unknown() {
    // 40000 fields make over 65535 listpack elements: the header count says "unknown".
    let fields: Vec<(Vec<u8>, Vec<u8>)> = (0..40_000u32)
        .map(|i| (format!("f{i}").into_bytes(), i.to_string().into_bytes()))
        .collect();
    let refs: Vec<(&[u8], &[u8])> = fields
        .iter()
        .map(|(f, v)| (f.as_slice(), v.as_slice()))
        .collect();
    let s = added(vec![
        entry(1, 0, &refs),
        entry(1, 1, &refs),
        entry(2, 0, &refs[..3]),
    ]);
    let nodes = nodes_of(&encode(&s, 10, false));
    assert_eq!(nodes.len(), 3);
    assert_eq!(&nodes[0].1[4..6], &[0xff, 0xff]);
    round_trip(&s);
}

#[test]
fn deleted_entry_metadata() {
    let mut s = added(vec![
        entry(10, 0, &[(b"f", b"a")]),
        entry(12, 0, &[(b"f", b"b")]),
        entry(14, 3, &[(b"f", b"c")]),
    ]);
    // Entries before, between and after the live ones were deleted.
    s.first_id = id(10, 0);
    s.max_deleted_entry_id = id(20, 0);
    s.last_id = id(20, 0);
    s.entries_added = 9;
    round_trip(&s);
}

fn grouped() -> StreamValue {
    let mut s = added(
        (1..=30u64)
            .map(|i| entry(1000 + i, 0, &[(b"k", i.to_string().as_bytes())]))
            .collect(),
    );
    s.entries_added = 32;
    s.max_deleted_entry_id = id(1000, 5);
    s.groups = vec![
        StreamGroup {
            name: b("g1"),
            last_delivered_id: id(1010, 0),
            entries_read: Some(12),
            // A deleted entry (1000-5) can still be pending.
            pending: vec![
                pending(1000, 5, T0, 3),
                pending(1001, 0, T0 + 1, 1),
                pending(1002, 0, T0 + 2, 1),
                pending(1003, 0, u64::MAX, u64::MAX),
                pending(1009, 0, 0, 0),
            ],
            consumers: vec![
                consumer("alice", T0 + 10, Some(T0 + 9), &[id(1001, 0), id(1003, 0)]),
                consumer(
                    "bob",
                    T0 + 20,
                    None,
                    &[id(1009, 0), id(1000, 5), id(1002, 0)],
                ),
                consumer("carol", T0 + 30, Some(T0 + 30), &[]),
            ],
        },
        StreamGroup {
            name: b("g2"),
            last_delivered_id: id(1030, 0),
            entries_read: None,
            pending: Vec::new(),
            consumers: vec![consumer("dave", 5, None, &[])],
        },
        // Integer names are stored integer-encoded, as Redis stores them.
        StreamGroup {
            name: b("12345"),
            last_delivered_id: id(0, 0),
            entries_read: Some(0),
            pending: Vec::new(),
            consumers: Vec::new(),
        },
        StreamGroup {
            name: b(""),
            last_delivered_id: id(1020, 0),
            entries_read: Some(i64::MAX as u64),
            pending: vec![pending(1015, 0, 1, 2)],
            consumers: vec![consumer("7", 0, Some(u64::MAX), &[id(1015, 0)])],
        },
    ];
    s
}

#[test]
fn groups_pel_and_consumers() {
    round_trip(&grouped());
}

#[test]
fn entries_read_unknown_is_minus_one() {
    let s = grouped();
    let file = encode(&s, 10, false);
    // g2's counter: -1 as a 64-bit RDB length, right after its last delivered ID.
    // Name, last delivered ID (1030 = 0x406 as a 2-byte length, 0), then the counter.
    let g2 = [
        2, b'g', b'2', 0x44, 0x06, 0, 0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    ];
    assert!(
        file.windows(g2.len()).any(|w| w == g2.as_slice()),
        "no -1 counter for g2"
    );
}

#[test]
fn empty_streams() {
    // Emptied by XDEL, with a group whose pending entry was deleted.
    let s = StreamValue {
        entries: Vec::new(),
        length: 0,
        last_id: id(5, 5),
        first_id: id(0, 0),
        max_deleted_entry_id: id(5, 5),
        entries_added: 3,
        groups: vec![StreamGroup {
            name: b("g"),
            last_delivered_id: id(5, 5),
            entries_read: Some(3),
            pending: vec![pending(4, 0, T0, 1)],
            consumers: vec![consumer("c", T0, Some(T0), &[id(4, 0)])],
        }],
    };
    round_trip(&s);
    assert!(nodes_of(&encode(&s, 10, false)).is_empty());
    // Nothing at all.
    round_trip(&StreamValue::default());
}

#[test]
fn types_by_version_and_write_value() {
    let s = grouped();
    for (rdb_version, t) in [(10, 19u8), (11, 21), (12, 21), (13, 21)] {
        let mut enc = Encoder::try_new(options(rdb_version, false)).unwrap();
        enc.write_value(
            b"s",
            &RdbValue::Stream(Box::new(s.clone())),
            Some(FAR_FUTURE_MS),
        )
        .unwrap();
        let file = enc.finish().concat();
        let e = &entries_of(decode_all(&file, DecodeLimits::default()).unwrap())[0];
        assert_eq!(e.rdb_type, t);
        assert_eq!(e.expire_at_ms, Some(FAR_FUTURE_MS));
        assert_eq!(
            e.value,
            RdbValue::Stream(Box::new(expected(&s, rdb_version)))
        );
    }
}

/// The streams Redis 7.0 and 8.6 wrote in the fixtures come back the same from the encoder.
#[test]
fn fixture_streams_re_encode() {
    let mut seen = 0;
    for name in ["redis7_encodings", "redis8_field_expiry"] {
        let items = decode_all(&read_fixture(name), DecodeLimits::default()).unwrap();
        for e in entries_of(items) {
            let RdbValue::Stream(s) = &e.value else {
                continue;
            };
            seen += 1;
            round_trip(s);
        }
    }
    assert!(seen >= 5, "{seen} fixture streams");
}

/// Streams of random shapes: IDs that step by millisecond or by sequence (sequences below the
/// node's master included), fields from a small set so that SAMEFIELDS comes and goes, values
/// from integers to several KB, and a group whose PEL is split between two consumers.
fn arb_stream() -> impl Strategy<Value = StreamValue> {
    let field = prop_oneof![
        Just(b"f".to_vec()),
        Just(b"g".to_vec()),
        Just(b"12".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..6),
    ];
    let value = prop_oneof![
        any::<i64>().prop_map(|v| v.to_string().into_bytes()),
        proptest::collection::vec(any::<u8>(), 0..100),
        (0usize..5000).prop_map(|n| vec![b'x'; n]),
    ];
    let fields = proptest::collection::vec((field, value), 0..4);
    let raw = proptest::collection::vec(((0u64..3, 0u64..5), fields), 0..400);
    (raw, 1usize..5, any::<Option<u32>>(), any::<u64>()).prop_map(
        |(raw, every, entries_read, time)| {
            let mut entries: Vec<StreamEntry> = Vec::new();
            for ((dms, seq), fields) in raw {
                let id = match entries.last() {
                    Some(prev) if dms == 0 => id(prev.id.ms, prev.id.seq + 1 + seq),
                    Some(prev) => id(prev.id.ms + dms, seq),
                    None => id(1, seq),
                };
                let fields = fields.into_iter().map(|(f, v)| (b(f), b(v))).collect();
                entries.push(StreamEntry { id, fields });
            }
            let mut s = added(entries);
            let pel: Vec<StreamId> = s.entries.iter().step_by(every).map(|e| e.id).collect();
            s.groups = vec![StreamGroup {
                name: b("g"),
                last_delivered_id: s.last_id,
                entries_read: entries_read.map(u64::from),
                pending: pel.iter().map(|i| pending(i.ms, i.seq, time, 1)).collect(),
                consumers: vec![
                    consumer(
                        "even",
                        time,
                        None,
                        &pel.iter().step_by(2).copied().collect::<Vec<_>>(),
                    ),
                    consumer(
                        "odd",
                        time,
                        Some(time / 2),
                        &pel.iter().skip(1).step_by(2).copied().collect::<Vec<_>>(),
                    ),
                ],
            }];
            s
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn random_streams_round_trip(s in arb_stream()) {
        round_trip(&s);
        check_node_cuts(&s);
    }
}

fn refused(stream: &StreamValue) -> (StreamDefect, Option<StreamId>) {
    let mut enc = Encoder::default();
    let before = enc.bytes_written();
    let err = enc.write_stream(b"s", stream, None).unwrap_err();
    assert_eq!(enc.bytes_written(), before, "{err}: something was written");
    // And through write_value.
    let again = enc
        .write_value(b"s", &RdbValue::Stream(Box::new(stream.clone())), None)
        .unwrap_err();
    assert_eq!(again, err);
    match err {
        EncodeError::InvalidStream { defect, id } => (defect, id),
        other => panic!("{other:?}"),
    }
}

#[test]
fn refuses_streams_redis_cannot_load() {
    use StreamDefect::*;
    let base = grouped();
    grouped_is_valid(&base);

    let mut s = base.clone();
    s.entries.swap(3, 4);
    assert_eq!(refused(&s), (EntriesOutOfOrder, Some(id(1004, 0))));

    let mut s = base.clone();
    s.entries[7].id = s.entries[6].id;
    assert_eq!(refused(&s), (EntriesOutOfOrder, Some(id(1007, 0))));

    let mut s = base.clone();
    s.last_id = id(1029, 0);
    assert_eq!(refused(&s), (EntryAboveLastId, Some(id(1030, 0))));

    let mut s = base.clone();
    s.length += 1;
    s.entries_added += 1;
    assert_eq!(refused(&s), (LengthMismatch, None));

    let mut s = base.clone();
    s.entries_added = s.length - 1;
    assert_eq!(refused(&s), (EntriesAddedBelowLength, None));

    let mut s = base.clone();
    s.groups[1].name = b("g1");
    assert_eq!(refused(&s), (DuplicateGroup, None));

    let mut s = base.clone();
    s.groups[0].entries_read = Some(1 << 63);
    assert_eq!(refused(&s), (EntriesReadOutOfRange, None));

    let mut s = base.clone();
    s.groups[0].consumers[2].name = b("alice");
    assert_eq!(refused(&s), (DuplicateConsumer, None));

    let mut s = base.clone();
    s.groups[0].pending.push(pending(1002, 0, 1, 1));
    assert_eq!(refused(&s), (DuplicatePending, Some(id(1002, 0))));

    let mut s = base.clone();
    s.groups[0].consumers[2].pending.push(id(1004, 0));
    assert_eq!(refused(&s), (ConsumerPendingNotInGroup, Some(id(1004, 0))));

    // Owned by two consumers, or listed twice by one.
    let mut s = base.clone();
    s.groups[0].consumers[2].pending.push(id(1001, 0));
    assert_eq!(refused(&s), (PendingOwnedTwice, Some(id(1001, 0))));
    let mut s = base.clone();
    s.groups[0].consumers[0].pending.push(id(1001, 0));
    assert_eq!(refused(&s), (PendingOwnedTwice, Some(id(1001, 0))));

    let mut s = base.clone();
    s.groups[0].consumers[1]
        .pending
        .retain(|&i| i != id(1002, 0));
    assert_eq!(refused(&s), (PendingUnowned, Some(id(1002, 0))));
    let mut s = base.clone();
    s.groups[3].consumers.clear();
    assert_eq!(refused(&s), (PendingUnowned, Some(id(1015, 0))));
}

fn grouped_is_valid(s: &StreamValue) {
    let mut enc = Encoder::default();
    enc.write_stream(b"s", s, None).unwrap();
}

#[test]
fn refuses_entries_xadd_refuses() {
    // Over 1 GiB of fields and values in one entry (the same Bytes, so no 1 GiB allocation
    // per field).
    let half = Bytes::from(vec![0u8; (1 << 29) + 1]);
    let s = added(vec![
        entry(1, 0, &[(b"f", b"v")]),
        StreamEntry {
            id: id(2, 0),
            fields: vec![(b("a"), half.clone()), (b("b"), half)],
        },
    ]);
    let err = Encoder::default().write_stream(b"s", &s, None).unwrap_err();
    assert_eq!(
        err,
        EncodeError::InvalidStream {
            defect: StreamDefect::EntryTooLarge,
            id: Some(id(2, 0)),
        }
    );
    assert!(err.to_string().contains("(ID 2-0)"), "{err}");
}

// ---- Real servers ----

/// The streams of the load tests, by key; the keys in `twins` are those XADD alone could
/// have built, which the server rebuilds with XADD to compare the two dumps byte for byte.
fn load_dataset() -> Vec<(&'static str, StreamValue, Option<u64>)> {
    let mut keys = Vec::new();
    keys.push((
        "st:plain",
        added(
            (0..250u64)
                .map(|i| {
                    entry(
                        T0 + i / 3,
                        i % 3 + 1,
                        &[
                            (b"name", format!("n{i}").as_bytes()),
                            (b"n", i.to_string().as_bytes()),
                        ],
                    )
                })
                .collect(),
        ),
        None,
    ));
    let all: Vec<u8> = (0..=255u8).collect();
    let mut shapes = Vec::new();
    for i in 0..400usize {
        let big = vec![b'A' + u8::try_from(i % 26).unwrap(); (i * 53) % 2500];
        let n = (i as i64 * 7_919 - 1_000_000).to_string();
        let ms = T0 + i as u64;
        let e = match i % 6 {
            0 => entry(ms, 0, &[(b"a", n.as_bytes()), (b"b", &big)]),
            1 => entry(ms, 5, &[(b"b", &big), (b"a", b"x")]),
            2 => entry(ms, 5, &[(b"bin", &all)]),
            3 => entry(ms, 6, &[(b"huge", &vec![b'h'; 6000 + i])]),
            4 => entry(ms, 6, &[(b"1", b"-9223372036854775808"), (b"2", b"007")]),
            _ => entry(ms + 1_000_000_000, 0, &[(b"a", b""), (b"b", b"")]),
        };
        shapes.push(e);
    }
    shapes.sort_by_key(|e| e.id);
    keys.push(("st:shapes", added(shapes), None));
    keys.push(("st:groups", grouped(), None));
    let mut empty = StreamValue {
        last_id: id(5, 5),
        max_deleted_entry_id: id(5, 5),
        entries_added: 3,
        ..StreamValue::default()
    };
    empty.groups = vec![StreamGroup {
        name: b("g"),
        last_delivered_id: id(5, 5),
        entries_read: Some(3),
        pending: vec![pending(4, 0, T0, 1)],
        consumers: vec![consumer("c", T0, Some(T0 + 1), &[id(4, 0)])],
    }];
    keys.push(("st:empty", empty, None));
    keys.push(("st:edge", edge_stream(), None));
    keys.push((
        "st:expiring",
        added(vec![
            entry(1, 1, &[(b"f", b"v")]),
            entry(2, 1, &[(b"f", b"w")]),
        ]),
        Some(FAR_FUTURE_MS),
    ));
    keys
}

const TWINS: &[&str] = &["st:plain", "st:shapes", "st:edge", "st:expiring"];

fn write_dataset(path: &Path, keys: &[(&str, StreamValue, Option<u64>)], rdb_version: u32) {
    let mut enc = Encoder::try_new(options(rdb_version, true)).unwrap();
    enc.select_db(0);
    enc.resize_db(
        keys.len() as u64,
        keys.iter().filter(|k| k.2.is_some()).count() as u64,
    );
    let mut out = Vec::new();
    for (key, s, expire) in keys {
        enc.write_stream(key.as_bytes(), s, *expire).unwrap();
        while let Some(c) = enc.pop_chunk() {
            out.extend_from_slice(&c);
        }
    }
    for c in enc.finish() {
        out.extend_from_slice(&c);
    }
    std::fs::write(path, out).unwrap();
}

fn id_text(id: StreamId) -> Vec<u8> {
    id.to_string().into_bytes()
}

fn flat(e: &StreamEntry) -> Vec<Vec<u8>> {
    e.fields
        .iter()
        .flat_map(|(f, v)| [f.to_vec(), v.to_vec()])
        .collect()
}

/// An entry of XRANGE or XINFO: [id, [field, value, ...]].
fn entry_reply(r: &Reply) -> (Vec<u8>, Vec<Vec<u8>>) {
    let p = r.items();
    (
        p[0].bulk().to_vec(),
        p[1].items().iter().map(|x| x.bulk().to_vec()).collect(),
    )
}

fn check_stream(conn: &mut Conn, key: &str, s: &StreamValue, expire: Option<u64>, v3: bool) {
    let k = key.as_bytes();
    assert_eq!(conn.int(&[b"XLEN", k]), s.length as i64, "{key}: XLEN");
    assert_eq!(
        conn.int(&[b"PEXPIRETIME", k]),
        expire.map_or(-1, |v| v as i64),
        "{key}: expiry"
    );
    let want_entries: Vec<(Vec<u8>, Vec<Vec<u8>>)> =
        s.entries.iter().map(|e| (id_text(e.id), flat(e))).collect();
    let range: Vec<_> = conn
        .call(&[b"XRANGE", k, b"-", b"+"])
        .items()
        .iter()
        .map(entry_reply)
        .collect();
    assert_eq!(range, want_entries, "{key}: XRANGE");

    let info = conn.call(&[b"XINFO", b"STREAM", k, b"FULL", b"COUNT", b"0"]);
    let f = |name: &str| {
        info.field(name)
            .unwrap_or_else(|| panic!("{key}: no {name} in XINFO: {info:?}"))
    };
    assert_eq!(f("length").int(), s.length as i64, "{key}");
    assert_eq!(f("last-generated-id").bulk(), id_text(s.last_id), "{key}");
    assert_eq!(
        f("max-deleted-entry-id").bulk(),
        id_text(s.max_deleted_entry_id),
        "{key}"
    );
    assert_eq!(f("entries-added").int(), s.entries_added as i64, "{key}");
    assert_eq!(
        f("recorded-first-entry-id").bulk(),
        id_text(s.first_id),
        "{key}"
    );
    let listed: Vec<_> = f("entries").items().iter().map(entry_reply).collect();
    assert_eq!(listed, want_entries, "{key}: XINFO entries");

    // Redis keeps groups, PELs and consumers sorted; the model's order is free.
    let mut want_groups: BTreeMap<Vec<u8>, &StreamGroup> = BTreeMap::new();
    for g in &s.groups {
        want_groups.insert(g.name.to_vec(), g);
    }
    let groups = f("groups").items();
    assert_eq!(groups.len(), want_groups.len(), "{key}: groups");
    for (gr, (name, g)) in groups.iter().zip(&want_groups) {
        let ctx = format!("{key} group {}", String::from_utf8_lossy(name));
        let gf = |n: &str| gr.field(n).unwrap_or_else(|| panic!("{ctx}: no {n}"));
        assert_eq!(gf("name").bulk(), name.as_slice(), "{ctx}");
        assert_eq!(
            gf("last-delivered-id").bulk(),
            id_text(g.last_delivered_id),
            "{ctx}"
        );
        let read = match gf("entries-read") {
            Reply::Bulk(None) => None,
            r => Some(r.int() as u64),
        };
        assert_eq!(read, g.entries_read, "{ctx}: entries-read");
        assert_eq!(gf("pel-count").int(), g.pending.len() as i64, "{ctx}");
        let owner: BTreeMap<StreamId, &[u8]> = g
            .consumers
            .iter()
            .flat_map(|c| c.pending.iter().map(move |id| (*id, c.name.as_ref())))
            .collect();
        let mut pel = g.pending.clone();
        pel.sort_by_key(|p| p.id);
        let got_pel: Vec<(Vec<u8>, Vec<u8>, i64, i64)> = gf("pending")
            .items()
            .iter()
            .map(|p| {
                let p = p.items();
                (
                    p[0].bulk().to_vec(),
                    p[1].bulk().to_vec(),
                    p[2].int(),
                    p[3].int(),
                )
            })
            .collect();
        let want_pel: Vec<(Vec<u8>, Vec<u8>, i64, i64)> = pel
            .iter()
            .map(|p| {
                (
                    id_text(p.id),
                    owner[&p.id].to_vec(),
                    p.delivery_time_ms as i64,
                    p.delivery_count as i64,
                )
            })
            .collect();
        assert_eq!(got_pel, want_pel, "{ctx}: PEL");
        let mut consumers = g.consumers.clone();
        consumers.sort_by(|a, b| a.name.cmp(&b.name));
        let got_consumers = gf("consumers").items();
        assert_eq!(got_consumers.len(), consumers.len(), "{ctx}: consumers");
        for (cr, c) in got_consumers.iter().zip(&consumers) {
            let cf = |n: &str| cr.field(n).unwrap_or_else(|| panic!("{ctx}: no {n}"));
            assert_eq!(cf("name").bulk(), c.name.as_ref(), "{ctx}");
            assert_eq!(cf("seen-time").int(), c.seen_time_ms as i64, "{ctx}");
            if v3 {
                let active = c.active_time_ms.unwrap_or(c.seen_time_ms);
                assert_eq!(cf("active-time").int(), active as i64, "{ctx}");
            }
            assert_eq!(cf("pel-count").int(), c.pending.len() as i64, "{ctx}");
            let mut ids = c.pending.clone();
            ids.sort();
            let got: Vec<Vec<u8>> = cf("pending")
                .items()
                .iter()
                .map(|p| p.items()[0].bulk().to_vec())
                .collect();
            let want: Vec<Vec<u8>> = ids.iter().map(|i| id_text(*i)).collect();
            assert_eq!(got, want, "{ctx}: consumer PEL");
        }
    }
}

/// Rebuilds `s` with XADD under `twin` and compares the dumps: the same bytes mean the same
/// listpacks, node for node.
fn check_twin(conn: &mut Conn, key: &str, s: &StreamValue) {
    let twin = format!("twin:{key}");
    for e in &s.entries {
        let idt = id_text(e.id);
        let fl = flat(e);
        let mut args: Vec<&[u8]> = vec![b"XADD", twin.as_bytes(), &idt];
        args.extend(fl.iter().map(Vec::as_slice));
        assert_eq!(conn.call(&args), Reply::Bulk(Some(idt.clone())), "{twin}");
    }
    let ours = conn.call(&[b"DUMP", key.as_bytes()]);
    let theirs = conn.call(&[b"DUMP", twin.as_bytes()]);
    assert!(
        ours == theirs,
        "{key}: the loaded stream's DUMP differs from the one XADD built"
    );
    conn.int(&[b"DEL", twin.as_bytes()]);
}

fn load_and_check(binary: &str, rdb_version: u32) {
    let keys = load_dataset();
    let dir = tempfile::tempdir().unwrap();
    write_dataset(&dir.path().join("dump.rdb"), &keys, rdb_version);
    // Deep sanitization: the loader walks every listpack entry and refuses unowned PEL
    // entries, on top of the checks it always makes.
    let (_server, mut conn) = start_binary(binary, dir.path(), &["--sanitize-dump-payload", "yes"]);
    assert_eq!(conn.int(&[b"DBSIZE"]), keys.len() as i64);
    for (key, s, expire) in &keys {
        check_stream(&mut conn, key, s, *expire, rdb_version >= 11);
    }
    for key in TWINS {
        let s = &keys.iter().find(|k| k.0 == *key).unwrap().1;
        check_twin(&mut conn, key, s);
    }
    // The loaded streams work: new entries, reads and acknowledgements.
    let r = conn.call(&[b"XADD", b"st:groups", b"*", b"k", b"new"]);
    assert!(matches!(r, Reply::Bulk(Some(_))), "{r:?}");
    assert_eq!(
        conn.int(&[b"XACK", b"st:groups", b"g1", b"1000-5", b"1001-0"]),
        2
    );
    let r = conn.call(&[
        b"XREADGROUP",
        b"GROUP",
        b"g1",
        b"erin",
        b"COUNT",
        b"2",
        b"STREAMS",
        b"st:groups",
        b">",
    ]);
    assert!(matches!(r, Reply::Array(Some(_))), "{r:?}");
    assert_eq!(conn.int(&[b"XACK", b"st:empty", b"g", b"4-0"]), 1);
}

#[test]
fn redis7_loads_streams() {
    if std::env::var("SLUICE_SKIP_REDIS").as_deref() == Ok("1") {
        eprintln!("SLUICE_SKIP_REDIS=1: skipping the redis-server stream load test");
        return;
    }
    assert!(
        Path::new(REDIS_SERVER).exists(),
        "{REDIS_SERVER} is missing (install redis-server, or set SLUICE_SKIP_REDIS=1)"
    );
    load_and_check(REDIS_SERVER, 10);
}

#[test]
fn redis8_loads_type_21_streams() {
    let Ok(binary) = std::env::var("SLUICE_REDIS8_SERVER") else {
        eprintln!("SLUICE_REDIS8_SERVER is not set: skipping the Redis 8 stream load test");
        return;
    };
    for rdb_version in [12, 13] {
        load_and_check(&binary, rdb_version);
    }
}
