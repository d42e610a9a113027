//! A sluice replica stopped and started again (kill -9 while writes stream in, or a clean
//! SHUTDOWN) comes back from its own snapshot and durable log, and continues with PSYNC:
//! the master counts a partial resync, never a full one, and the data ends equal key by key.
//! The same against a stock redis-server master, after 200 MB of writes before the kill, and
//! over a loop of random kills.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

mod common;

use std::time::{Duration, Instant};

use common::compare::{
    assert_same_data, info_field, stat, wait_for, wait_for_snapshot, wait_in_sync,
};
use common::writes::Writer;
use common::{Client, Kind, ServerProcess, redis_available};

const LIMIT: Duration = Duration::from_secs(60);
const DATABASES: usize = 4;

fn master(kind: Kind) -> ServerProcess {
    match kind {
        Kind::Sluice => ServerProcess::sluice(&["--repl-diskless-sync-delay", "0"]),
        // Its backlog must cover the replica's downtime for Redis to continue it.
        Kind::Redis => ServerProcess::redis(&[
            "--repl-diskless-sync-delay",
            "0",
            "--repl-backlog-size",
            "256mb",
        ]),
    }
}

/// A sluice replica of `master`, in sync, with the snapshot of its full sync on disk (the
/// base its log replays onto).
fn replica_of(master: &ServerProcess, extra: &[&str]) -> ServerProcess {
    let port = master.port.to_string();
    // Frequent snapshots keep the replay after each restart short in a debug build.
    let mut args = vec![
        "--replicaof",
        "127.0.0.1",
        &port,
        "--repl-log-snapshot-size",
        "4mb",
    ];
    args.extend_from_slice(extra);
    let replica = ServerProcess::sluice(&args);
    wait_in_sync(&mut master.client(), &mut replica.client(), LIMIT);
    wait_for_snapshot(&replica, LIMIT);
    replica
}

fn link_up(replica: &ServerProcess) -> bool {
    let mut client = replica.client();
    info_field(&mut client, "replication", "master_link_status").as_deref() == Some("up")
}

fn populate(client: &mut Client) {
    for i in 0..500 {
        client.cmd(&["SET", &format!("base:{i}"), &"b".repeat(100)]);
    }
    client.cmd(&["RPUSH", "base:list", "a", "b", "c"]);
}

/// Stops the replica (kill -9 or SHUTDOWN) while writes stream in, writes more while it is
/// down, starts it again and checks it continued with PSYNC and holds the master's data.
/// Returns the seconds from the restart until its link was up.
fn restart_during_writes(
    master: &ServerProcess,
    replica: &mut ServerProcess,
    kill: bool,
    seq: &mut u64,
) -> f64 {
    let mut m = master.client();
    let full_before = stat(&mut m, "sync_full");
    let partial_before = stat(&mut m, "sync_partial_ok");
    let writer = Writer::start(master.port, *seq);
    std::thread::sleep(Duration::from_millis(300 + rand_ms(400)));
    if kill {
        replica.kill9();
    } else {
        replica.shutdown();
    }
    std::thread::sleep(Duration::from_millis(100 + rand_ms(200)));
    let started = Instant::now();
    replica.restart();
    wait_for(
        LIMIT,
        "the restarted replica's link",
        || link_up(replica),
        || replica.log_text(),
    );
    let up_after = started.elapsed().as_secs_f64();
    *seq += writer.stop() + 1000;
    wait_in_sync(&mut m, &mut replica.client(), LIMIT);
    assert_eq!(
        stat(&mut m, "sync_full"),
        full_before,
        "the restarted replica must not need a full sync; its log:\n{}",
        replica.log_text()
    );
    assert_eq!(stat(&mut m, "sync_partial_ok"), partial_before + 1);
    assert_same_data(&mut m, &mut replica.client(), DATABASES);
    up_after
}

fn rand_ms(max: u64) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0);
    nanos % max.max(1)
}

#[test]
fn a_replica_killed_during_writes_resumes_with_psync() {
    let master = master(Kind::Sluice);
    populate(&mut master.client());
    let mut replica = replica_of(&master, &[]);
    let mut seq = 0;
    let up = restart_during_writes(&master, &mut replica, true, &mut seq);
    println!("link up {up:.3} s after the restart (kill -9)");
    assert!(
        replica
            .log_text()
            .contains("replication history recovered from the durable log"),
        "{}",
        replica.log_text()
    );
}

#[test]
fn a_replica_shut_down_cleanly_resumes_with_psync() {
    let master = master(Kind::Sluice);
    populate(&mut master.client());
    let mut replica = replica_of(&master, &["--save", ""]);
    let mut seq = 0;
    let up = restart_during_writes(&master, &mut replica, false, &mut seq);
    println!("link up {up:.3} s after the restart (SHUTDOWN)");
}

#[test]
fn a_replica_of_redis_killed_during_writes_resumes_with_psync() {
    if !redis_available("a_replica_of_redis_killed_during_writes_resumes_with_psync") {
        return;
    }
    let master = master(Kind::Redis);
    populate(&mut master.client());
    let mut replica = replica_of(&master, &[]);
    let mut seq = 0;
    restart_during_writes(&master, &mut replica, true, &mut seq);
    restart_during_writes(&master, &mut replica, false, &mut seq);
}

/// 200 MB written while the replica is in sync, then a kill: Redis's replica would come back
/// from its last snapshot, far behind what the master's backlog holds, and sync in full.
#[test]
fn a_replica_killed_after_200mb_of_writes_still_resumes_with_psync() {
    let master = ServerProcess::sluice(&[
        "--repl-diskless-sync-delay",
        "0",
        "--repl-backlog-size",
        "64mb",
    ]);
    populate(&mut master.client());
    let mut replica = replica_of(&master, &[]);
    let mut m = master.client();
    let value = "v".repeat(100_000);
    let mut written = 0usize;
    let mut i = 0;
    while written < 200 << 20 {
        let mut batch = Vec::new();
        for _ in 0..20 {
            batch.push(vec![
                "SET".to_string(),
                format!("big:{}", i % 500),
                value.clone(),
            ]);
            i += 1;
            written += value.len();
        }
        common::pipeline(&mut m, &batch);
    }
    wait_in_sync(&mut m, &mut replica.client(), LIMIT);
    let mut seq = 0;
    restart_during_writes(&master, &mut replica, true, &mut seq);
}

/// Thirty kills at random moments of the write stream: equal data after every one, and a
/// partial resync every time.
#[test]
fn thirty_random_kills_of_a_replica_end_equal_and_partial() {
    let master = master(Kind::Sluice);
    populate(&mut master.client());
    let mut replica = replica_of(&master, &[]);
    let mut seq = 0;
    let mut slowest: f64 = 0.0;
    for round in 0..30 {
        let up = restart_during_writes(&master, &mut replica, true, &mut seq);
        slowest = slowest.max(up);
        if round % 10 == 9 {
            println!("after {} kills: slowest link-up {slowest:.3} s", round + 1);
        }
    }
}
