//! Decodes the RDB files written by a real redis-server (see rdb/scripts/make_fixtures.py)
//! and compares every key with what that server reported.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

mod common;

use std::collections::{BTreeSet, HashMap};

use bytes::Bytes;
use serde_json::Value;
use sluice_rdb::{CrcStatus, Item, KeyEntry, RdbValue, StreamId, rdb_type};

use common::{FIXTURES, decode_every_way, fixtures_dir, hex, read_fixture};

fn expected(name: &str) -> Value {
    let text = std::fs::read_to_string(fixtures_dir().join(format!("{name}.json"))).expect("json");
    serde_json::from_str(&text).expect("valid json")
}

fn s(v: &Value) -> &str {
    v.as_str().expect("string")
}

fn bytes_of(v: &Value) -> Vec<u8> {
    hex(s(v))
}

fn id_of(v: &Value) -> StreamId {
    let (ms, seq) = s(v).split_once('-').expect("stream id");
    StreamId {
        ms: ms.parse().expect("ms"),
        seq: seq.parse().expect("seq"),
    }
}

fn sorted_pairs(v: &[(Bytes, Bytes)]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out: Vec<_> = v.iter().map(|(a, b)| (a.to_vec(), b.to_vec())).collect();
    out.sort();
    out
}

fn check_entry(name: &str, e: &KeyEntry, want: &Value) {
    let key = String::from_utf8_lossy(&e.key).into_owned();
    let ctx = format!("{name}: db {} key {key}", e.db);
    assert_eq!(e.value.type_name(), s(&want["type"]), "{ctx}: type");
    assert_eq!(
        e.expire_at_ms,
        want["expire_at_ms"].as_u64(),
        "{ctx}: expiry"
    );
    let wv = &want["value"];
    match &e.value {
        RdbValue::String(v) => assert_eq!(v.as_ref(), bytes_of(wv).as_slice(), "{ctx}"),
        RdbValue::List(v) => {
            let want: Vec<Vec<u8>> = wv.as_array().unwrap().iter().map(bytes_of).collect();
            let got: Vec<Vec<u8>> = v.iter().map(|b| b.to_vec()).collect();
            assert_eq!(got, want, "{ctx}");
        }
        RdbValue::Set(v) => {
            let want: BTreeSet<Vec<u8>> = wv.as_array().unwrap().iter().map(bytes_of).collect();
            let got: BTreeSet<Vec<u8>> = v.iter().map(|b| b.to_vec()).collect();
            assert_eq!(got.len(), v.len(), "{ctx}: duplicate members");
            assert_eq!(got, want, "{ctx}");
        }
        RdbValue::Hash(v) => {
            // Fixtures of servers with field expiry list [field, value, expiry] triples; a hash
            // stored without field expiry has none.
            let want: Vec<(Vec<u8>, Vec<u8>)> = wv
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    assert!(p.get(2).is_none_or(Value::is_null), "{ctx}: field expiry");
                    (bytes_of(&p[0]), bytes_of(&p[1]))
                })
                .collect();
            assert_eq!(sorted_pairs(v), want, "{ctx}");
        }
        RdbValue::HashWithFieldExpiry(v) => {
            let want: Vec<(Vec<u8>, Vec<u8>, Option<u64>)> = wv
                .as_array()
                .unwrap()
                .iter()
                .map(|p| (bytes_of(&p[0]), bytes_of(&p[1]), p[2].as_u64()))
                .collect();
            let mut got: Vec<(Vec<u8>, Vec<u8>, Option<u64>)> = v
                .iter()
                .map(|e| (e.field.to_vec(), e.value.to_vec(), e.expire_at_ms))
                .collect();
            got.sort();
            assert_eq!(got, want, "{ctx}");
        }
        RdbValue::SortedSet(v) => {
            let mut want: Vec<(Vec<u8>, f64)> = wv
                .as_array()
                .unwrap()
                .iter()
                .map(|p| (bytes_of(&p[0]), s(&p[1]).parse::<f64>().expect("score")))
                .collect();
            let mut got: Vec<(Vec<u8>, f64)> = v.iter().map(|(m, sc)| (m.to_vec(), *sc)).collect();
            let order = |a: &(Vec<u8>, f64), b: &(Vec<u8>, f64)| {
                a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0))
            };
            want.sort_by(order);
            got.sort_by(order);
            assert_eq!(got, want, "{ctx}");
        }
        RdbValue::Stream(st) => {
            assert_eq!(st.length, wv["length"].as_u64().unwrap(), "{ctx}: length");
            assert_eq!(st.entries.len() as u64, st.length, "{ctx}: live entries");
            assert_eq!(st.last_id, id_of(&wv["last_id"]), "{ctx}");
            assert_eq!(st.first_id, id_of(&wv["first_id"]), "{ctx}");
            assert_eq!(
                st.max_deleted_entry_id,
                id_of(&wv["max_deleted_entry_id"]),
                "{ctx}"
            );
            assert_eq!(
                st.entries_added,
                wv["entries_added"].as_u64().unwrap(),
                "{ctx}"
            );
            let want_entries = wv["entries"].as_array().unwrap();
            assert_eq!(st.entries.len(), want_entries.len(), "{ctx}");
            for (got, want) in st.entries.iter().zip(want_entries) {
                assert_eq!(got.id, id_of(&want[0]), "{ctx}");
                let flat: Vec<Vec<u8>> = got
                    .fields
                    .iter()
                    .flat_map(|(f, v)| [f.to_vec(), v.to_vec()])
                    .collect();
                let want_flat: Vec<Vec<u8>> =
                    want[1].as_array().unwrap().iter().map(bytes_of).collect();
                assert_eq!(flat, want_flat, "{ctx}: entry {}", got.id);
            }
            let want_groups = wv["groups"].as_array().unwrap();
            assert_eq!(st.groups.len(), want_groups.len(), "{ctx}: groups");
            for (g, wg) in st.groups.iter().zip(want_groups) {
                assert_eq!(g.name.as_ref(), bytes_of(&wg["name"]).as_slice());
                assert_eq!(g.last_delivered_id, id_of(&wg["last_delivered_id"]));
                assert_eq!(
                    g.entries_read,
                    wg["entries_read"].as_u64(),
                    "{ctx}: entries_read"
                );
                let wp = wg["pending"].as_array().unwrap();
                assert_eq!(g.pending.len(), wp.len(), "{ctx}: PEL");
                let owners: HashMap<StreamId, &[u8]> = g
                    .consumers
                    .iter()
                    .flat_map(|c| c.pending.iter().map(move |id| (*id, c.name.as_ref())))
                    .collect();
                for (p, w) in g.pending.iter().zip(wp) {
                    assert_eq!(p.id, id_of(&w[0]));
                    assert_eq!(owners.get(&p.id).copied(), Some(bytes_of(&w[1]).as_slice()));
                    assert_eq!(p.delivery_time_ms, w[2].as_u64().unwrap());
                    assert_eq!(p.delivery_count, w[3].as_u64().unwrap());
                }
                let wc = wg["consumers"].as_array().unwrap();
                assert_eq!(g.consumers.len(), wc.len(), "{ctx}: consumers");
                for (c, w) in g.consumers.iter().zip(wc) {
                    assert_eq!(c.name.as_ref(), bytes_of(&w["name"]).as_slice());
                    assert_eq!(c.seen_time_ms, w["seen_time_ms"].as_u64().unwrap());
                    let ids: Vec<StreamId> =
                        w["pending"].as_array().unwrap().iter().map(id_of).collect();
                    assert_eq!(c.pending, ids);
                }
            }
        }
    }
}

/// Decodes a fixture and checks it against its JSON; returns the entries for extra checks.
fn check_fixture(name: &str) -> (Vec<KeyEntry>, CrcStatus) {
    let data = read_fixture(name);
    let items = decode_every_way(&data).unwrap_or_else(|e| panic!("{name}: {e}"));
    let want = expected(name);
    let mut entries = Vec::new();
    let mut functions = Vec::new();
    let mut end = None;
    let mut aux = HashMap::new();
    for item in items {
        match item {
            Item::Entry(e) => entries.push(e),
            Item::Function(f) => functions.push(f.to_vec()),
            Item::End(status) => end = Some(status),
            Item::Aux { key, value } => {
                aux.insert(key.to_vec(), value.to_vec());
            }
            Item::SelectDb(_) | Item::ResizeDb { .. } | Item::SlotInfo { .. } => {}
        }
    }
    // "Redis server v=7.0.15 sha=..." as the server printed it.
    let server_version = s(&want["generator"])
        .split_whitespace()
        .find_map(|w| w.strip_prefix("v="))
        .expect("server version in the generator");
    assert_eq!(
        aux.get(&b"redis-ver"[..]).map(|v| v.as_slice()),
        Some(server_version.as_bytes())
    );
    assert_eq!(
        aux.get(&b"redis-bits"[..]).map(|v| v.as_slice()),
        Some(&b"64"[..])
    );
    let want_functions: Vec<Vec<u8>> = want["functions"]
        .as_array()
        .unwrap()
        .iter()
        .map(bytes_of)
        .collect();
    assert_eq!(functions, want_functions, "{name}: functions");
    let want_keys = want["keys"].as_array().unwrap();
    assert_eq!(entries.len(), want_keys.len(), "{name}: key count");
    let by_key: HashMap<(u64, Vec<u8>), &Value> = want_keys
        .iter()
        .map(|k| ((k["db"].as_u64().unwrap(), bytes_of(&k["key"])), k))
        .collect();
    for e in &entries {
        let w = by_key
            .get(&(u64::from(e.db), e.key.to_vec()))
            .unwrap_or_else(|| panic!("{name}: unexpected key {:?} in db {}", e.key, e.db));
        check_entry(name, e, w);
    }
    (entries, end.expect("End item"))
}

#[test]
fn redis7_encodings_fixture() {
    let (entries, end) = check_fixture("redis7_encodings");
    assert!(matches!(end, CrcStatus::Verified(_)), "{end:?}");
    let types: BTreeSet<u8> = entries.iter().map(|e| e.rdb_type).collect();
    for t in [
        rdb_type::STRING,
        rdb_type::SET,
        rdb_type::ZSET_2,
        rdb_type::HASH,
        rdb_type::SET_INTSET,
        rdb_type::HASH_LISTPACK,
        rdb_type::ZSET_LISTPACK,
        rdb_type::LIST_QUICKLIST_2,
        rdb_type::STREAM_LISTPACKS_2,
    ] {
        assert!(types.contains(&t), "fixture lacks type {t}: {types:?}");
    }
    // allkeys-lru makes Redis store the idle time of every key.
    assert!(
        entries
            .iter()
            .all(|e| e.lru_idle_secs.is_some() && e.lfu_freq.is_none())
    );
    let dbs: BTreeSet<u32> = entries.iter().map(|e| e.db).collect();
    assert_eq!(dbs, BTreeSet::from([0, 2, 15]));
}

#[test]
fn redis7_nocompress_nocrc_lfu_fixture() {
    let (entries, end) = check_fixture("redis7_nocompress_nocrc_lfu");
    assert_eq!(end, CrcStatus::NotComputed);
    assert!(
        entries
            .iter()
            .all(|e| e.lfu_freq.is_some() && e.lru_idle_secs.is_none())
    );
}

#[test]
fn redis7_empty_fixture() {
    let (entries, end) = check_fixture("redis7_empty");
    assert!(entries.is_empty());
    assert!(matches!(end, CrcStatus::Verified(_)));
}

#[test]
fn redis8_field_expiry_fixture() {
    let (entries, end) = check_fixture("redis8_field_expiry");
    assert!(matches!(end, CrcStatus::Verified(_)), "{end:?}");
    let type_of = |key: &str| {
        entries
            .iter()
            .find(|e| e.key.as_ref() == key.as_bytes())
            .unwrap_or_else(|| panic!("no key {key}"))
            .rdb_type
    };
    // What each key was made to exercise.
    for (key, t) in [
        ("hfe:small", rdb_type::HASH_LISTPACK_EX),
        ("hfe:persisted", rdb_type::HASH_LISTPACK_EX),
        ("hfe:large", rdb_type::HASH_METADATA),
        ("hfe:longvalue", rdb_type::HASH_METADATA),
        ("hash:hashtable", rdb_type::HASH),
        ("hash:plain", rdb_type::HASH_LISTPACK),
        ("stream:idmp", rdb_type::STREAM_LISTPACKS_4),
        ("stream:plain", rdb_type::STREAM_LISTPACKS_4),
    ] {
        assert_eq!(type_of(key), t, "{key}");
    }
    let data = read_fixture("redis8_field_expiry");
    assert_eq!(&data[..9], b"REDIS0013");
    let large = entries
        .iter()
        .find(|e| e.key.as_ref() == b"hfe:large")
        .unwrap();
    let RdbValue::HashWithFieldExpiry(fields) = &large.value else {
        panic!("{:?}", large.value)
    };
    assert_eq!(fields.len(), 600);
    assert_eq!(
        fields.iter().filter(|f| f.expire_at_ms.is_some()).count(),
        86
    );
}

#[test]
fn every_fixture_is_listed() {
    let mut on_disk: Vec<String> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".rdb").map(str::to_owned)
        })
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = FIXTURES.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed);
}
