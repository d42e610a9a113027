//! kill -9 in the middle of a full sync, under pipelined writers with `repl-log-fsync
//! always`. Killing the master: it comes back with every acknowledged write and the replica
//! ends with the same data. Killing the replica while it loads: it comes back and ends with
//! its master's data, never a mix of old and new.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

mod common;

use std::time::Duration;

use common::ServerProcess;
use common::acked::{AckedWriters, assert_acknowledged_present, next_random, seed};
use common::compare::{
    assert_same_data, info_field, load_keys, wait_for, wait_in_sync, wait_loaded,
};

const LIMIT: Duration = Duration::from_secs(90);
const BASE_KEYS: usize = 60_000;
const DATABASES: usize = 1;

fn master() -> ServerProcess {
    let master = ServerProcess::sluice(&[
        "--repl-log-fsync",
        "always",
        "--repl-diskless-sync-delay",
        "0",
        "--repl-log-snapshot-size",
        "0",
    ]);
    load_keys(&mut master.client(), BASE_KEYS, 1000);
    master
}

/// Waits until `replica` is receiving its full sync.
fn wait_sync_in_progress(replica: &ServerProcess) {
    let mut client = replica.client();
    wait_for(
        LIMIT,
        "the replica's full sync to be under way",
        || {
            info_field(&mut client, "replication", "master_sync_in_progress").as_deref()
                == Some("1")
                && info_field(&mut client, "replication", "master_sync_read_bytes")
                    .and_then(|b| b.parse::<u64>().ok())
                    .is_some_and(|b| b > 0)
        },
        || replica.log_text(),
    );
}

#[test]
fn master_killed_mid_full_sync_keeps_acknowledged_writes_and_the_replica_converges() {
    let seed = seed();
    eprintln!("SLUICE_CRASH_SEED={seed}");
    let mut random = seed;
    let mut master = master();
    let writers = AckedWriters::start(master.port, "m", 4, 16, 1024);
    writers.wait_acknowledged(500, LIMIT);
    let port = master.port.to_string();
    let replica = ServerProcess::sluice(&["--replicaof", "127.0.0.1", &port]);
    wait_sync_in_progress(&replica);
    std::thread::sleep(Duration::from_millis(next_random(&mut random) % 100));
    master.kill9();
    let acked = writers.join();
    master.restart();
    wait_loaded(&master);
    assert_acknowledged_present(&mut master.client(), &acked, &format!("seed {seed}"));
    wait_in_sync(&mut master.client(), &mut replica.client(), LIMIT);
    assert_same_data(&mut master.client(), &mut replica.client(), DATABASES);
}

#[test]
fn replica_killed_mid_full_sync_ends_with_its_masters_data() {
    let seed = seed();
    eprintln!("SLUICE_CRASH_SEED={seed}");
    let mut random = seed;
    let master = master();
    let writers = AckedWriters::start(master.port, "r", 2, 16, 1024);
    let port = master.port.to_string();
    let mut replica = ServerProcess::sluice(&["--replicaof", "127.0.0.1", &port]);
    for _ in 0..2 {
        wait_sync_in_progress(&replica);
        std::thread::sleep(Duration::from_millis(next_random(&mut random) % 100));
        replica.kill9();
        replica.restart();
    }
    let acked = writers.join();
    wait_in_sync(&mut master.client(), &mut replica.client(), LIMIT);
    assert_same_data(&mut master.client(), &mut replica.client(), DATABASES);
    assert_acknowledged_present(&mut replica.client(), &acked, &format!("seed {seed}"));
}
