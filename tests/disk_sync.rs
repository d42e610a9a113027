//! Disk-mode full syncs (`repl-diskless-sync no`): one RDB file is written, and every
//! replica that is waiting or arrives while it is written shares it, reading it at its own
//! cursor while it grows (`$EOF:` framing), then continuing from the snapshot's offset in
//! the log. A replica without `capa eof` waits for the complete file (`$<len>`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

mod common;

use std::time::Duration;

use common::compare::{
    assert_same_data, load_keys, start_replicas_together, stat, wait_for, wait_in_sync,
};
use common::{Client, ServerProcess, redis_available};

const LIMIT: Duration = Duration::from_secs(60);

/// Few keys (comparing data key by key is slow in a debug build) but large values (so that
/// the file takes a while to write and replicas can arrive while it grows).
fn load(client: &mut Client, keys: usize) {
    load_keys(client, keys, 5000);
}

fn disk_master() -> ServerProcess {
    ServerProcess::sluice(&["--repl-diskless-sync", "no"])
}

#[test]
fn three_replicas_attaching_at_once_share_one_snapshot() {
    let master = disk_master();
    let mut m = master.client();
    load(&mut m, 12_000);
    let replicas = start_replicas_together(master.port, 3);
    for replica in &replicas {
        wait_in_sync(&mut m, &mut replica.client(), LIMIT);
        assert_same_data(&mut m, &mut replica.client(), 1);
    }
    assert_eq!(stat(&mut m, "sync_full"), 3);
    assert_eq!(
        stat(&mut m, "sync_snapshots"),
        1,
        "one file for the three: {}",
        master.log_text()
    );
}

#[test]
fn a_replica_attaching_while_the_file_is_half_written_shares_it() {
    let master = disk_master();
    let mut m = master.client();
    load(&mut m, 16_000);
    // 16k keys of 5 KB: an 80 MB file.
    let port = master.port.to_string();
    // Started now and pointed at the master later: a process start takes about as long as
    // writing the file on a fast machine.
    let late = ServerProcess::sluice(&[]);
    let first = ServerProcess::sluice(&["--replicaof", "127.0.0.1", &port]);
    wait_for(
        LIMIT,
        "the disk snapshot to be under way",
        || master.log_text().contains("starting a disk snapshot"),
        || master.log_text(),
    );
    // Writes between the two: both continue from the snapshot's offset, so both get them.
    m.cmd(&["SET", "after-snapshot", "1"]);
    assert_eq!(
        late.client().cmd_text(&["REPLICAOF", "127.0.0.1", &port]),
        "OK"
    );
    for replica in [&first, &late] {
        wait_in_sync(&mut m, &mut replica.client(), LIMIT);
        assert_same_data(&mut m, &mut replica.client(), 1);
    }
    // Large values keep the file being written for a few hundred milliseconds at least,
    // far longer than the running late replica takes to ask for its sync.
    assert!(
        master
            .log_text()
            .contains("joining the disk snapshot being written"),
        "the late replica should have joined the file being written:\n{}",
        master.log_text()
    );
    assert_eq!(stat(&mut m, "sync_snapshots"), 1);
}

#[test]
fn a_redis_replica_without_eof_capability_gets_the_complete_file() {
    if !redis_available("a_redis_replica_without_eof_capability_gets_the_complete_file") {
        return;
    }
    let master = disk_master();
    let mut m = master.client();
    load(&mut m, 5_000);
    let port = master.port.to_string();
    // redis-server announces capa eof; it still loads the growing file's $EOF framing.
    let redis = ServerProcess::redis(&["--replicaof", "127.0.0.1", &port]);
    wait_in_sync(&mut m, &mut redis.client(), LIMIT);
    assert_same_data(&mut m, &mut redis.client(), 1);
}
