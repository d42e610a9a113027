//! DUMP and RESTORE payloads move between sluice and real servers both ways: every key of a
//! dataset with every type and encoding (streams with consumer groups and pending entries,
//! hashes whose fields expire where the server has them) is dumped on one server, restored
//! on the other with its absolute expiry, and the two are compared key by key. Redis 7.0.15
//! always; Redis 8.6.3 and Valkey 9.1.2 when the anchors are present (skipped with a notice
//! otherwise).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

mod common;

use common::compare::assert_same_data;
use common::dataset::populate_mixed;
use common::{Anchor, Client, Resp, ServerProcess, anchor, cmd, pipeline, redis_available};

/// Databases compared (populate_mixed writes to several).
const DATABASES: usize = 16;

/// Streams with groups, consumers and pending entries, on top of the shared dataset.
fn populate_groups(client: &mut Client) {
    let mut commands: Vec<Vec<Vec<u8>>> = Vec::new();
    for i in 1..=20 {
        commands.push(cmd(&[
            "XADD",
            "stream:groups",
            &format!("{i}-0"),
            "f",
            &i.to_string(),
        ]));
    }
    commands.push(cmd(&["XGROUP", "CREATE", "stream:groups", "g1", "0"]));
    commands.push(cmd(&["XGROUP", "CREATE", "stream:groups", "g2", "$"]));
    commands.push(cmd(&[
        "XREADGROUP",
        "GROUP",
        "g1",
        "alice",
        "COUNT",
        "5",
        "STREAMS",
        "stream:groups",
        ">",
    ]));
    commands.push(cmd(&[
        "XREADGROUP",
        "GROUP",
        "g1",
        "bob",
        "COUNT",
        "3",
        "STREAMS",
        "stream:groups",
        ">",
    ]));
    commands.push(cmd(&["XACK", "stream:groups", "g1", "2-0", "7-0"]));
    commands.push(cmd(&["XDEL", "stream:groups", "4-0"]));
    pipeline(client, &commands);
}

/// Copies every key of every db from `src` to `dst` with DUMP and RESTORE … ABSTTL.
fn copy_all(src: &mut Client, dst: &mut Client) -> usize {
    let mut copied = 0;
    for db in 0..DATABASES {
        let db = db.to_string();
        src.cmd(&["SELECT", &db]);
        dst.cmd(&["SELECT", &db]);
        for key in src.cmd(&["KEYS", "*"]).items().unwrap_or_default() {
            let Resp::Bulk(key) = key else { continue };
            let Resp::Bulk(payload) = src.cmd(&[&b"DUMP"[..], &key]) else {
                panic!("DUMP {} gave no payload", common::escape(&key));
            };
            let expire_at = src.cmd(&[&b"PEXPIRETIME"[..], &key]).int().unwrap();
            let ttl = expire_at.max(0).to_string();
            let reply = dst.cmd(&[&b"RESTORE"[..], &key, ttl.as_bytes(), &payload, b"ABSTTL"]);
            assert_eq!(
                reply,
                Resp::simple("OK"),
                "RESTORE {} on the target",
                common::escape(&key)
            );
            copied += 1;
        }
    }
    src.cmd(&["SELECT", "0"]);
    dst.cmd(&["SELECT", "0"]);
    copied
}

fn both_ways(other: &dyn Fn() -> ServerProcess) {
    for sluice_is_source in [false, true] {
        let sluice = ServerProcess::sluice(&[]);
        let them = other();
        let (mut src, mut dst) = if sluice_is_source {
            (sluice.client(), them.client())
        } else {
            (them.client(), sluice.client())
        };
        populate_mixed(&mut src);
        populate_groups(&mut src);
        let copied = copy_all(&mut src, &mut dst);
        assert!(copied > 400, "only {copied} keys copied");
        assert_same_data(&mut src, &mut dst, DATABASES);
    }
}

#[test]
fn payloads_move_both_ways_with_redis_7_0() {
    if !redis_available("payloads_move_both_ways_with_redis_7_0") {
        return;
    }
    both_ways(&|| ServerProcess::redis(&[]));
}

#[test]
fn payloads_move_both_ways_with_the_anchors() {
    for which in [Anchor::Redis86, Anchor::Valkey91] {
        let Some(program) = anchor(which, "payloads_move_both_ways_with_the_anchors") else {
            continue;
        };
        both_ways(&|| ServerProcess::anchor(&program, &[]));
    }
}

/// Hashes whose fields expire: a Redis 8.6 payload (RDB 12 and up) and a Valkey 9.1 one
/// (its format 80, type 22) restore with their times, and sluice's payload of such a hash
/// (RDB 12) restores on Redis 8.6 with them. Valkey refuses RDB 12 payloads, as it refuses
/// Redis 8.6's.
#[test]
fn field_times_move_with_the_anchors() {
    for which in [Anchor::Redis86, Anchor::Valkey91] {
        let Some(program) = anchor(which, "field_times_move_with_the_anchors") else {
            continue;
        };
        let directions: &[bool] = match which {
            Anchor::Redis86 => &[false, true],
            Anchor::Valkey91 => &[false],
        };
        for &sluice_is_source in directions {
            let sluice = ServerProcess::sluice(&[]);
            let other = ServerProcess::anchor(&program, &[]);
            let (mut src, mut dst) = if sluice_is_source {
                (sluice.client(), other.client())
            } else {
                (other.client(), sluice.client())
            };
            populate_field_times(&mut src);
            copy_all(&mut src, &mut dst);
            for (key, field) in [("hfe:small", "a"), ("hfe:small", "b"), ("hfe:big", "f599")] {
                let times = |c: &mut Client| c.cmd(&["HPEXPIRETIME", key, "FIELDS", "1", field]);
                assert_eq!(times(&mut src), times(&mut dst), "{which:?} {key} {field}");
            }
            assert_same_data(&mut src, &mut dst, 1);
        }
    }
}

fn populate_field_times(client: &mut Client) {
    let mut commands = vec![cmd(&["HSET", "hfe:small", "a", "1", "b", "2", "c", "3"])];
    commands.push(cmd(&[
        "HPEXPIREAT",
        "hfe:small",
        "4102444800000",
        "FIELDS",
        "1",
        "a",
    ]));
    let mut big = cmd(&["HSET", "hfe:big"]);
    for i in 0..600 {
        big.push(format!("f{i}").into_bytes());
        big.push(i.to_string().into_bytes());
    }
    commands.push(big);
    commands.push(cmd(&[
        "HPEXPIREAT",
        "hfe:big",
        "4102444800123",
        "FIELDS",
        "2",
        "f1",
        "f599",
    ]));
    pipeline(client, &commands);
}
