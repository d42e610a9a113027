//! A stock redis-server replicating from sluice: full sync (diskless and disk framing), the
//! command stream with its effects (absolute expiries, served blocking pops, transactions),
//! partial resync after a cut link, and WAIT. Data is compared key by key, expiries included.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

mod common;

use std::time::Duration;

use common::compare::{assert_same_data, info_field, wait_in_sync};
use common::{Client, ServerProcess};

const SYNC_LIMIT: Duration = Duration::from_secs(30);

fn more_writes(master: &mut Client) {
    for round in 0..3 {
        common::pipeline(master, &common::writes::family_writes(round));
    }
    master.cmd(&["SET", "after", "sync"]);
    master.cmd(&["INCR", "counter"]);
    master.cmd(&["INCRBYFLOAT", "float", "0.1"]);
    master.cmd(&["INCRBYFLOAT", "float", "0.2"]);
    master.cmd(&["SET", "rel", "v", "PX", "900000"]);
    master.cmd(&["EXPIRE", "list", "800"]);
    master.cmd(&["MULTI"]);
    master.cmd(&["LPUSH", "tx", "1"]);
    master.cmd(&["SELECT", "7"]);
    master.cmd(&["SET", "tx7", "seven"]);
    master.cmd(&["EXEC"]);
    master.cmd(&["SELECT", "0"]);
    master.cmd(&["SPOP", "set"]);
    master.cmd(&["DEL", "key:1", "key:2"]);
    master.cmd(&["ZINCRBY", "zset", "2.25", "a"]);
    master.cmd(&["HINCRBYFLOAT", "hash", "f3", "1.1"]);
    // Streams: the ID sluice chose and its exact trim reach the replica.
    for i in 0..20 {
        master.cmd(&[
            "XADD",
            "events",
            "MAXLEN",
            "~",
            "12",
            "*",
            "n",
            &i.to_string(),
        ]);
    }
    master.cmd(&["XDEL", "events", "0-1"]);
    master.cmd(&["XTRIM", "events", "MAXLEN", "10"]);
    master.cmd(&["XSETID", "events", "99999999999999-0", "ENTRIESADDED", "50"]);
    // Consumer groups: deliveries go out as XCLAIM, NOACK reads as XGROUP SETID.
    master.cmd(&["XGROUP", "CREATE", "events", "workers", "0"]);
    master.cmd(&[
        "XREADGROUP",
        "GROUP",
        "workers",
        "w1",
        "COUNT",
        "3",
        "STREAMS",
        "events",
        ">",
    ]);
    master.cmd(&[
        "XREADGROUP",
        "GROUP",
        "workers",
        "w2",
        "NOACK",
        "COUNT",
        "2",
        "STREAMS",
        "events",
        ">",
    ]);
    master.cmd(&["XACK", "events", "workers", "0-1"]);
    master.cmd(&[
        "XAUTOCLAIM",
        "events",
        "workers",
        "w3",
        "0",
        "0",
        "COUNT",
        "1",
    ]);
    master.cmd(&["XGROUP", "CREATE", "fresh", "g", "$", "MKSTREAM"]);
    master.cmd(&["XGROUP", "CREATECONSUMER", "fresh", "g", "idle-one"]);
    // A key that expires on the master reaches the replica as a DEL.
    master.cmd(&["SET", "short", "v", "PX", "30"]);
    std::thread::sleep(Duration::from_millis(60));
    master.cmd(&["GET", "short"]);
}

fn replicate(diskless: &str) {
    let master_server = ServerProcess::sluice(&[
        "--repl-diskless-sync",
        diskless,
        "--repl-diskless-sync-delay",
        "0",
    ]);
    let mut master = master_server.client();
    common::dataset::populate_mixed(&mut master);
    let replica_server =
        ServerProcess::redis(&["--replicaof", "127.0.0.1", &master_server.port.to_string()]);
    let mut replica = replica_server.client();
    wait_in_sync(&mut master, &mut replica, SYNC_LIMIT);
    assert_same_data(&mut master, &mut replica, 16);
    assert_eq!(
        info_field(&mut master, "stats", "sync_full").as_deref(),
        Some("1")
    );

    // A blocked pop served by a later push reaches the replica as its effect.
    let mut blocked = master_server.client();
    blocked.send(&["BLPOP", "queue", "5"]).expect("send");
    std::thread::sleep(Duration::from_millis(100));
    master.cmd(&["RPUSH", "queue", "job1", "job2"]);
    assert_eq!(
        blocked
            .read()
            .expect("BLPOP reply")
            .items()
            .map(|i| i.len()),
        Some(2)
    );

    more_writes(&mut master);
    wait_in_sync(&mut master, &mut replica, SYNC_LIMIT);
    assert_same_data(&mut master, &mut replica, 16);
    assert_eq!(replica.cmd(&["EXISTS", "short"]).int(), Some(0));

    // WAIT counts the replica once it acknowledged the write.
    master.cmd(&["SET", "waited", "1"]);
    assert_eq!(master.cmd(&["WAIT", "1", "5000"]).int(), Some(1));

    // A cut link resumes with a partial resync.
    assert_eq!(
        master.cmd(&["CLIENT", "KILL", "TYPE", "replica"]).int(),
        Some(1)
    );
    master.cmd(&["SET", "while-cut", "1"]);
    wait_in_sync(&mut master, &mut replica, SYNC_LIMIT);
    assert_eq!(
        info_field(&mut master, "stats", "sync_partial_ok").as_deref(),
        Some("1")
    );
    assert_eq!(
        info_field(&mut master, "stats", "sync_full").as_deref(),
        Some("1")
    );
    assert_same_data(&mut master, &mut replica, 16);
    let role = master.cmd(&["ROLE"]).items().unwrap_or_default();
    assert_eq!(
        role.first().and_then(|r| r.text()).as_deref(),
        Some("master")
    );
}

#[test]
fn redis_replicates_from_sluice_diskless() {
    if !common::redis_available("redis_replicates_from_sluice_diskless") {
        return;
    }
    replicate("yes");
}

#[test]
fn redis_replicates_from_sluice_with_disk_snapshot() {
    if !common::redis_available("redis_replicates_from_sluice_with_disk_snapshot") {
        return;
    }
    replicate("no");
}
