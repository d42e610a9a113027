//! Replication with newer releases than Debian's 7.0 (the anchors: Redis 8.6.3, Valkey
//! 9.1.2), both ways: sluice as their replica (their RDB formats: RDB 13, listpack sets,
//! hashes whose fields expire) and as their master. Each pairing runs a full sync in both
//! modes with writes during it, the command stream with hash field expiry, and a partial
//! resync after the master drops the link. The data is compared key by key, field expiry
//! times included. Skipped, with a notice, where the anchor binaries are absent.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

mod common;

use std::time::Duration;

use common::compare::{assert_same_data, info_field, stat, wait_for, wait_in_sync};
use common::dataset::populate_mixed;
use common::{Anchor, Client, Resp, ServerProcess, anchor, cmd, pipeline};

const SYNC_LIMIT: Duration = Duration::from_secs(60);
/// Databases compared (populate_mixed writes to several).
const DATABASES: usize = 16;

/// Hashes with field expiry times: a small one (listpack on the master), a large one (a
/// table), some fields far in the future, some soon, and one field without a time.
fn populate_field_expiry(master: &mut Client, round: usize, soon_ms: u64, field_times: bool) {
    let mut commands: Vec<Vec<Vec<u8>>> = Vec::new();
    if !field_times {
        // The same keys without field times: plain hashes and listpack sets.
        commands.push(cmd(&["HSET", &format!("hfe:small:{round}"), "keep", "1"]));
        commands.push(cmd(&["HSET", &format!("hfe:large:{round}"), "n", "10"]));
        commands.push(cmd(&[
            "HINCRBYFLOAT",
            &format!("hfe:large:{round}"),
            "n",
            "0.5",
        ]));
        commands.push(cmd(&["SADD", &format!("lpset:{round}"), "a", "b", "c"]));
        pipeline(master, &commands);
        return;
    }
    let small = format!("hfe:small:{round}");
    let large = format!("hfe:large:{round}");
    commands.push(cmd(&[
        "HSET", &small, "keep", "1", "later", "2", "soon", "3",
    ]));
    commands.push(cmd(&["HEXPIRE", &small, "100000", "FIELDS", "1", "later"]));
    commands.push(cmd(&[
        "HPEXPIRE",
        &small,
        &soon_ms.to_string(),
        "FIELDS",
        "1",
        "soon",
    ]));
    let mut hset = cmd(&["HSET", &large]);
    for i in 0..300 {
        hset.push(format!("f{i}").into_bytes());
        hset.push(format!("value-{i}").into_bytes());
    }
    commands.push(hset);
    let mut later = cmd(&["HPEXPIREAT", &large, "4102444800123", "FIELDS", "100"]);
    later.extend((0..100).map(|i| format!("f{i}").into_bytes()));
    commands.push(later);
    let mut soon = cmd(&["HPEXPIRE", &large, &soon_ms.to_string(), "FIELDS", "10"]);
    soon.extend((100..110).map(|i| format!("f{i}").into_bytes()));
    commands.push(soon);
    commands.push(cmd(&[
        "HSETEX",
        &large,
        "EX",
        "50000",
        "FIELDS",
        "1",
        "via-hsetex",
        "x",
    ]));
    commands.push(cmd(&["HSET", &large, "n", "10"]));
    commands.push(cmd(&[
        "HPEXPIREAT",
        &large,
        "4102444800123",
        "FIELDS",
        "1",
        "n",
    ]));
    commands.push(cmd(&["HINCRBY", &large, "n", "7"]));
    commands.push(cmd(&["HINCRBYFLOAT", &large, "n", "0.5"]));
    commands.push(cmd(&["HPERSIST", &large, "FIELDS", "1", "f6"]));
    commands.push(cmd(&[
        "HGETEX", &large, "PX", "90000", "FIELDS", "1", "f200",
    ]));
    commands.push(cmd(&["HGETDEL", &large, "FIELDS", "1", "f201"]));
    // Listpack-encoded sets (RDB type 20 from Redis 7.2 on).
    commands.push(cmd(&["SADD", &format!("lpset:{round}"), "a", "b", "c"]));
    pipeline(master, &commands);
}

/// String commands newer than 7.0 that write: Redis 8.4's MSETEX, SET IFEQ and DELEX, or
/// Valkey's MSETEX, SET IFEQ and DELIFEQ.
fn populate_new_string_commands(master: &mut Client, round: usize, which: Anchor) {
    let key = |name: &str| format!("str:{name}:{round}");
    let mut commands = vec![
        cmd(&[
            "MSETEX",
            "2",
            &key("a"),
            "1",
            &key("b"),
            "2",
            "EX",
            "100000",
        ]),
        cmd(&["SET", &key("c"), "old"]),
        cmd(&["SET", &key("c"), "new", "IFEQ", "old"]),
        cmd(&["SET", &key("d"), "gone"]),
    ];
    commands.push(match which {
        Anchor::Redis86 => cmd(&["DELEX", &key("d"), "IFEQ", "gone"]),
        Anchor::Valkey91 => cmd(&["DELIFEQ", &key("d"), "gone"]),
    });
    pipeline(master, &commands);
    assert_eq!(master.cmd(&["EXISTS", &key("d")]).int(), Some(0));
    assert_eq!(master.cmd_text(&["GET", &key("c")]), "new");
}

/// Stream and consumer-group traffic: deliveries, NOACK reads, acknowledgements, claims;
/// with Redis 8.6, also Redis 8.2's reference policies (XDELEX, XACKDEL, XTRIM ACKED and
/// DELREF), which its masters stream as they came and Valkey does not have.
fn populate_stream_groups(master: &mut Client, round: usize, which: Anchor) {
    let key = format!("grp:{round}");
    let mut commands = Vec::new();
    for i in 1..=6 {
        commands.push(cmd(&["XADD", &key, &format!("{i}-0"), "n", &i.to_string()]));
    }
    commands.extend([
        cmd(&["XGROUP", "CREATE", &key, "g", "0"]),
        cmd(&["XGROUP", "CREATE", &key, "quiet", "0"]),
        cmd(&[
            "XREADGROUP",
            "GROUP",
            "g",
            "alice",
            "COUNT",
            "3",
            "STREAMS",
            &key,
            ">",
        ]),
        cmd(&[
            "XREADGROUP",
            "GROUP",
            "g",
            "bob",
            "COUNT",
            "2",
            "STREAMS",
            &key,
            ">",
        ]),
        cmd(&[
            "XREADGROUP",
            "GROUP",
            "quiet",
            "carol",
            "NOACK",
            "STREAMS",
            &key,
            ">",
        ]),
        cmd(&["XACK", &key, "g", "1-0"]),
        cmd(&["XCLAIM", &key, "g", "dave", "0", "2-0"]),
        cmd(&["XAUTOCLAIM", &key, "g", "erin", "0", "0", "COUNT", "1"]),
        cmd(&["XDEL", &key, "5-0"]),
        cmd(&["XGROUP", "CREATECONSUMER", &key, "g", "frank"]),
    ]);
    if which == Anchor::Redis86 {
        let refs = format!("refs:{round}");
        for i in 1..=8 {
            commands.push(cmd(&[
                "XADD",
                &refs,
                &format!("{i}-0"),
                "n",
                &i.to_string(),
            ]));
        }
        commands.extend([
            cmd(&["XGROUP", "CREATE", &refs, "g1", "0"]),
            cmd(&["XGROUP", "CREATE", &refs, "g2", "0"]),
            cmd(&[
                "XREADGROUP",
                "GROUP",
                "g1",
                "a",
                "COUNT",
                "6",
                "STREAMS",
                &refs,
                ">",
            ]),
            cmd(&[
                "XREADGROUP",
                "GROUP",
                "g2",
                "b",
                "COUNT",
                "4",
                "STREAMS",
                &refs,
                ">",
            ]),
            cmd(&["XACK", &refs, "g2", "1-0", "3-0"]),
            cmd(&["XACKDEL", &refs, "g1", "ACKED", "IDS", "2", "1-0", "2-0"]),
            cmd(&["XDELEX", &refs, "DELREF", "IDS", "1", "4-0"]),
            cmd(&["XACK", &refs, "g1", "3-0"]),
            cmd(&["XTRIM", &refs, "MAXLEN", "0", "ACKED"]),
            cmd(&["XTRIM", &refs, "MINID", "6-0", "DELREF"]),
            cmd(&[
                "XADD", &refs, "MAXLEN", "~", "1", "KEEPREF", "9-0", "n", "9",
            ]),
        ]);
    }
    pipeline(master, &commands);
}

/// Every hash's fields with their absolute expiry times, from HPEXPIRETIME.
fn field_times(client: &mut Client) -> Vec<String> {
    let mut out = Vec::new();
    let keys = client.cmd(&["KEYS", "hfe:*"]).items().unwrap_or_default();
    for key in keys {
        let Resp::Bulk(key) = key else { continue };
        let fields = client
            .cmd(&[&b"HKEYS"[..], &key])
            .items()
            .unwrap_or_default();
        let mut request: Vec<Vec<u8>> = vec![
            b"HPEXPIRETIME".to_vec(),
            key.clone(),
            b"FIELDS".to_vec(),
            fields.len().to_string().into_bytes(),
        ];
        let names: Vec<Vec<u8>> = fields
            .iter()
            .filter_map(|f| match f {
                Resp::Bulk(b) => Some(b.clone()),
                _ => None,
            })
            .collect();
        request.extend(names.iter().cloned());
        let times = client.cmd(&request).items().unwrap_or_default();
        for (name, time) in names.iter().zip(times) {
            out.push(format!(
                "{} {} {:?}",
                String::from_utf8_lossy(&key),
                String::from_utf8_lossy(name),
                time
            ));
        }
    }
    out.sort();
    out
}

fn assert_same(master: &mut Client, replica: &mut Client, when: &str, with_times: bool) {
    assert_same_data(master, replica, DATABASES);
    let (a, b) = (field_times(master), field_times(replica));
    let timed = a.iter().filter(|l| !l.ends_with("Integer(-1)")).count();
    assert_eq!(
        timed > 0,
        with_times,
        "{when}: {timed} field times on the master"
    );
    assert_eq!(a, b, "{when}: field expiry times differ");
}

/// `field_times`: whether the master's hashes get field expiry times. Valkey 9.1 sends them
/// in its own format (`VALKEY080`, type 22) to a replica that announces Valkey 9 with
/// `REPLCONF version`, as sluice does; to others it sends RDB 11, which cannot hold them.
fn follow_anchor(which: Anchor, program: &std::path::Path, diskless: bool, field_times: bool) {
    let mode = if diskless { "yes" } else { "no" };
    let master_server = ServerProcess::anchor(
        program,
        &[
            "--repl-diskless-sync",
            mode,
            "--repl-diskless-sync-delay",
            "0",
        ],
    );
    let mut master = master_server.client();
    populate_mixed(&mut master);
    // Long enough to outlive the full sync, short enough to expire within the test.
    populate_field_expiry(&mut master, 0, 8000, field_times);
    populate_new_string_commands(&mut master, 0, which);
    populate_stream_groups(&mut master, 0, which);
    let port = master_server.port.to_string();
    let replica_server = ServerProcess::sluice(&["--replicaof", "127.0.0.1", &port]);
    let mut replica = replica_server.client();
    // Writes while the sync runs.
    populate_field_expiry(&mut master, 1, 60_000, field_times);
    populate_new_string_commands(&mut master, 1, which);
    populate_stream_groups(&mut master, 1, which);
    wait_for(
        SYNC_LIMIT,
        "the full sync",
        || info_field(&mut replica, "replication", "master_link_status").as_deref() == Some("up"),
        || {
            format!(
                "{which:?} replica log:\n{}\nmaster log:\n{}",
                replica_server.log_text(),
                master_server.log_text()
            )
        },
    );
    wait_in_sync(&mut master, &mut replica, SYNC_LIMIT);
    assert_same(
        &mut master,
        &mut replica,
        "after the full sync",
        field_times,
    );

    // The master expires the soon fields and tells the replica with HDEL.
    if field_times {
        expire_soon_fields(&mut master, &mut replica, &master_server);
    }

    // The master drops the link; the replica continues with PSYNC.
    let partial_before = stat(&mut master, "sync_partial_ok");
    let killed = master.cmd(&["CLIENT", "KILL", "TYPE", "replica"]);
    assert_eq!(
        killed.int(),
        Some(1),
        "CLIENT KILL TYPE replica: {killed:?}"
    );
    populate_field_expiry(&mut master, 2, 60_000, field_times);
    populate_new_string_commands(&mut master, 2, which);
    populate_stream_groups(&mut master, 2, which);
    wait_for(
        SYNC_LIMIT,
        "a partial resync after CLIENT KILL TYPE replica",
        || stat(&mut master, "sync_partial_ok") > partial_before,
        || format!("replica log:\n{}", replica_server.log_text()),
    );
    wait_in_sync(&mut master, &mut replica, SYNC_LIMIT);
    assert_same(
        &mut master,
        &mut replica,
        "after the partial resync",
        field_times,
    );
    assert_eq!(stat(&mut master, "sync_full"), 1);
}

/// Waits for the master to expire the round-0 fields that were set to expire soon, and checks
/// the replica dropped them on the master's HDEL.
fn expire_soon_fields(master: &mut Client, replica: &mut Client, master_server: &ServerProcess) {
    wait_for(
        SYNC_LIMIT,
        "the master to expire the short-lived fields",
        || {
            master
                .cmd(&["HEXISTS", "hfe:small:0", "soon"])
                .int()
                .is_some_and(|n| n == 0)
                && master.cmd(&["HLEN", "hfe:large:0"]).int() == Some(291)
        },
        || master_server.log_text(),
    );
    wait_in_sync(master, replica, SYNC_LIMIT);
    assert_eq!(
        replica.cmd(&["HEXISTS", "hfe:small:0", "soon"]).int(),
        Some(0)
    );
    assert_same(master, replica, "after the master expired fields", true);
}

#[test]
fn follows_redis_8_6_diskless() {
    let Some(program) = anchor(Anchor::Redis86, "follows_redis_8_6_diskless") else {
        return;
    };
    follow_anchor(Anchor::Redis86, &program, true, true);
}

#[test]
fn follows_redis_8_6_with_disk_sync() {
    let Some(program) = anchor(Anchor::Redis86, "follows_redis_8_6_with_disk_sync") else {
        return;
    };
    follow_anchor(Anchor::Redis86, &program, false, true);
}

#[test]
fn follows_valkey_9_1_diskless() {
    let Some(program) = anchor(Anchor::Valkey91, "follows_valkey_9_1_diskless") else {
        return;
    };
    follow_anchor(Anchor::Valkey91, &program, true, true);
}

#[test]
fn follows_valkey_9_1_with_disk_sync() {
    let Some(program) = anchor(Anchor::Valkey91, "follows_valkey_9_1_with_disk_sync") else {
        return;
    };
    follow_anchor(Anchor::Valkey91, &program, false, true);
}

/// An anchor server as the replica of a sluice master.
fn anchor_follows_sluice(
    which: Anchor,
    program: &std::path::Path,
    diskless: bool,
    field_times: bool,
) {
    let mode = if diskless { "yes" } else { "no" };
    let master_server = ServerProcess::sluice(&[
        "--repl-diskless-sync",
        mode,
        "--repl-diskless-sync-delay",
        "0",
    ]);
    let mut master = master_server.client();
    populate_mixed(&mut master);
    populate_field_expiry(&mut master, 0, 8000, field_times);
    populate_new_string_commands(&mut master, 0, which);
    populate_stream_groups(&mut master, 0, which);
    let port = master_server.port.to_string();
    let replica_server = ServerProcess::anchor(program, &["--replicaof", "127.0.0.1", &port]);
    let mut replica = replica_server.client();
    populate_field_expiry(&mut master, 1, 60_000, field_times);
    populate_new_string_commands(&mut master, 1, which);
    populate_stream_groups(&mut master, 1, which);
    wait_for(
        SYNC_LIMIT,
        "the full sync",
        || info_field(&mut replica, "replication", "master_link_status").as_deref() == Some("up"),
        || {
            format!(
                "replica log:\n{}\nmaster log:\n{}",
                replica_server.log_text(),
                master_server.log_text()
            )
        },
    );
    wait_in_sync(&mut master, &mut replica, SYNC_LIMIT);
    assert_same(
        &mut master,
        &mut replica,
        "after the full sync",
        field_times,
    );
    if field_times {
        expire_soon_fields(&mut master, &mut replica, &master_server);
    }
    let partial_before = stat(&mut master, "sync_partial_ok");
    let killed = master.cmd(&["CLIENT", "KILL", "TYPE", "replica"]);
    assert_eq!(
        killed.int(),
        Some(1),
        "CLIENT KILL TYPE replica: {killed:?}"
    );
    populate_field_expiry(&mut master, 2, 60_000, field_times);
    populate_new_string_commands(&mut master, 2, which);
    populate_stream_groups(&mut master, 2, which);
    wait_for(
        SYNC_LIMIT,
        "a partial resync after CLIENT KILL TYPE replica",
        || stat(&mut master, "sync_partial_ok") > partial_before,
        || format!("replica log:\n{}", replica_server.log_text()),
    );
    wait_in_sync(&mut master, &mut replica, SYNC_LIMIT);
    assert_same(
        &mut master,
        &mut replica,
        "after the partial resync",
        field_times,
    );
    assert_eq!(stat(&mut master, "sync_full"), 1);
}

#[test]
fn redis_8_6_follows_sluice_diskless() {
    let Some(program) = anchor(Anchor::Redis86, "redis_8_6_follows_sluice_diskless") else {
        return;
    };
    anchor_follows_sluice(Anchor::Redis86, &program, true, true);
}

#[test]
fn redis_8_6_follows_sluice_with_disk_sync() {
    let Some(program) = anchor(Anchor::Redis86, "redis_8_6_follows_sluice_with_disk_sync") else {
        return;
    };
    anchor_follows_sluice(Anchor::Redis86, &program, false, true);
}

/// Without field times: sluice writes them in Redis's RDB 12 encoding, which is not Valkey's.
#[test]
fn valkey_9_1_follows_sluice_diskless() {
    let Some(program) = anchor(Anchor::Valkey91, "valkey_9_1_follows_sluice_diskless") else {
        return;
    };
    anchor_follows_sluice(Anchor::Valkey91, &program, true, true);
}

#[test]
fn valkey_9_1_follows_sluice_with_disk_sync() {
    let Some(program) = anchor(Anchor::Valkey91, "valkey_9_1_follows_sluice_with_disk_sync") else {
        return;
    };
    anchor_follows_sluice(Anchor::Valkey91, &program, false, true);
}
