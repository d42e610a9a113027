//! Failover under three stock redis-sentinel processes: a sluice master and two replicas
//! (both sluice, or one of them a stock redis-server), writes acknowledged by `WAIT 1 100`,
//! the master killed with -9. Sentinel must promote a replica, the other must follow it by
//! partial resync, every acknowledged write must be on the new master, and the old master,
//! restarted, must be turned into a replica by Sentinel and end with the same data, by
//! PSYNC when its recovered history is a prefix of the new master's. A third case makes
//! Sentinel promote the redis-server replica (by `replica-priority`), which the sluice
//! replica and the returning sluice master must then follow.
//! Skipped with a notice when redis-sentinel is not installed. Everything runs on loopback
//! and every wait is bounded.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

mod common;

use std::time::{Duration, Instant};

use common::compare::{assert_same_data, info_field, stat, wait_for, wait_in_sync};
use common::sentinel::{AckedWriter, Sentinel, missing_acknowledged, sentinel_available};
use common::{Client, Kind, Resp, ServerProcess, redis_available};

const DOWN_AFTER_MS: u64 = 1000;
const QUORUM: u32 = 2;
/// Sentinel discovery (hellos every 2 s, INFO every 10 s) and a failover both take seconds.
const TOPOLOGY_LIMIT: Duration = Duration::from_secs(40);
const FAILOVER_LIMIT: Duration = Duration::from_secs(60);
const DATABASES: usize = 16;

fn start_replica(kind: Kind, master_port: u16, priority: u32) -> ServerProcess {
    let port = master_port.to_string();
    let priority = priority.to_string();
    let args = [
        "--replicaof",
        "127.0.0.1",
        &port,
        "--replica-priority",
        &priority,
    ];
    match kind {
        Kind::Sluice => ServerProcess::sluice(&args),
        Kind::Redis => ServerProcess::redis(&args),
    }
}

fn populate(client: &mut Client) {
    for i in 0..300 {
        assert!(
            !client
                .cmd(&["SET", &format!("base:{i}"), &format!("v{i}")])
                .is_error()
        );
    }
    assert!(
        !client
            .cmd(&["RPUSH", "base:list", "a", "b", "c"])
            .is_error()
    );
    assert!(
        !client
            .cmd(&["HSET", "base:hash", "f", "1", "g", "2"])
            .is_error()
    );
    assert!(
        !client
            .cmd(&["ZADD", "base:zset", "1", "a", "2.5", "b"])
            .is_error()
    );
    assert!(
        !client
            .cmd(&["SET", "base:ttl", "x", "EX", "100000"])
            .is_error()
    );
}

/// Waits until every sentinel knows both replicas and the two other sentinels.
fn wait_for_topology(sentinels: &[Sentinel]) {
    for sentinel in sentinels {
        wait_for(
            TOPOLOGY_LIMIT,
            "sentinel discovery of 2 replicas and 2 other sentinels",
            || {
                sentinel.master_field("num-slaves").as_deref() == Some("2")
                    && sentinel.master_field("num-other-sentinels").as_deref() == Some("2")
            },
            || sentinel.log_text(),
        );
    }
}

/// The port every sentinel agrees is the master, once it differs from `old`.
fn wait_for_new_master(sentinels: &[Sentinel], old: u16) -> u16 {
    let deadline = Instant::now() + FAILOVER_LIMIT;
    loop {
        if let Some(port) = sentinels[0].master_port()
            && port != old
        {
            return port;
        }
        if Instant::now() >= deadline {
            let logs: Vec<String> = sentinels.iter().map(Sentinel::log_text).collect();
            panic!("no sentinel promoted a replica within {FAILOVER_LIMIT:?}; logs:\n{logs:#?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until the first write on `port` is accepted; returns when.
fn wait_for_first_write(port: u16) -> Instant {
    let deadline = Instant::now() + FAILOVER_LIMIT;
    loop {
        if let Ok(mut client) = Client::try_connect(port)
            && client
                .cmd_raw_io(&["SET", "failover:first-write", "1"])
                .is_ok_and(|r| r == b"+OK\r\n")
        {
            return Instant::now();
        }
        assert!(
            Instant::now() < deadline,
            "the new master on {port} refused writes for {FAILOVER_LIMIT:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn replication_info(port: u16) -> Option<String> {
    let mut client = Client::try_connect(port).ok()?;
    let raw = client.cmd_raw_io(&["INFO", "replication"]).ok()?;
    Some(String::from_utf8_lossy(&raw).into_owned())
}

/// Waits until `server` replicates from `master_port` with its link up.
fn wait_following(server: &ServerProcess, master_port: u16, what: &str) {
    let master = master_port.to_string();
    wait_for(
        FAILOVER_LIMIT,
        what,
        || {
            // A fresh connection each time: Sentinel's reconfiguration ends with
            // `CLIENT KILL TYPE normal`, which closes ours too.
            let Some(info) = replication_info(server.port) else {
                return false;
            };
            common::info_field(&info, "master_port").as_deref() == Some(master.as_str())
                && common::info_field(&info, "master_link_status").as_deref() == Some("up")
        },
        || server.log_text(),
    );
}

/// Every log of the setup, for a failure that depends on who told whom what.
fn everything_logged(sentinels: &[Sentinel], nodes: [&ServerProcess; 3]) -> String {
    let mut text = String::new();
    for node in nodes {
        text += &format!(
            "\n===== {:?} node on port {}\n{}",
            node.kind,
            node.port,
            node.log_text()
        );
    }
    for sentinel in sentinels {
        text += &format!(
            "\n===== sentinel on port {}\n{}",
            sentinel.port,
            sentinel.log_text()
        );
    }
    text
}

/// `prefer_other`: the sluice replica gets a worse `replica-priority`, so that Sentinel
/// promotes the other one (a redis-server, to check sluice following a promoted Redis).
fn failover_under_sentinel(other_kind: Kind, prefer_other: bool) {
    let sluice_priority: u32 = if prefer_other { 200 } else { 100 };
    // The master's priority counts once it is restarted: Sentinel lists it as a replica of
    // the new master, and if the new master stalls past down-after-milliseconds it may pick
    // the returning old master for a second failover. With the default 100 it would beat
    // the sluice replica's 200, be promoted with the history it had at the kill, and the
    // writes made since the first failover would be replaced by that older dataset.
    let mut master = ServerProcess::sluice(&["--replica-priority", &sluice_priority.to_string()]);
    populate(&mut master.client());
    let mut replicas = [
        start_replica(Kind::Sluice, master.port, sluice_priority),
        start_replica(other_kind, master.port, 100),
    ];
    for replica in &replicas {
        wait_in_sync(&mut master.client(), &mut replica.client(), FAILOVER_LIMIT);
    }
    let sentinels: Vec<Sentinel> = (0..3)
        .map(|_| Sentinel::start(master.port, QUORUM, DOWN_AFTER_MS))
        .collect();
    wait_for_topology(&sentinels);

    let writer = AckedWriter::start(master.port, 0);
    let started = Instant::now();
    while writer.acknowledged_batches().len() < 50 {
        assert!(
            started.elapsed() < FAILOVER_LIMIT,
            "WAIT acknowledged too few batches: {}",
            writer.acknowledged_batches().len()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let old_port = master.port;
    master.kill9();
    let killed_at = Instant::now();
    let acknowledged = writer.stop();

    let new_port = wait_for_new_master(&sentinels, old_port);
    let first_write = wait_for_first_write(new_port);
    let (promoted, follower) = if replicas[0].port == new_port {
        let [a, b] = &mut replicas;
        (a, b)
    } else {
        let [a, b] = &mut replicas;
        (b, a)
    };
    assert_eq!(
        promoted.port, new_port,
        "the promoted server is one of ours"
    );
    if prefer_other {
        assert_eq!(
            promoted.kind, other_kind,
            "Sentinel follows replica-priority"
        );
    }
    println!(
        "failover with a {other_kind:?} replica: {:.2} s from kill -9 to the first accepted write \
         on the new master ({:?}, down-after-milliseconds {DOWN_AFTER_MS})",
        (first_write - killed_at).as_secs_f64(),
        promoted.kind,
    );
    let mut new_master = promoted.client();
    assert_eq!(
        info_field(&mut new_master, "replication", "role").as_deref(),
        Some("master")
    );

    let missing = missing_acknowledged(new_port, &acknowledged);
    assert!(
        missing.is_empty(),
        "{} acknowledged batches, but the new master lacks {missing:?}",
        acknowledged.len()
    );

    // Sentinel re-points the other replica; it must continue, not copy everything again.
    wait_following(
        follower,
        new_port,
        "the other replica following the new master",
    );
    for i in 0..100 {
        assert!(
            !new_master
                .cmd(&["SET", &format!("after:{i}"), "x"])
                .is_error()
        );
    }
    wait_in_sync(&mut new_master, &mut follower.client(), FAILOVER_LIMIT);
    let partial = stat(&mut new_master, "sync_partial_ok");
    let full = stat(&mut new_master, "sync_full");
    println!("new master after the follower joined: sync_partial_ok={partial} sync_full={full}");
    assert!(
        partial >= 1 && full == 0,
        "the other replica should continue by PSYNC: sync_partial_ok={partial} sync_full={full}\n{}",
        follower.log_text()
    );
    assert_same_data(&mut new_master, &mut follower.client(), DATABASES);

    // The old master comes back as a master of its own history; Sentinel demotes it. It
    // recovers its log up to its durable offset; if the promoted replica had received at
    // least that much, the old master's history is a prefix of the new master's and it
    // must continue by PSYNC instead of copying everything again.
    let promotion_end: u64 = info_field(&mut new_master, "replication", "second_repl_offset")
        .and_then(|v| v.parse().ok())
        .expect("second_repl_offset on the new master");
    let full_before = stat(&mut new_master, "sync_full");
    master.restart();
    // The offset is known once the log has been replayed.
    wait_for(
        FAILOVER_LIMIT,
        "the restarted old master to finish loading",
        || {
            Client::try_connect(master.port)
                .ok()
                .and_then(|mut c| c.cmd_raw_io(&["INFO", "persistence"]).ok())
                .is_some_and(|raw| {
                    common::info_field(&String::from_utf8_lossy(&raw), "loading").as_deref()
                        == Some("0")
                })
        },
        || master.log_text(),
    );
    let recovered: u64 = replication_info(master.port)
        .and_then(|info| common::info_field(&info, "master_repl_offset"))
        .and_then(|v| v.parse().ok())
        .expect("master_repl_offset on the restarted old master");
    // On a loaded 2-core machine a node can stall past down-after-milliseconds and Sentinel
    // fails over once more; the old master must then follow whoever is master now.
    let current_port = sentinels[0].master_port().unwrap_or(new_port);
    let failed_over_again = current_port != new_port;
    if failed_over_again {
        println!("Sentinel failed over again, to port {current_port}; following that master");
        new_master = Client::connect(current_port);
    }
    let mut following = 0u16;
    wait_for(
        FAILOVER_LIMIT,
        "the restarted old master following the master Sentinel names",
        || {
            let Some(port) = sentinels[0].master_port() else {
                return false;
            };
            following = port;
            replication_info(master.port).is_some_and(|info| {
                // Sentinel may also promote the old master itself in a second failover;
                // then it is the master everyone else must follow.
                let promoted_again = port == master.port
                    && common::info_field(&info, "role").as_deref() == Some("master");
                promoted_again
                    || common::info_field(&info, "master_port").as_deref()
                        == Some(port.to_string().as_str())
                        && common::info_field(&info, "master_link_status").as_deref() == Some("up")
            })
        },
        || everything_logged(&sentinels, [&master, &*follower, &*promoted]),
    );
    if following != current_port {
        println!("Sentinel failed over again, to port {following}; following that master");
        new_master = Client::connect(following);
    }
    let failed_over_again = failed_over_again || following != new_port;
    for i in 0..100 {
        assert!(
            !new_master
                .cmd(&["SET", &format!("rejoined:{i}"), "y"])
                .is_error()
        );
    }
    // Every node that is not the master now must hold the master's data.
    let master_now = if failed_over_again {
        following
    } else {
        new_port
    };
    for node in [&master, &*follower, &*promoted] {
        if node.port == master_now {
            continue;
        }
        wait_following(node, master_now, "every other node following the master");
        wait_in_sync(&mut new_master, &mut node.client(), FAILOVER_LIMIT);
        assert_same_data(&mut new_master, &mut node.client(), DATABASES);
    }
    assert!(missing_acknowledged(master.port, &acknowledged).is_empty());
    let full_after = stat(&mut new_master, "sync_full");
    println!(
        "old master rejoined as a replica: recovered offset {recovered}, promotion at {}, \
         new master sync_partial_ok={} sync_full={full_after}",
        promotion_end - 1,
        stat(&mut new_master, "sync_partial_ok"),
    );
    if recovered < promotion_end && !failed_over_again {
        assert_eq!(
            full_after,
            full_before,
            "the old master's history ({recovered}) is a prefix of the new master's \
             (promoted at {}): it must continue by PSYNC\n{}",
            promotion_end - 1,
            master.log_text()
        );
    }
    let sentinel_view =
        Client::connect(sentinels[0].port).cmd(&["SENTINEL", "REPLICAS", "mymaster"]);
    assert!(
        matches!(sentinel_view, Resp::Array(ref r) if r.len() == 2),
        "{sentinel_view:?}"
    );
}

/// One Sentinel setup at a time: three sentinels and their servers per test on 2 cores
/// already come close to stalling a node past `down-after-milliseconds`.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serialized() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[test]
fn sentinel_fails_over_sluice_replicas() {
    if !sentinel_available("sentinel_fails_over_sluice_replicas") {
        return;
    }
    let _one = serialized();
    failover_under_sentinel(Kind::Sluice, false);
}

#[test]
fn sentinel_fails_over_with_a_redis_replica() {
    if !sentinel_available("sentinel_fails_over_with_a_redis_replica")
        || !redis_available("sentinel_fails_over_with_a_redis_replica")
    {
        return;
    }
    let _one = serialized();
    failover_under_sentinel(Kind::Redis, false);
}

#[test]
fn sentinel_promotes_a_redis_replica_that_sluice_nodes_follow() {
    if !sentinel_available("sentinel_promotes_a_redis_replica_that_sluice_nodes_follow")
        || !redis_available("sentinel_promotes_a_redis_replica_that_sluice_nodes_follow")
    {
        return;
    }
    let _one = serialized();
    failover_under_sentinel(Kind::Redis, true);
}
