//! sluice replicating from sluice: full sync in both framings, the command stream with its
//! effects (transactions, absolute expiries, expiries as DEL, served blocking pops,
//! INCRBYFLOAT, SPOP, PUBLISH), partial resyncs after a link drop from either side, chains,
//! promotion of a replica with its sibling continuing by PSYNC, one snapshot shared by the
//! replicas that arrive within the diskless delay, and the replication-dependent refusals
//! (READONLY, MASTERDOWN, NOREPLICAS). Data is compared key by key (type, value, absolute
//! expiry) on every db. Every wait is bounded; everything runs on loopback.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

mod common;

use std::time::Duration;

use common::compare::{
    assert_same_data, info_field, repl_field, start_replicas_together, stat, wait_for, wait_in_sync,
};
use common::dataset::populate_mixed;
use common::{Client, Resp, Resume, ServerProcess, cmd, pipeline, signal};

const LIMIT: Duration = Duration::from_secs(30);
const DATABASES: usize = 16;

/// More writes of every kind, including the ones Redis rewrites before propagating.
fn more_writes(client: &mut Client, round: usize) {
    let r = round.to_string();
    let commands = vec![
        cmd(&["MULTI"]),
        cmd(&["SET", "tx:a", &r]),
        cmd(&["INCR", "tx:a"]),
        cmd(&["LPUSH", "list:small", "pushed-in-tx"]),
        cmd(&["SELECT", "6"]),
        cmd(&["SET", "tx:in6", &r]),
        cmd(&["EXEC"]),
        cmd(&["SELECT", "0"]),
        cmd(&["EXPIRE", "s:1", "500"]),
        cmd(&["PEXPIRE", "s:2", "100000"]),
        cmd(&["EXPIREAT", "s:5", "4000000000"]),
        cmd(&["DEL", "s:3", "s:4", "no-such-key"]),
        cmd(&["INCRBYFLOAT", "float", "1.25"]),
        cmd(&["INCRBYFLOAT", "float", "0.1"]),
        cmd(&["HINCRBYFLOAT", "hash:small", "f2", "0.5"]),
        cmd(&["SET", "with-ex", &r, "EX", "100"]),
        cmd(&["SPOP", "set:big"]),
        cmd(&["SPOP", "set:big", "3"]),
        cmd(&["SPOP", "set:small", "10"]),
        cmd(&["ZINCRBY", "zset:small", "2", "a"]),
        cmd(&["LPOP", "list:big"]),
        cmd(&["RPOPLPUSH", "list:big", "list:moved"]),
        cmd(&["HDEL", "hash:big", "field-1", "field-2"]),
        cmd(&["APPEND", "s:10", "-appended"]),
        cmd(&["GETEX", "s:12", "PX", "123456"]),
        cmd(&["PERSIST", "ttl:0"]),
        cmd(&[
            "RENAME",
            &format!("s:{}", 20 + round),
            &format!("renamed:{r}"),
        ]),
        cmd(&["SELECT", "5"]),
        cmd(&["DEL", "db5:0"]),
        cmd(&["SELECT", "15"]),
        cmd(&["FLUSHDB"]),
        cmd(&["SET", "db15:after-flush", &r]),
        cmd(&["SELECT", "0"]),
    ];
    pipeline(client, &commands);
}

/// Keys physically present per db (DBSIZE counts keys a replica hides as expired, so equal
/// sizes show that the master's expiries arrived as DELs).
fn db_sizes(client: &mut Client) -> Vec<i64> {
    let sizes = (0..DATABASES)
        .map(|db| {
            client.cmd(&["SELECT", &db.to_string()]);
            client.cmd(&["DBSIZE"]).int().expect("DBSIZE")
        })
        .collect();
    client.cmd(&["SELECT", "0"]);
    sizes
}

fn replicate(diskless: bool) {
    let mode = if diskless { "yes" } else { "no" };
    let master_server = ServerProcess::sluice(&[
        "--repl-diskless-sync",
        mode,
        "--repl-diskless-sync-delay",
        "0",
    ]);
    let mut master = master_server.client();
    populate_mixed(&mut master);
    let replica_server =
        ServerProcess::sluice(&["--replicaof", "127.0.0.1", &master_server.port.to_string()]);
    let mut replica = replica_server.client();

    // The full sync.
    wait_in_sync(&mut master, &mut replica, LIMIT);
    assert_same_data(&mut master, &mut replica, DATABASES);
    assert_eq!(stat(&mut master, "sync_full"), 1);
    // Both modes stream with $EOF: framing to a replica that takes it (disk mode sends the
    // file while it is written); disk mode goes through a file.
    let log = replica_server.log_text();
    assert!(
        log.contains("streamed RDB"),
        "expected the $EOF: framing in:\n{log}"
    );
    if !diskless {
        assert!(
            master_server
                .log_text()
                .contains("starting a disk snapshot"),
            "{}",
            master_server.log_text()
        );
    }
    assert_eq!(
        repl_field(&mut replica, "master_replid"),
        repl_field(&mut master, "master_replid")
    );

    // A subscriber on the replica hears what is published on the master.
    let mut subscriber = replica_server.client();
    let subscribed = subscriber.cmd(&["SUBSCRIBE", "news"]);
    assert_eq!(
        subscribed.items().map(|i| i.len()),
        Some(3),
        "{subscribed:?}"
    );

    // A pop blocked on the master and served by a later push.
    let mut blocked = master_server.client();
    blocked.send(&["BLPOP", "queue", "10"]).expect("send BLPOP");
    wait_for(
        LIMIT,
        "the BLPOP to block",
        || stat_blocked(&mut master) == 1,
        String::new,
    );
    master.cmd(&["RPUSH", "queue", "job1", "job2"]);
    let popped = blocked.read().expect("BLPOP reply");
    assert_eq!(
        popped.items(),
        Some(vec![Resp::bulk("queue"), Resp::bulk("job1")])
    );

    more_writes(&mut master, 1);
    // A key that expires on the master reaches the replica as a DEL, whether the master
    // notices on access or in its active expiry cycle.
    let sizes_before = db_sizes(&mut master);
    master.cmd(&["SET", "short:lazy", "v", "PX", "30"]);
    master.cmd(&["SET", "short:active", "v", "PX", "30"]);
    master.cmd(&["SELECT", "5"]);
    master.cmd(&["SET", "short:db5", "v", "PX", "30"]);
    master.cmd(&["SELECT", "0"]);
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(master.cmd(&["GET", "short:lazy"]), Resp::NullBulk);
    wait_for(
        LIMIT,
        "the master's active expiry",
        || db_sizes(&mut master) == sizes_before,
        String::new,
    );
    let published = master.cmd(&["PUBLISH", "news", "hello"]);
    assert_eq!(
        published.int(),
        Some(0),
        "no subscriber on the master itself"
    );
    let message = subscriber.read().expect("message on the replica");
    assert_eq!(
        message.items(),
        Some(vec![
            Resp::bulk("message"),
            Resp::bulk("news"),
            Resp::bulk("hello")
        ])
    );
    wait_in_sync(&mut master, &mut replica, LIMIT);
    assert_same_data(&mut master, &mut replica, DATABASES);
    assert_eq!(db_sizes(&mut master), db_sizes(&mut replica));
    assert_eq!(replica.cmd_text(&["GET", "float"]), "1.35");
    assert_eq!(replica.cmd(&["LLEN", "queue"]).int(), Some(1));

    // The master drops the link: the replica continues with PSYNC.
    let partial_before = stat(&mut master, "sync_partial_ok");
    assert_eq!(
        master.cmd(&["CLIENT", "KILL", "TYPE", "replica"]).int(),
        Some(1)
    );
    more_writes(&mut master, 2);
    wait_for(
        LIMIT,
        "a partial resync after CLIENT KILL TYPE replica",
        || stat(&mut master, "sync_partial_ok") > partial_before,
        || replica_server.log_text(),
    );
    wait_in_sync(&mut master, &mut replica, LIMIT);
    assert_eq!(stat(&mut master, "sync_full"), 1);
    assert_same_data(&mut master, &mut replica, DATABASES);

    // The replica drops the link: it reconnects with PSYNC as well.
    let partial_before = stat(&mut master, "sync_partial_ok");
    assert_eq!(
        replica.cmd(&["CLIENT", "KILL", "TYPE", "master"]).int(),
        Some(1)
    );
    more_writes(&mut master, 3);
    wait_for(
        LIMIT,
        "a partial resync after CLIENT KILL TYPE master",
        || stat(&mut master, "sync_partial_ok") > partial_before,
        || replica_server.log_text(),
    );
    wait_in_sync(&mut master, &mut replica, LIMIT);
    assert_eq!(stat(&mut master, "sync_full"), 1);
    assert_eq!(stat(&mut master, "sync_partial_err"), 0);
    assert_same_data(&mut master, &mut replica, DATABASES);
    assert_eq!(db_sizes(&mut master), db_sizes(&mut replica));

    // WAIT counts the replica once it acknowledged.
    master.cmd(&["SET", "waited", "1"]);
    assert_eq!(master.cmd(&["WAIT", "1", "5000"]).int(), Some(1));
    assert_eq!(replica.cmd_text(&["GET", "waited"]), "1");
    // The master's view of the replica follows its ACKs.
    wait_for(
        LIMIT,
        "the master to see the replica's offset",
        || {
            let line = info_field(&mut master, "replication", "slave0").unwrap_or_default();
            let offset = repl_field(&mut master, "master_repl_offset");
            line.contains("state=online") && line.contains(&format!(",offset={offset},"))
        },
        || master_server.client().cmd_text(&["INFO", "replication"]),
    );
    let role = replica.cmd(&["ROLE"]).items().unwrap_or_default();
    assert_eq!(role.first().and_then(Resp::text).as_deref(), Some("slave"));
    assert_eq!(
        role.get(3).and_then(Resp::text).as_deref(),
        Some("connected")
    );
    let role = master.cmd(&["ROLE"]).items().unwrap_or_default();
    assert_eq!(role.first().and_then(Resp::text).as_deref(), Some("master"));
    let listed = role.get(2).and_then(Resp::items).unwrap_or_default();
    let first = listed.first().and_then(Resp::items).unwrap_or_default();
    assert_eq!(
        first.get(1).and_then(Resp::text),
        Some(replica_server.port.to_string()),
        "ROLE lists the replica by its listening port: {role:?}"
    );
}

fn stat_blocked(client: &mut Client) -> u64 {
    info_field(client, "clients", "blocked_clients")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[test]
fn sluice_replicates_sluice_diskless() {
    replicate(true);
}

#[test]
fn sluice_replicates_sluice_with_disk_snapshot() {
    replicate(false);
}

/// master → A → B: B sees the master's stream at the master's offsets, under its replid.
#[test]
fn chain_of_three_sluices() {
    let master_server = ServerProcess::sluice(&["--repl-diskless-sync-delay", "0"]);
    let mut master = master_server.client();
    populate_mixed(&mut master);
    let a_server = ServerProcess::sluice(&[
        "--replicaof",
        "127.0.0.1",
        &master_server.port.to_string(),
        "--repl-diskless-sync-delay",
        "0",
    ]);
    let mut a = a_server.client();
    wait_in_sync(&mut master, &mut a, LIMIT);
    let b_server = ServerProcess::sluice(&["--replicaof", "127.0.0.1", &a_server.port.to_string()]);
    let mut b = b_server.client();
    wait_in_sync(&mut master, &mut b, LIMIT);
    assert_same_data(&mut master, &mut b, DATABASES);

    more_writes(&mut master, 1);
    let mut blocked = master_server.client();
    blocked
        .send(&["BRPOP", "chain-queue", "10"])
        .expect("send BRPOP");
    wait_for(
        LIMIT,
        "the BRPOP to block",
        || stat_blocked(&mut master) == 1,
        String::new,
    );
    master.cmd(&["LPUSH", "chain-queue", "x", "y"]);
    assert!(!blocked.read().expect("BRPOP reply").is_error());
    wait_in_sync(&mut master, &mut a, LIMIT);
    wait_in_sync(&mut master, &mut b, LIMIT);
    assert_same_data(&mut master, &mut a, DATABASES);
    assert_same_data(&mut master, &mut b, DATABASES);
    let offsets: Vec<String> = [&mut master, &mut a, &mut b]
        .into_iter()
        .map(|c| repl_field(c, "master_repl_offset"))
        .collect();
    assert!(
        offsets.iter().all(|o| *o == offsets[0]),
        "offsets along the chain: {offsets:?}"
    );
    let replids: Vec<String> = [&mut master, &mut a, &mut b]
        .into_iter()
        .map(|c| repl_field(c, "master_replid"))
        .collect();
    assert!(
        replids.iter().all(|r| *r == replids[0]),
        "replids along the chain: {replids:?}"
    );
    assert_eq!(repl_field(&mut a, "connected_slaves"), "1");
    assert_eq!(stat(&mut master, "sync_full"), 1);
    assert_eq!(stat(&mut a, "sync_full"), 1);
    // The first write after the syncs lands in the db the snapshot's stream had selected.
    master.cmd(&["SELECT", "15"]);
    master.cmd(&["SET", "db15:first-after-sync", "1"]);
    master.cmd(&["SELECT", "0"]);

    // Local writes on a writable replica stay local: B never sees them, and the offsets
    // along the chain stay the master's.
    assert_eq!(
        a.cmd_text(&["CONFIG", "SET", "replica-read-only", "no"]),
        "OK"
    );
    assert_eq!(a.cmd_text(&["SET", "local-only", "1"]), "OK");
    master.cmd(&["SET", "after-local", "1"]);
    wait_in_sync(&mut master, &mut a, LIMIT);
    wait_in_sync(&mut master, &mut b, LIMIT);
    assert_eq!(b.cmd(&["EXISTS", "local-only"]).int(), Some(0));
    assert_eq!(b.cmd_text(&["GET", "after-local"]), "1");
    assert_eq!(a.cmd(&["DEL", "local-only"]).int(), Some(1));
    assert_eq!(
        a.cmd_text(&["CONFIG", "SET", "replica-read-only", "yes"]),
        "OK"
    );

    // A's link drops and continues: B, on the same history, is left alone.
    assert_eq!(a.cmd(&["CLIENT", "KILL", "TYPE", "master"]).int(), Some(1));
    more_writes(&mut master, 2);
    wait_for(
        LIMIT,
        "A's partial resync",
        || stat(&mut master, "sync_partial_ok") == 1,
        || a_server.log_text(),
    );
    wait_in_sync(&mut master, &mut b, LIMIT);
    assert_same_data(&mut master, &mut b, DATABASES);
    assert_eq!(stat(&mut a, "sync_full"), 1);
    assert_eq!(
        stat(&mut a, "sync_partial_ok"),
        0,
        "B should have kept its link to A"
    );

    // A follows another master with other data: it full-syncs and B follows it there.
    let other_server = ServerProcess::sluice(&["--repl-diskless-sync-delay", "0"]);
    let mut other = other_server.client();
    other.cmd(&["SET", "other", "data"]);
    other.cmd(&["SELECT", "4"]);
    other.cmd(&["HSET", "other-hash", "f", "v"]);
    other.cmd(&["SELECT", "0"]);
    assert_eq!(
        a.cmd_text(&["REPLICAOF", "127.0.0.1", &other_server.port.to_string()]),
        "OK"
    );
    wait_in_sync(&mut other, &mut a, LIMIT);
    wait_in_sync(&mut other, &mut b, LIMIT);
    assert_same_data(&mut other, &mut b, DATABASES);
    assert_eq!(
        repl_field(&mut b, "master_replid"),
        repl_field(&mut other, "master_replid")
    );
    other.cmd(&["INCR", "other-counter"]);
    wait_in_sync(&mut other, &mut b, LIMIT);
    assert_eq!(b.cmd_text(&["GET", "other-counter"]), "1");
}

/// M with replicas A and B; A is promoted and B, re-pointed to A, continues with PSYNC.
#[test]
fn promoted_replica_serves_its_former_sibling_by_psync() {
    // The master's periodic PINGs would extend its history past the promotion point and
    // make the later PSYNCs (rightly) full syncs: keep them out of the test's span.
    let master_server = ServerProcess::sluice(&[
        "--repl-diskless-sync-delay",
        "0",
        "--repl-ping-replica-period",
        "1000",
    ]);
    let mut master = master_server.client();
    populate_mixed(&mut master);
    let port = master_server.port.to_string();
    let a_server = ServerProcess::sluice(&["--replicaof", "127.0.0.1", &port]);
    let b_server = ServerProcess::sluice(&["--replicaof", "127.0.0.1", &port]);
    let (mut a, mut b) = (a_server.client(), b_server.client());
    wait_in_sync(&mut master, &mut a, LIMIT);
    wait_in_sync(&mut master, &mut b, LIMIT);
    more_writes(&mut master, 1);
    wait_in_sync(&mut master, &mut a, LIMIT);
    wait_in_sync(&mut master, &mut b, LIMIT);
    let old_replid = repl_field(&mut master, "master_replid");

    assert_eq!(a.cmd_text(&["REPLICAOF", "NO", "ONE"]), "OK");
    assert_eq!(repl_field(&mut a, "role"), "master");
    assert_eq!(repl_field(&mut a, "master_replid2"), old_replid);
    assert_ne!(repl_field(&mut a, "master_replid"), old_replid);
    let (full_before, partial_before) =
        (stat(&mut a, "sync_full"), stat(&mut a, "sync_partial_ok"));
    assert_eq!(
        b.cmd_text(&["REPLICAOF", "127.0.0.1", &a_server.port.to_string()]),
        "OK"
    );
    more_writes(&mut a, 2);
    wait_in_sync(&mut a, &mut b, LIMIT);
    assert_eq!(
        stat(&mut a, "sync_full"),
        full_before,
        "B must not full-sync from A"
    );
    assert!(
        stat(&mut a, "sync_partial_ok") > partial_before,
        "B continues with PSYNC; A's log:\n{}",
        a_server.log_text()
    );
    assert_same_data(&mut a, &mut b, DATABASES);
    assert_eq!(
        repl_field(&mut b, "master_replid"),
        repl_field(&mut a, "master_replid")
    );
    // A keeps streaming to B.
    a.cmd(&["SET", "after-promotion", "1"]);
    a.cmd(&["MULTI"]);
    a.cmd(&["INCR", "after-promotion"]);
    a.cmd(&["EXEC"]);
    wait_in_sync(&mut a, &mut b, LIMIT);
    assert_eq!(b.cmd_text(&["GET", "after-promotion"]), "2");
    assert_same_data(&mut a, &mut b, DATABASES);

    // The old master, demoted to a replica of A, continues its own history there too.
    let partial_before = stat(&mut a, "sync_partial_ok");
    assert_eq!(
        master.cmd_text(&["REPLICAOF", "127.0.0.1", &a_server.port.to_string()]),
        "OK"
    );
    wait_in_sync(&mut a, &mut master, LIMIT);
    assert_eq!(
        stat(&mut a, "sync_full"),
        full_before,
        "the old master must not full-sync"
    );
    assert_eq!(stat(&mut a, "sync_partial_ok"), partial_before + 1);
    assert_same_data(&mut a, &mut master, DATABASES);
    assert_eq!(repl_field(&mut a, "connected_slaves"), "2");
}

/// Replicas that arrive within `repl-diskless-sync-delay` share one snapshot.
#[test]
fn replicas_within_the_diskless_delay_share_one_snapshot() {
    let master_server = ServerProcess::sluice(&[
        "--repl-diskless-sync",
        "yes",
        "--repl-diskless-sync-delay",
        "2",
    ]);
    let mut master = master_server.client();
    populate_mixed(&mut master);
    let replicas = start_replicas_together(master_server.port, 3);
    for server in &replicas {
        let mut replica = server.client();
        wait_in_sync(&mut master, &mut replica, LIMIT);
        assert_same_data(&mut master, &mut replica, DATABASES);
    }
    assert_eq!(stat(&mut master, "sync_full"), 3);
    assert_eq!(
        stat(&mut master, "sync_snapshots"),
        1,
        "{}",
        master_server.log_text()
    );
    more_writes(&mut master, 1);
    assert_eq!(master.cmd(&["WAIT", "3", "5000"]).int(), Some(3));
    for server in &replicas {
        let mut replica = server.client();
        wait_in_sync(&mut master, &mut replica, LIMIT);
        assert_same_data(&mut master, &mut replica, DATABASES);
    }
    // A fourth replica does not make WAIT wait for more than there are.
    master.cmd(&["SET", "last", "1"]);
    assert_eq!(master.cmd(&["WAIT", "4", "300"]).int(), Some(3));
}

const READONLY: &[u8] = b"-READONLY You can't write against a read only replica.\r\n";

#[test]
fn a_read_only_replica_refuses_writes() {
    let master_server = ServerProcess::sluice(&["--repl-diskless-sync-delay", "0"]);
    let mut master = master_server.client();
    master.cmd(&["SET", "k", "from-master"]);
    let replica_server = ServerProcess::sluice(&[
        "--replicaof",
        "127.0.0.1",
        &master_server.port.to_string(),
        "--replica-read-only",
        "yes",
    ]);
    let mut replica = replica_server.client();
    wait_in_sync(&mut master, &mut replica, LIMIT);
    assert_eq!(replica.cmd_raw(&["SET", "k", "local"]), READONLY);
    assert_eq!(replica.cmd_raw(&["DEL", "k"]), READONLY);
    assert_eq!(replica.cmd_raw(&["LPUSH", "l", "x"]), READONLY);
    // Inside a transaction the write is refused when queued.
    assert_eq!(replica.cmd_raw(&["MULTI"]), b"+OK\r\n");
    assert_eq!(replica.cmd_raw(&["SET", "k", "local"]), READONLY);
    assert_eq!(
        replica.cmd_raw(&["EXEC"]),
        b"-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
    assert_eq!(replica.cmd_text(&["GET", "k"]), "from-master");
    assert_eq!(repl_field(&mut replica, "slave_read_only"), "1");
    // The master's writes still apply.
    master.cmd(&["SET", "k", "updated"]);
    wait_in_sync(&mut master, &mut replica, LIMIT);
    assert_eq!(replica.cmd_text(&["GET", "k"]), "updated");
}

#[test]
fn stale_data_is_refused_while_the_link_is_down() {
    let master_server = ServerProcess::sluice(&["--repl-diskless-sync-delay", "0"]);
    let mut master = master_server.client();
    master.cmd(&["SET", "k", "v"]);
    let replica_server = ServerProcess::sluice(&[
        "--replicaof",
        "127.0.0.1",
        &master_server.port.to_string(),
        "--replica-serve-stale-data",
        "no",
    ]);
    let mut replica = replica_server.client();
    wait_in_sync(&mut master, &mut replica, LIMIT);
    assert_eq!(replica.cmd_text(&["GET", "k"]), "v");
    drop(master);
    drop(master_server);
    wait_for(
        LIMIT,
        "the replica to see its link down",
        || repl_field(&mut replica, "master_link_status") == "down",
        || replica_server.log_text(),
    );
    assert_eq!(
        replica.cmd_raw(&["GET", "k"]),
        b"-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.\r\n"
    );
    // Commands flagged stale-safe still answer.
    assert!(
        replica
            .cmd_text(&["INFO", "replication"])
            .contains("role:slave")
    );
    assert_eq!(replica.cmd_raw(&["PING"]), b"+PONG\r\n");
    // Once promoted, the data is served again.
    assert_eq!(replica.cmd_text(&["REPLICAOF", "NO", "ONE"]), "OK");
    assert_eq!(replica.cmd_text(&["GET", "k"]), "v");
}

#[test]
fn min_replicas_to_write_needs_an_online_replica() {
    let master_server = ServerProcess::sluice(&[
        "--repl-diskless-sync-delay",
        "0",
        "--min-replicas-to-write",
        "1",
        "--min-replicas-max-lag",
        "2",
    ]);
    let mut master = master_server.client();
    const NOREPLICAS: &[u8] = b"-NOREPLICAS Not enough good replicas to write.\r\n";
    assert_eq!(master.cmd_raw(&["SET", "k", "v"]), NOREPLICAS);
    assert_eq!(
        master.cmd_raw(&["GET", "k"]),
        b"$-1\r\n",
        "reads are not refused"
    );
    assert_eq!(repl_field(&mut master, "min_slaves_good_slaves"), "0");
    let replica_server =
        ServerProcess::sluice(&["--replicaof", "127.0.0.1", &master_server.port.to_string()]);
    let mut replica = replica_server.client();
    wait_for(
        LIMIT,
        "writes to be accepted once the replica is online",
        || master.cmd_raw(&["SET", "k", "v"]) == b"+OK\r\n",
        || master_server.log_text(),
    );
    assert_eq!(repl_field(&mut master, "min_slaves_good_slaves"), "1");
    assert_eq!(master.cmd(&["WAIT", "1", "5000"]).int(), Some(1));
    wait_in_sync(&mut master, &mut replica, LIMIT);
    assert_eq!(replica.cmd_text(&["GET", "k"]), "v");

    // A replica that stops acknowledging for longer than min-replicas-max-lag is no longer
    // good: writes are refused again until it resumes.
    signal(replica_server.pid(), "-STOP");
    let resumed = Resume(replica_server.pid());
    wait_for(
        LIMIT,
        "writes to be refused with a lagging replica",
        || master.cmd_raw(&["SET", "k", "w"]) == NOREPLICAS,
        || master_server.client().cmd_text(&["INFO", "replication"]),
    );
    assert_eq!(repl_field(&mut master, "min_slaves_good_slaves"), "0");
    drop(resumed);
    wait_for(
        LIMIT,
        "writes to be accepted once the replica acknowledges again",
        || master.cmd_raw(&["SET", "k", "w"]) == b"+OK\r\n",
        || master_server.client().cmd_text(&["INFO", "replication"]),
    );
    wait_in_sync(&mut master, &mut replica, LIMIT);
    assert_eq!(replica.cmd_text(&["GET", "k"]), "w");
}

/// With `repl-diskless-sync no`, replicas that arrive together each get an RDB file that
/// matches the offset they continue from, while writes go on (the files of concurrent syncs
/// once shared one temporary name and were sent by path, so a sync could send another's).
#[test]
fn concurrent_disk_syncs_end_with_equal_data_while_writes_go_on() {
    let master_server = ServerProcess::sluice(&["--repl-diskless-sync", "no"]);
    let mut master = master_server.client();
    populate_mixed(&mut master);
    let mut commands = Vec::new();
    // Enough that writing the files takes a while, so that they overlap.
    for i in 0..5_000 {
        commands.push(cmd(&["SET", &format!("bulk:{i}"), &"b".repeat(1000)]));
    }
    pipeline(&mut master, &commands);
    let port = master_server.port;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut client = Client::connect(port);
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                client.cmd(&["INCR", "counter"]);
                client.cmd(&["SET", &format!("during:{}", i % 1000), &i.to_string()]);
                i += 1;
            }
        })
    };
    let port_text = port.to_string();
    let replicas: Vec<ServerProcess> = std::thread::scope(|scope| {
        let starts: Vec<_> = (0..3)
            .map(|_| {
                scope.spawn(|| ServerProcess::sluice(&["--replicaof", "127.0.0.1", &port_text]))
            })
            .collect();
        starts
            .into_iter()
            .map(|s| s.join().expect("starting a replica"))
            .collect()
    });
    for server in &replicas {
        let mut replica = server.client();
        wait_for(
            LIMIT,
            "the replica's link",
            || repl_field(&mut replica, "master_link_status") == "up",
            || server.log_text(),
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().expect("writer");
    for server in &replicas {
        let mut replica = server.client();
        wait_in_sync(&mut master, &mut replica, LIMIT);
        assert_same_data(&mut master, &mut replica, DATABASES);
    }
    // One sync each: none was refused and retried.
    assert_eq!(
        stat(&mut master, "sync_full"),
        3,
        "{}",
        master_server.log_text()
    );
}

/// A replica cut off for longer than the in-memory backlog holds (no durable log) gets a
/// full sync, not a broken PSYNC.
#[test]
fn a_link_down_past_the_memory_backlog_needs_a_full_resync() {
    link_down_past_the_backlog(&["--repl-log-dir", ""], false);
}

/// The same with the durable log: it keeps everything since the last snapshot, so the
/// backlog moves on only once a snapshot lets it.
#[test]
fn a_link_down_past_the_durable_backlog_needs_a_full_resync() {
    link_down_past_the_backlog(&[], true);
}

fn link_down_past_the_backlog(log_args: &[&str], snapshot: bool) {
    let mut args = vec![
        "--repl-diskless-sync-delay",
        "0",
        "--repl-backlog-size",
        "16kb",
    ];
    args.extend_from_slice(log_args);
    let master_server = ServerProcess::sluice(&args);
    let mut master = master_server.client();
    populate_mixed(&mut master);
    let replica_server =
        ServerProcess::sluice(&["--replicaof", "127.0.0.1", &master_server.port.to_string()]);
    let mut replica = replica_server.client();
    wait_in_sync(&mut master, &mut replica, LIMIT);

    // The replica sleeps through its link's end and 200 KB of writes.
    signal(replica_server.pid(), "-STOP");
    let resume = Resume(replica_server.pid());
    assert_eq!(
        master.cmd(&["CLIENT", "KILL", "TYPE", "replica"]).int(),
        Some(1)
    );
    let value = "w".repeat(2000);
    // Two bursts apart in time: the durable log stores (and trims) whole chunks, and a
    // chunk is closed at the latest 50 ms after it opened.
    for burst in 0..2 {
        for i in 0..100 {
            master.cmd(&["SET", &format!("while-away:{burst}:{i}"), &value]);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    more_writes(&mut master, 1);
    if snapshot {
        assert_eq!(master.cmd_text(&["BGSAVE"]), "Background saving started");
    }
    wait_for(
        LIMIT,
        "the backlog to be trimmed",
        || {
            repl_field(&mut master, "repl_backlog_first_byte_offset")
                .parse::<u64>()
                .is_ok_and(|first| first > 1)
        },
        || master_server.client().cmd_text(&["INFO", "replication"]),
    );
    drop(resume);
    wait_for(
        LIMIT,
        "a full resync after the backlog moved on",
        || stat(&mut master, "sync_full") == 2,
        || replica_server.log_text(),
    );
    wait_in_sync(&mut master, &mut replica, LIMIT);
    assert_eq!(stat(&mut master, "sync_partial_ok"), 0);
    assert_eq!(stat(&mut master, "sync_partial_err"), 1);
    assert_same_data(&mut master, &mut replica, DATABASES);
}

/// Write commands of every family, including the rewritten and the blocking ones, reach the
/// replica as effects that rebuild the same data.
#[test]
fn every_kind_of_write_replicates() {
    let master_server = ServerProcess::sluice(&["--repl-diskless-sync-delay", "0"]);
    let mut master = master_server.client();
    populate_mixed(&mut master);
    let replica_server =
        ServerProcess::sluice(&["--replicaof", "127.0.0.1", &master_server.port.to_string()]);
    let mut replica = replica_server.client();
    wait_in_sync(&mut master, &mut replica, LIMIT);

    let commands = vec![
        cmd(&["SETEX", "setex", "100", "v"]),
        cmd(&["PSETEX", "psetex", "100000", "v"]),
        cmd(&["SET", "exat", "v", "EXAT", "4000000000"]),
        cmd(&["SET", "s:30", "new", "KEEPTTL", "GET"]),
        cmd(&["SET", "ttl:1", "kept", "KEEPTTL"]),
        cmd(&["SET", "nx", "1", "NX", "PX", "500000"]),
        cmd(&["SETNX", "setnx", "1"]),
        cmd(&["GETSET", "s:31", "swapped"]),
        cmd(&["MSETNX", "msetnx:a", "1", "msetnx:b", "2"]),
        cmd(&["INCRBY", "n", "7"]),
        cmd(&["DECRBY", "n", "2"]),
        cmd(&["SETRANGE", "s:32", "3", "abc"]),
        cmd(&["GETDEL", "s:33"]),
        cmd(&["GETEX", "ttl:2", "PERSIST"]),
        cmd(&["GETEX", "s:34", "EXAT", "4000000001"]),
        cmd(&["EXPIRE", "s:35", "100", "NX"]),
        cmd(&["EXPIRE", "ttl:3", "999999", "GT"]),
        cmd(&["PEXPIREAT", "s:36", "4000000002000"]),
        cmd(&["EXPIRE", "s:37", "0"]),
        cmd(&["PEXPIRE", "s:38", "-5"]),
        cmd(&["HSETNX", "hash:small", "f9", "v9"]),
        cmd(&["HINCRBY", "hash:small", "n", "3"]),
        cmd(&["HDEL", "hash:small", "f1", "f2", "f9", "n"]),
        cmd(&["SMOVE", "set:ints", "set:small", "3"]),
        cmd(&["SINTERSTORE", "set:inter", "set:big", "set:big"]),
        cmd(&["SUNIONSTORE", "set:union", "set:ints", "set:small"]),
        cmd(&["SDIFFSTORE", "set:diff", "set:big", "set:small"]),
        cmd(&["SPOP", "set:diff", "5"]),
        cmd(&["ZADD", "zset:small", "GT", "CH", "5", "a", "1", "b"]),
        cmd(&["ZINCRBY", "zset:small", "-1.5", "c"]),
        cmd(&["ZPOPMIN", "zset:big", "2"]),
        cmd(&["ZPOPMAX", "zset:big"]),
        cmd(&["ZREMRANGEBYSCORE", "zset:big", "-5", "0"]),
        cmd(&[
            "ZUNIONSTORE",
            "zset:union",
            "2",
            "zset:small",
            "zset:big",
            "WEIGHTS",
            "2",
            "1",
        ]),
        cmd(&["ZRANGESTORE", "zset:range", "zset:big", "0", "9"]),
        cmd(&["ZMPOP", "1", "zset:range", "MIN", "COUNT", "3"]),
        cmd(&["LMOVE", "list:big", "list:small", "LEFT", "RIGHT"]),
        cmd(&["LMPOP", "2", "nothing", "list:big", "RIGHT", "COUNT", "2"]),
        cmd(&["LSET", "list:small", "0", "first"]),
        cmd(&["LINSERT", "list:small", "BEFORE", "first", "zeroth"]),
        cmd(&["LREM", "list:big", "0", "item-100"]),
        cmd(&["LTRIM", "list:big", "0", "400"]),
        cmd(&["RENAMENX", "s:39", "renamed:39"]),
        cmd(&["COPY", "hash:big", "hash:copy"]),
        cmd(&["COPY", "zset:small", "zset:copy", "DB", "9"]),
        cmd(&["MOVE", "s:40", "8"]),
        cmd(&["UNLINK", "s:41", "s:42"]),
        cmd(&["SWAPDB", "1", "2"]),
        cmd(&["SELECT", "5"]),
        cmd(&["FLUSHDB", "ASYNC"]),
        cmd(&["SET", "db5:new", "v"]),
        cmd(&["SELECT", "0"]),
    ];
    pipeline(&mut master, &commands);

    // Blocking forms, served by later writes, arrive as their non-blocking effects.
    let blockers = [
        cmd(&["BLMOVE", "bq:1", "bq:dest", "LEFT", "LEFT", "10"]),
        cmd(&["BZPOPMIN", "bz:1", "10"]),
        cmd(&["BLMPOP", "10", "1", "bq:2", "LEFT", "COUNT", "2"]),
        cmd(&["BZMPOP", "10", "1", "bz:2", "MAX"]),
        cmd(&["BRPOPLPUSH", "bq:3", "bq:dest", "10"]),
    ];
    let mut blocked: Vec<Client> = Vec::new();
    for (i, args) in blockers.iter().enumerate() {
        let mut client = master_server.client();
        client.send(args).expect("sending a blocking command");
        blocked.push(client);
        wait_for(
            LIMIT,
            "the client to block",
            || stat_blocked(&mut master) == i as u64 + 1,
            String::new,
        );
    }
    pipeline(
        &mut master,
        &[
            cmd(&["RPUSH", "bq:1", "x", "y"]),
            cmd(&["ZADD", "bz:1", "1", "one", "2", "two"]),
            cmd(&["RPUSH", "bq:2", "a", "b", "c"]),
            cmd(&["ZADD", "bz:2", "1", "low", "9", "high"]),
            cmd(&["LPUSH", "bq:3", "z"]),
        ],
    );
    for mut client in blocked {
        let reply = client.read().expect("the blocked client's reply");
        assert!(!reply.is_error() && reply != Resp::NullArray, "{reply:?}");
    }
    wait_in_sync(&mut master, &mut replica, LIMIT);
    assert_same_data(&mut master, &mut replica, DATABASES);
    assert_eq!(db_sizes(&mut master), db_sizes(&mut replica));

    // Blocking commands write: a read-only replica refuses them like any write.
    assert_eq!(replica.cmd_raw(&["BLPOP", "bq:1", "1"]), READONLY);
}

/// Replicas hide keys past their expiry but never delete them: the master's DEL does.
#[test]
fn a_replica_hides_expired_keys_until_the_master_deletes_them() {
    let master_server = ServerProcess::sluice(&["--repl-diskless-sync-delay", "0"]);
    let mut master = master_server.client();
    assert_eq!(master.cmd_text(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]), "OK");
    let replica_server =
        ServerProcess::sluice(&["--replicaof", "127.0.0.1", &master_server.port.to_string()]);
    let mut replica = replica_server.client();
    wait_in_sync(&mut master, &mut replica, LIMIT);
    master.cmd(&["SET", "soon", "v", "PX", "100"]);
    master.cmd(&["SET", "kept", "v"]);
    wait_in_sync(&mut master, &mut replica, LIMIT);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(replica.cmd(&["GET", "soon"]), Resp::NullBulk);
    assert_eq!(replica.cmd(&["EXISTS", "soon"]).int(), Some(0));
    assert_eq!(
        replica.cmd(&["DBSIZE"]).int(),
        Some(2),
        "the replica deleted the key itself"
    );
    // The master finds it expired on access and sends the DEL.
    assert_eq!(master.cmd(&["GET", "soon"]), Resp::NullBulk);
    wait_in_sync(&mut master, &mut replica, LIMIT);
    assert_eq!(replica.cmd(&["DBSIZE"]).int(), Some(1));
}

/// `repl-diskless-sync-max-replicas` starts the shared snapshot as soon as that many
/// replicas wait, without sitting out the delay.
#[test]
fn enough_replicas_start_the_snapshot_before_the_delay() {
    let master_server = ServerProcess::sluice(&[
        "--repl-diskless-sync",
        "yes",
        "--repl-diskless-sync-delay",
        "300",
        "--repl-diskless-sync-max-replicas",
        "2",
    ]);
    let mut master = master_server.client();
    populate_mixed(&mut master);
    let port = master_server.port.to_string();
    let first = ServerProcess::sluice(&["--replicaof", "127.0.0.1", &port]);
    wait_for(
        LIMIT,
        "the first replica to wait for its snapshot",
        || {
            info_field(&mut master, "replication", "slave0")
                .unwrap_or_default()
                .contains("state=wait_bgsave")
        },
        || master_server.log_text(),
    );
    let second = ServerProcess::sluice(&["--replicaof", "127.0.0.1", &port]);
    for server in [&first, &second] {
        let mut replica = server.client();
        wait_in_sync(&mut master, &mut replica, LIMIT);
        assert_same_data(&mut master, &mut replica, DATABASES);
    }
    assert_eq!(stat(&mut master, "sync_snapshots"), 1);
    assert_eq!(stat(&mut master, "sync_full"), 2);
}

/// A master with requirepass: a replica with the wrong masterauth keeps retrying and logs
/// why; with the right one it syncs. Unauthenticated clients cannot start a sync.
#[test]
fn masterauth_against_requirepass() {
    let master_server =
        ServerProcess::sluice(&["--repl-diskless-sync-delay", "0", "--requirepass", "s3cret"]);
    let mut master = master_server.client();
    for command in [
        vec!["PSYNC", "?", "-1"],
        vec!["SYNC"],
        vec!["REPLCONF", "listening-port", "1234"],
    ] {
        assert_eq!(
            master.cmd_raw(&command),
            b"-NOAUTH Authentication required.\r\n"
        );
    }
    assert_eq!(master.cmd_text(&["AUTH", "s3cret"]), "OK");
    populate_mixed(&mut master);
    let replica_server = ServerProcess::sluice(&[
        "--replicaof",
        "127.0.0.1",
        &master_server.port.to_string(),
        "--masterauth",
        "wrong",
    ]);
    let mut replica = replica_server.client();
    wait_for(
        LIMIT,
        "the replica to log the refused AUTH",
        || {
            replica_server
                .log_text()
                .contains("unable to AUTH to MASTER")
        },
        || replica_server.log_text(),
    );
    assert_eq!(repl_field(&mut replica, "master_link_status"), "down");
    assert_eq!(stat(&mut master, "sync_full"), 0);
    assert_eq!(
        replica.cmd_text(&["CONFIG", "SET", "masterauth", "s3cret"]),
        "OK"
    );
    wait_in_sync(&mut master, &mut replica, LIMIT);
    assert_same_data(&mut master, &mut replica, DATABASES);
    more_writes(&mut master, 1);
    wait_in_sync(&mut master, &mut replica, LIMIT);
    assert_same_data(&mut master, &mut replica, DATABASES);
}

/// As in Redis, `min-replicas-max-lag 0` turns `min-replicas-to-write` off.
#[test]
fn min_replicas_with_a_max_lag_of_zero_is_off() {
    let server = ServerProcess::sluice(&[
        "--min-replicas-to-write",
        "1",
        "--min-replicas-max-lag",
        "0",
    ]);
    let mut client = server.client();
    assert_eq!(client.cmd_raw(&["SET", "k", "v"]), b"+OK\r\n");
    assert_eq!(
        info_field(&mut client, "replication", "min_slaves_good_slaves"),
        None
    );
    assert_eq!(
        client.cmd_text(&["CONFIG", "SET", "min-replicas-max-lag", "10"]),
        "OK"
    );
    assert_eq!(
        client.cmd_raw(&["SET", "k", "v"]),
        b"-NOREPLICAS Not enough good replicas to write.\r\n"
    );
    assert_eq!(repl_field(&mut client, "min_slaves_good_slaves"), "0");
}
