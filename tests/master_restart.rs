//! A sluice master killed with -9 and started again on the same port and dir keeps its
//! history: it recovers its data from its durable log, takes a new replid with the old one
//! as replid2 up to the recovered offset, and so continues every replica whose offset it
//! still covers, while a replica that holds more than it kept gets a full sync (never a
//! CONTINUE over a history it lost). With `repl-ship-durable yes` replicas only ever hold
//! what the master kept, so every one continues. Data ends equal key by key every time.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

mod common;

use std::time::Duration;

use common::compare::{assert_same_data, info_field, repl_field, stat, wait_for, wait_in_sync};
use common::writes::Writer;
use common::{Client, ServerProcess};

const LIMIT: Duration = Duration::from_secs(60);
const DATABASES: usize = 4;

struct Cluster {
    master: ServerProcess,
    replicas: Vec<ServerProcess>,
}

impl Cluster {
    fn start(master_args: &[&str], replicas: usize) -> Cluster {
        let mut args = vec!["--repl-diskless-sync-delay", "0"];
        args.extend_from_slice(master_args);
        let master = ServerProcess::sluice(&args);
        let mut m = master.client();
        for i in 0..300 {
            m.cmd(&["SET", &format!("base:{i}"), &"b".repeat(50)]);
        }
        let port = master.port.to_string();
        let replicas: Vec<ServerProcess> = (0..replicas)
            .map(|_| ServerProcess::sluice(&["--replicaof", "127.0.0.1", &port]))
            .collect();
        let cluster = Cluster { master, replicas };
        cluster.wait_all_in_sync();
        cluster
    }

    fn m(&self) -> Client {
        self.master.client()
    }

    fn wait_all_in_sync(&self) {
        for replica in &self.replicas {
            wait_in_sync(&mut self.m(), &mut replica.client(), LIMIT);
        }
    }

    fn assert_all_equal(&self) {
        for replica in &self.replicas {
            assert_same_data(&mut self.m(), &mut replica.client(), DATABASES);
        }
    }

    /// The restarted master's data is served: it has finished loading and replaying.
    fn wait_master_loaded(&self) {
        let mut m = self.m();
        wait_for(
            LIMIT,
            "the restarted master to finish loading",
            || info_field(&mut m, "persistence", "loading").as_deref() == Some("0"),
            || self.master.log_text(),
        );
    }

    fn offset(client: &mut Client, field: &str) -> u64 {
        repl_field(client, field).parse().unwrap_or(0)
    }
}

fn wait_durable(master: &ServerProcess) {
    let mut m = master.client();
    wait_for(
        LIMIT,
        "the master's log to be durable up to its end",
        || {
            let end = Cluster::offset(&mut m, "master_repl_offset");
            Cluster::offset(&mut m, "repl_log_durable_offset") == end
        },
        || master.log_text(),
    );
}

#[test]
fn a_master_killed_with_a_durable_log_continues_every_replica() {
    let mut cluster = Cluster::start(&[], 2);
    let writer = Writer::start(cluster.master.port, 0);
    std::thread::sleep(Duration::from_millis(500));
    writer.stop();
    cluster.wait_all_in_sync();
    wait_durable(&cluster.master);
    let before = Cluster::offset(&mut cluster.m(), "master_repl_offset");
    cluster.master.kill9();
    cluster.master.restart();
    cluster.wait_master_loaded();
    let mut m = cluster.m();
    assert_eq!(
        Cluster::offset(&mut m, "second_repl_offset"),
        before + 1,
        "the old history stays valid up to the recovered offset"
    );
    cluster.wait_all_in_sync();
    assert_eq!(
        stat(&mut m, "sync_full"),
        0,
        "{}",
        cluster.master.log_text()
    );
    assert_eq!(stat(&mut m, "sync_partial_ok"), 2);
    cluster.assert_all_equal();
}

/// Writes the master acknowledged but never flushed are gone after its kill; replicas that
/// received them hold a history the master no longer has and must sync in full.
#[test]
fn a_master_that_lost_unflushed_writes_gives_full_syncs_where_history_diverged() {
    let mut cluster = Cluster::start(&["--repl-log-fsync", "no"], 2);
    let mut m = cluster.m();
    assert_eq!(
        m.cmd_text(&["CONFIG", "SET", "repl-log-fsync", "always"]),
        "OK"
    );
    m.cmd(&["SET", "durable", "1"]);
    wait_durable(&cluster.master);
    assert_eq!(m.cmd_text(&["CONFIG", "SET", "repl-log-fsync", "no"]), "OK");
    for i in 0..20 {
        m.cmd(&["SET", &format!("maybe-lost:{i}"), "x"]);
    }
    cluster.wait_all_in_sync();
    let replica_offset = Cluster::offset(&mut m, "master_repl_offset");
    cluster.master.kill9();
    cluster.master.restart();
    cluster.wait_master_loaded();
    let mut m = cluster.m();
    let recovered = Cluster::offset(&mut m, "second_repl_offset") - 1;
    cluster.wait_all_in_sync();
    let (full, partial) = (stat(&mut m, "sync_full"), stat(&mut m, "sync_partial_ok"));
    if recovered < replica_offset {
        assert_eq!(
            (full, partial),
            (2, 0),
            "replicas ahead of the master's history"
        );
    } else {
        assert_eq!((full, partial), (0, 2), "the master kept everything");
    }
    assert_eq!(m.cmd_text(&["GET", "durable"]), "1");
    cluster.assert_all_equal();
    println!("recovered offset {recovered}, replicas were at {replica_offset}");
}

#[test]
fn with_repl_ship_durable_every_replica_continues_after_a_master_kill() {
    let mut cluster = Cluster::start(&["--repl-ship-durable", "yes"], 2);
    for round in 0..3 {
        let writer = Writer::start(cluster.master.port, round * 1_000_000);
        std::thread::sleep(Duration::from_millis(700));
        // Killed in the middle of the writes: replicas hold only what was durable.
        cluster.master.kill9();
        writer.stop();
        cluster.master.restart();
        cluster.wait_master_loaded();
        cluster.wait_all_in_sync();
        let mut m = cluster.m();
        assert_eq!(
            stat(&mut m, "sync_full"),
            0,
            "{}",
            cluster.master.log_text()
        );
        assert_eq!(stat(&mut m, "sync_partial_ok"), 2);
        cluster.assert_all_equal();
    }
}

/// Kills at random moments of the write stream, without repl-ship-durable: replicas may be
/// ahead of what the master kept, and then resync in full; the data ends equal every time.
#[test]
fn a_loop_of_master_kills_ends_with_equal_data_every_time() {
    let mut cluster = Cluster::start(&[], 2);
    for round in 0..8u64 {
        let writer = Writer::start(cluster.master.port, round * 1_000_000);
        std::thread::sleep(Duration::from_millis(200 + (round * 137) % 600));
        cluster.master.kill9();
        writer.stop();
        cluster.master.restart();
        cluster.wait_master_loaded();
        cluster.wait_all_in_sync();
        cluster.assert_all_equal();
        let mut m = cluster.m();
        println!(
            "round {round}: sync_full {} sync_partial_ok {}",
            stat(&mut m, "sync_full"),
            stat(&mut m, "sync_partial_ok")
        );
    }
}
