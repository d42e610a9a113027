//! CLIENT PAUSE and UNPAUSE as Redis 7.0 has them: under WRITE, writes (and commands that
//! may replicate, and EXEC of a transaction holding one) wait while reads run; under ALL,
//! everything waits; waiting clients count in `blocked_clients`; a pause ends at its time or
//! at UNPAUSE; expired keys are hidden but not deleted meanwhile. Each scenario runs on
//! sluice and on redis-server 7.0.15 (when installed), which must agree.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

mod common;

use std::time::Duration;

use common::compare::{info_field, stat, wait_for};
use common::{Client, Resp, ServerProcess, redis_available};

const LIMIT: Duration = Duration::from_secs(10);

fn blocked_clients(client: &mut Client) -> u64 {
    info_field(client, "clients", "blocked_clients")
        .and_then(|v| v.parse().ok())
        .unwrap()
}

fn wait_blocked(client: &mut Client, count: u64) {
    wait_for(
        LIMIT,
        &format!("{count} waiting clients"),
        || blocked_clients(client) == count,
        String::new,
    );
}

/// What a client observes during a WRITE pause, in order.
fn write_pause(server: &ServerProcess) -> Vec<Resp> {
    let mut seen = Vec::new();
    let mut admin = server.client();
    admin.cmd(&["SET", "k", "before"]);
    let mut tx = server.client();
    seen.push(tx.cmd(&["MULTI"]));
    seen.push(tx.cmd(&["INCR", "n"]));
    seen.push(admin.cmd(&["CLIENT", "PAUSE", "60000", "WRITE"]));
    let mut writer = server.client();
    writer.send(&["SET", "k", "during"]).unwrap();
    wait_blocked(&mut admin, 1);
    let mut publisher = server.client();
    publisher.send(&["PUBLISH", "ch", "m"]).unwrap();
    wait_blocked(&mut admin, 2);
    tx.send(&["EXEC"]).unwrap();
    wait_blocked(&mut admin, 3);
    // Reads, and argument errors, are answered at once.
    seen.push(admin.cmd(&["GET", "k"]));
    seen.push(admin.cmd(&["SET", "k"]));
    seen.push(Resp::Integer(blocked_clients(&mut admin) as i64));
    seen.push(admin.cmd(&["CLIENT", "UNPAUSE"]));
    seen.push(writer.read().unwrap());
    seen.push(publisher.read().unwrap());
    seen.push(tx.read().unwrap());
    seen.push(admin.cmd(&["GET", "k"]));
    wait_blocked(&mut admin, 0);
    seen
}

/// A pause ends by itself; an ALL pause holds reads too.
fn timed_all_pause(server: &ServerProcess) -> Vec<Resp> {
    let mut seen = Vec::new();
    let mut admin = server.client();
    seen.push(admin.cmd(&["CLIENT", "PAUSE", "300", "ALL"]));
    let mut reader = server.client();
    reader.send(&["GET", "k"]).unwrap();
    // The reader waits until the pause is over, then gets its answer.
    seen.push(reader.read().unwrap());
    seen.push(Resp::Integer(blocked_clients(&mut reader) as i64));
    seen.push(admin.cmd(&["CLIENT", "PAUSE", "10", "NONE"]));
    seen.push(admin.cmd(&["CLIENT", "PAUSE", "-1"]));
    seen.push(admin.cmd(&["CLIENT", "PAUSE", "soon"]));
    seen
}

/// Expired keys stay in place during a pause and go once it ends.
fn expiry_during_pause(server: &ServerProcess) -> Vec<Resp> {
    let mut seen = Vec::new();
    let mut admin = server.client();
    let expired_before = stat(&mut admin, "expired_keys");
    admin.cmd(&["MULTI"]);
    admin.cmd(&["SET", "e1", "v", "PX", "10"]);
    admin.cmd(&["SET", "e2", "v", "PX", "10"]);
    admin.cmd(&["CLIENT", "PAUSE", "60000", "WRITE"]);
    admin.cmd(&["EXEC"]);
    std::thread::sleep(Duration::from_millis(300));
    seen.push(admin.cmd(&["GET", "e1"]));
    seen.push(Resp::Integer(
        (stat(&mut admin, "expired_keys") - expired_before) as i64,
    ));
    admin.cmd(&["CLIENT", "UNPAUSE"]);
    seen.push(admin.cmd(&["GET", "e1"]));
    seen.push(admin.cmd(&["GET", "e2"]));
    seen.push(Resp::Integer(
        (stat(&mut admin, "expired_keys") - expired_before) as i64,
    ));
    seen
}

fn scenarios(server: &ServerProcess) -> Vec<Vec<Resp>> {
    vec![
        write_pause(server),
        timed_all_pause(server),
        expiry_during_pause(server),
    ]
}

#[test]
fn pauses_behave_as_in_redis() {
    let sluice = scenarios(&ServerProcess::sluice(&[]));
    assert_eq!(
        sluice[0][5],
        Resp::Integer(3),
        "the write, the PUBLISH and the EXEC wait"
    );
    assert_eq!(
        sluice[2][1],
        Resp::Integer(0),
        "nothing expired while paused"
    );
    if !redis_available("pauses_behave_as_in_redis") {
        return;
    }
    let redis = scenarios(&ServerProcess::redis(&[]));
    assert_eq!(sluice, redis);
}

/// A paused replica reads its master's stream but applies it only after the pause, as
/// Redis postpones its master client; returns (applied while paused, applied after).
fn replica_pause(master: &ServerProcess, replica: &ServerProcess) -> (bool, bool) {
    let mut m = master.client();
    let mut r = replica.client();
    m.cmd(&["CONFIG", "SET", "repl-ping-replica-period", "3600"]);
    r.cmd(&["REPLICAOF", "127.0.0.1", &master.port.to_string()]);
    m.cmd(&["SET", "foo", "bar"]);
    common::compare::wait_in_sync(&mut m, &mut r, LIMIT);
    r.cmd(&["CLIENT", "PAUSE", "100000", "WRITE"]);
    m.cmd(&["SET", "foo2", "bar2"]);
    let master_offset = || info_field(&mut master.client(), "replication", "master_repl_offset");
    let target = master_offset();
    wait_for(
        LIMIT,
        "the replica to read the write",
        || info_field(&mut r, "replication", "slave_read_repl_offset") == target,
        String::new,
    );
    let applied_while_paused = r.cmd(&["GET", "foo2"]) == Resp::bulk("bar2");
    r.cmd(&["CLIENT", "UNPAUSE"]);
    common::compare::wait_in_sync(&mut m, &mut r, LIMIT);
    let applied_after = r.cmd(&["GET", "foo2"]) == Resp::bulk("bar2");
    (applied_while_paused, applied_after)
}

#[test]
fn a_paused_replica_reads_but_does_not_apply() {
    let sluice = replica_pause(&ServerProcess::sluice(&[]), &ServerProcess::sluice(&[]));
    assert_eq!(sluice, (false, true));
    if !redis_available("a_paused_replica_reads_but_does_not_apply") {
        return;
    }
    let redis = replica_pause(&ServerProcess::redis(&[]), &ServerProcess::redis(&[]));
    assert_eq!(redis, sluice);
}
