//! Files written by the encoder are loaded by a real redis-server (the Debian 7.0 one here) and
//! read back key by key. Set SLUICE_SKIP_REDIS=1 to skip where redis-server is not installed;
//! otherwise its absence is a failure.
//!
//! Hashes with field expiry need Redis 7.4 or later: that test runs when SLUICE_REDIS8_SERVER
//! names such a redis-server binary, and is skipped otherwise.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

mod common;

use std::path::Path;

use sluice_rdb::{Encoder, EncoderOptions, FIELD_EXPIRE_AT_MS_MAX, SnapshotAux};

use common::redis::{Conn, REDIS_SERVER, Reply, Server, start_binary};

const FAR_FUTURE_MS: u64 = 4_102_444_800_123;
const LIB: &str = "#!lua name=sluicelib\nredis.register_function('sluice_echo', function(keys, args) return args[1] end)";

fn start(dir: &Path) -> (Server, Conn) {
    start_binary(REDIS_SERVER, dir, &[])
}

enum Val {
    Str(Vec<u8>),
    List(Vec<Vec<u8>>),
    Set(Vec<Vec<u8>>),
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
    ZSet(Vec<(Vec<u8>, f64)>),
}

struct Key {
    db: u32,
    name: Vec<u8>,
    val: Val,
    expire_at_ms: Option<u64>,
}

fn dataset() -> Vec<Key> {
    let mut keys = Vec::new();
    let mut add = |db: u32, name: &str, val: Val, expire_at_ms: Option<u64>| {
        keys.push(Key {
            db,
            name: name.as_bytes().to_vec(),
            val,
            expire_at_ms,
        })
    };
    let s = |x: &str| x.as_bytes().to_vec();
    let binary: Vec<u8> = (0..=255u8).collect();
    let pseudo: Vec<u8> = (0..100_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11).to_le_bytes()[0])
        .collect();
    for (name, v) in [
        ("s:small", s("hello")),
        ("s:int8", s("-100")),
        ("s:int16", s("30000")),
        ("s:int32", s("-2000000000")),
        ("s:int64", s("9223372036854775807")),
        ("s:noncanon", s("007")),
        ("s:empty", Vec::new()),
        ("s:binary", binary.clone()),
        ("s:compressible", s(&"abcdefgh".repeat(500))),
        ("s:big", pseudo.clone()),
        ("12345", s("integer key")),
    ] {
        add(0, name, Val::Str(v), None);
    }
    add(0, "s:expiring", Val::Str(s("bye")), Some(FAR_FUTURE_MS));
    add(
        0,
        "l:small",
        Val::List(vec![s("a"), s("1"), s("-5"), s("70000"), binary.clone()]),
        None,
    );
    add(
        0,
        "l:large",
        Val::List(
            (0..10_000)
                .map(|i| format!("item-{i}").into_bytes())
                .collect(),
        ),
        Some(FAR_FUTURE_MS + 1),
    );
    add(
        0,
        "l:bigelems",
        Val::List(vec![
            s("head"),
            vec![b'z'; 20_000],
            pseudo[..9000].to_vec(),
            s("tail"),
        ]),
        None,
    );
    add(
        0,
        "l:ints",
        Val::List(
            (0..500)
                .map(|i: i64| (i * 1_000_003 - 250_000_000).to_string().into_bytes())
                .collect(),
        ),
        None,
    );
    add(
        0,
        "set:int16",
        Val::Set((-50..50).map(|i: i32| i.to_string().into_bytes()).collect()),
        None,
    );
    add(
        0,
        "set:int32",
        Val::Set(vec![s("100000"), s("-100000"), s("5")]),
        None,
    );
    add(
        0,
        "set:int64",
        Val::Set(vec![
            s("9223372036854775807"),
            s("-9223372036854775808"),
            s("0"),
        ]),
        None,
    );
    add(
        0,
        "set:bigints",
        Val::Set(
            (0..600)
                .map(|i: i32| (i * 7).to_string().into_bytes())
                .collect(),
        ),
        None,
    );
    add(
        0,
        "set:strings",
        Val::Set(vec![s("apple"), s("banana"), s("1"), binary.clone()]),
        None,
    );
    add(
        0,
        "h:small",
        Val::Hash(vec![
            (s("f1"), s("v1")),
            (s("n"), s("-300")),
            (s("empty"), Vec::new()),
        ]),
        None,
    );
    add(
        0,
        "h:large",
        Val::Hash(
            (0..600)
                .map(|i| {
                    (
                        format!("field-{i}").into_bytes(),
                        format!("value-{i}").into_bytes(),
                    )
                })
                .collect(),
        ),
        None,
    );
    add(
        0,
        "h:longvalue",
        Val::Hash(vec![(s("f"), vec![b'v'; 65]), (s("g"), s("short"))]),
        None,
    );
    add(
        0,
        "z:small",
        Val::ZSet(vec![
            (s("one"), 1.0),
            (s("half"), 2.5),
            (s("neg"), -3.0),
            (s("tenth"), 0.1),
            (s("pinf"), f64::INFINITY),
            (s("ninf"), f64::NEG_INFINITY),
            (s("huge"), 1e300),
            (s("tiny"), 1e-300),
            (s("big-int"), 9_007_199_254_740_993.0),
        ]),
        None,
    );
    add(
        0,
        "z:large",
        Val::ZSet(
            (0..500)
                .map(|i| (format!("m-{i}").into_bytes(), f64::from(i) * 1.37 - 100.0))
                .collect(),
        ),
        None,
    );
    add(
        0,
        "z:longmember",
        Val::ZSet(vec![(vec![b'm'; 65], 1.0), (s("short"), 2.0)]),
        None,
    );
    add(3, "db3:key", Val::Str(s("in db 3")), None);
    add(
        3,
        "db3:list",
        Val::List(vec![s("x")]),
        Some(FAR_FUTURE_MS + 2),
    );
    add(15, "db15:key", Val::Str(s("in db 15")), None);
    keys
}

fn write_rdb(path: &Path, keys: &[Key], options: EncoderOptions) {
    write_rdb_with(path, keys, options, |_| {});
}

/// Writes `keys`, then whatever `extra` writes, in an RDB file.
fn write_rdb_with(
    path: &Path,
    keys: &[Key],
    options: EncoderOptions,
    extra: impl FnOnce(&mut Encoder),
) {
    let mut enc = Encoder::new(options);
    enc.write_snapshot_aux(&SnapshotAux {
        redis_ver: "7.0.15",
        ctime_secs: 1_700_000_000,
        used_mem_bytes: 1 << 20,
        repl_stream_db: 0,
        repl_id: "0123456789abcdef0123456789abcdef01234567",
        repl_offset: 1000,
    });
    enc.write_function(LIB.as_bytes());
    let mut chunks = Vec::new();
    let mut db = None;
    for k in keys {
        if db != Some(k.db) {
            enc.select_db(k.db);
            let in_db = keys.iter().filter(|x| x.db == k.db);
            enc.resize_db(
                in_db.clone().count() as u64,
                in_db.filter(|x| x.expire_at_ms.is_some()).count() as u64,
            );
            db = Some(k.db);
        }
        let e = k.expire_at_ms;
        match &k.val {
            Val::Str(v) => enc.write_string(&k.name, v, e),
            Val::List(v) => enc.write_list(&k.name, v, e).unwrap(),
            Val::Set(v) => enc.write_set(&k.name, v, e).unwrap(),
            Val::Hash(v) => enc
                .write_hash(&k.name, v.iter().map(|(f, v)| (f, v)), e)
                .unwrap(),
            Val::ZSet(v) => enc
                .write_zset(&k.name, v.iter().map(|(m, s)| (m, *s)), e)
                .unwrap(),
        }
        while let Some(c) = enc.pop_chunk() {
            chunks.push(c);
        }
    }
    extra(&mut enc);
    chunks.extend(enc.finish());
    std::fs::write(path, chunks.concat()).expect("write dump.rdb");
}

fn check(conn: &mut Conn, keys: &[Key]) {
    for db in [0u32, 3, 15] {
        conn.ok(&[b"SELECT", db.to_string().as_bytes()]);
        let want = keys.iter().filter(|k| k.db == db).count() as i64;
        assert_eq!(conn.int(&[b"DBSIZE"]), want, "db {db} size");
    }
    for k in keys {
        conn.ok(&[b"SELECT", k.db.to_string().as_bytes()]);
        let key = k.name.as_slice();
        let ctx = String::from_utf8_lossy(key).into_owned();
        let expire = conn.int(&[b"PEXPIRETIME", key]);
        assert_eq!(
            expire,
            k.expire_at_ms.map_or(-1, |v| v as i64),
            "{ctx}: expiry"
        );
        match &k.val {
            Val::Str(v) => {
                assert_eq!(
                    conn.call(&[b"GET", key]),
                    Reply::Bulk(Some(v.clone())),
                    "{ctx}"
                );
            }
            Val::List(v) => assert_eq!(&conn.bulks(&[b"LRANGE", key, b"0", b"-1"]), v, "{ctx}"),
            Val::Set(v) => {
                let mut got = conn.bulks(&[b"SMEMBERS", key]);
                let mut want = v.clone();
                got.sort();
                want.sort();
                assert_eq!(got, want, "{ctx}");
                // Membership lookups work on whatever encoding Redis chose.
                assert_eq!(conn.int(&[b"SISMEMBER", key, &v[0]]), 1, "{ctx}");
            }
            Val::Hash(v) => {
                let flat = conn.bulks(&[b"HGETALL", key]);
                let mut got: Vec<(Vec<u8>, Vec<u8>)> = flat
                    .chunks(2)
                    .map(|p| (p[0].clone(), p[1].clone()))
                    .collect();
                let mut want = v.clone();
                got.sort();
                want.sort();
                assert_eq!(got, want, "{ctx}");
                let (f, val) = &v[v.len() / 2];
                assert_eq!(
                    conn.call(&[b"HGET", key, f]),
                    Reply::Bulk(Some(val.clone())),
                    "{ctx}"
                );
            }
            Val::ZSet(v) => {
                let flat = conn.bulks(&[b"ZRANGE", key, b"0", b"-1", b"WITHSCORES"]);
                let got: Vec<(Vec<u8>, f64)> = flat
                    .chunks(2)
                    .map(|p| {
                        (
                            p[0].clone(),
                            String::from_utf8_lossy(&p[1])
                                .parse::<f64>()
                                .expect("score"),
                        )
                    })
                    .collect();
                let mut want = v.clone();
                want.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
                assert_eq!(got, want, "{ctx}");
                // Score lookups and ranks rely on the listpack being sorted.
                for (rank, (m, score)) in want.iter().enumerate() {
                    let got_score = match conn.call(&[b"ZSCORE", key, m]) {
                        Reply::Bulk(Some(b)) => {
                            String::from_utf8_lossy(&b).parse::<f64>().expect("score")
                        }
                        other => panic!("{ctx}: {other:?}"),
                    };
                    assert_eq!(got_score, *score, "{ctx}");
                    assert_eq!(conn.int(&[b"ZRANK", key, m]), rank as i64, "{ctx}");
                }
            }
        }
    }
    fn bulks_in(r: &Reply, out: &mut Vec<Vec<u8>>) {
        match r {
            Reply::Bulk(Some(b)) => out.push(b.clone()),
            Reply::Array(Some(v)) => v.iter().for_each(|r| bulks_in(r, out)),
            _ => {}
        }
    }
    let mut names = Vec::new();
    bulks_in(&conn.call(&[b"FUNCTION", b"LIST"]), &mut names);
    assert!(names.contains(&b"sluicelib".to_vec()), "{names:?}");
    assert_eq!(
        conn.call(&[b"FCALL", b"sluice_echo", b"0", b"hi"]),
        Reply::Bulk(Some(b"hi".to_vec()))
    );
}

#[test]
fn redis_server_loads_encoder_output() {
    if std::env::var("SLUICE_SKIP_REDIS").as_deref() == Ok("1") {
        eprintln!("SLUICE_SKIP_REDIS=1: skipping the redis-server load test");
        return;
    }
    assert!(
        Path::new(REDIS_SERVER).exists(),
        "{REDIS_SERVER} is missing (install redis-server, or set SLUICE_SKIP_REDIS=1)"
    );
    let keys = dataset();
    for compress_lzf in [false, true] {
        let dir = tempfile::tempdir().expect("temp dir");
        write_rdb(
            &dir.path().join("dump.rdb"),
            &keys,
            EncoderOptions {
                chunk_size_bytes: 4096,
                compress_lzf,
                ..EncoderOptions::default()
            },
        );
        let (_server, mut conn) = start(dir.path());
        check(&mut conn, &keys);
    }
}

/// (key, fields as (field, value, expiry), key expiry), written to db 5.
type FieldExpiryHash = (
    &'static str,
    Vec<(Vec<u8>, Vec<u8>, Option<u64>)>,
    Option<u64>,
);

fn field_expiry_dataset() -> Vec<FieldExpiryHash> {
    let s = |x: &str| x.as_bytes().to_vec();
    vec![
        (
            "hfe:small",
            vec![
                (s("a"), s("1"), Some(FAR_FUTURE_MS)),
                (s("b"), s("two"), None),
                (s("c"), s("-300"), Some(FAR_FUTURE_MS + 5)),
            ],
            None,
        ),
        // No field expires: the earliest expiry is stored as 2^48, "none".
        ("hfe:none", vec![(s("x"), s("1"), None)], None),
        // The largest time Redis takes, next to a far smaller one: a 2^48-scale relative TTL.
        (
            "hfe:extremes",
            vec![
                (s("max"), s("m"), Some(FIELD_EXPIRE_AT_MS_MAX)),
                (s("far"), s("f"), Some(FAR_FUTURE_MS)),
            ],
            Some(FAR_FUTURE_MS + 7),
        ),
        (
            "hfe:large",
            (0..600u64)
                .map(|i| {
                    (
                        format!("field-{i}").into_bytes(),
                        format!("value-{i}").into_bytes(),
                        (i % 7 == 0).then(|| FAR_FUTURE_MS + 3000 - i),
                    )
                })
                .collect(),
            None,
        ),
        (
            "hfe:longvalue",
            vec![
                (s("long"), vec![b'L'; 100], Some(FAR_FUTURE_MS)),
                (s("short"), s("s"), None),
            ],
            None,
        ),
    ]
}

#[test]
fn redis8_loads_hashes_with_field_expiry() {
    let Ok(binary) = std::env::var("SLUICE_REDIS8_SERVER") else {
        eprintln!("SLUICE_REDIS8_SERVER is not set: skipping the Redis 7.4+ load test");
        return;
    };
    let keys = dataset();
    let hashes = field_expiry_dataset();
    for rdb_version in [12, 13] {
        let dir = tempfile::tempdir().expect("temp dir");
        write_rdb_with(
            &dir.path().join("dump.rdb"),
            &keys,
            EncoderOptions {
                chunk_size_bytes: 4096,
                compress_lzf: true,
                rdb_version,
            },
            |enc| {
                enc.select_db(5);
                for (key, fields, expire) in &hashes {
                    enc.write_hash_with_field_expiry(
                        key.as_bytes(),
                        fields.iter().map(|(f, v, e)| (f, v, *e)),
                        *expire,
                    )
                    .unwrap();
                }
            },
        );
        let (_server, mut conn) = start_binary(&binary, dir.path(), &[]);
        check(&mut conn, &keys);
        conn.ok(&[b"SELECT", b"5"]);
        assert_eq!(conn.int(&[b"DBSIZE"]), hashes.len() as i64);
        for (key, fields, expire) in &hashes {
            let key = key.as_bytes();
            let ctx = String::from_utf8_lossy(key).into_owned();
            assert_eq!(
                conn.int(&[b"PEXPIRETIME", key]),
                expire.map_or(-1, |v| v as i64),
                "{ctx}: key expiry"
            );
            let flat = conn.bulks(&[b"HGETALL", key]);
            let mut got: Vec<(Vec<u8>, Vec<u8>)> = flat
                .chunks(2)
                .map(|p| (p[0].clone(), p[1].clone()))
                .collect();
            let mut want: Vec<(Vec<u8>, Vec<u8>)> = fields
                .iter()
                .map(|(f, v, _)| (f.clone(), v.clone()))
                .collect();
            got.sort();
            want.sort();
            assert_eq!(got, want, "{ctx}");
            let n = fields.len().to_string();
            let mut args: Vec<&[u8]> = vec![b"HPEXPIRETIME", key, b"FIELDS", n.as_bytes()];
            args.extend(fields.iter().map(|(f, _, _)| f.as_slice()));
            let times = match conn.call(&args) {
                Reply::Array(Some(v)) => v,
                other => panic!("{ctx}: {other:?}"),
            };
            for ((f, _, e), t) in fields.iter().zip(times) {
                assert_eq!(
                    t,
                    Reply::Int(e.map_or(-1, |v| v as i64)),
                    "{ctx}: field {}",
                    String::from_utf8_lossy(f)
                );
            }
        }
    }
}
