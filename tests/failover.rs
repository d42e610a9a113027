//! FAILOVER (Redis 7.0) between sluice nodes: under steady writes the master pauses them,
//! waits for the target to acknowledge everything, and hands over with `PSYNC … FAILOVER`;
//! no acknowledged write is lost and the old master continues as a replica by PSYNC. Also
//! the argument and state errors (compared byte for byte with redis-server), a target that
//! never catches up (abandoned at the timeout, writes resume) and FORCE. Everything runs on
//! loopback and every wait is bounded.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::compare::{assert_same_data, info_field, stat, wait_for, wait_in_sync};
use common::{Client, Kind, Resp, Resume, ServerProcess, redis_available, signal};

const LIMIT: Duration = Duration::from_secs(30);
const DATABASES: usize = 16;

fn start_pair(kind: Kind) -> (ServerProcess, ServerProcess) {
    let master = match kind {
        Kind::Sluice => ServerProcess::sluice(&[]),
        Kind::Redis => ServerProcess::redis(&[]),
    };
    let port = master.port.to_string();
    let replica = match kind {
        Kind::Sluice => ServerProcess::sluice(&["--replicaof", "127.0.0.1", &port]),
        Kind::Redis => ServerProcess::redis(&["--replicaof", "127.0.0.1", &port]),
    };
    wait_in_sync(&mut master.client(), &mut replica.client(), LIMIT);
    wait_online(&master);
    (master, replica)
}

/// Waits until the master lists a replica as online with an acknowledged offset.
fn wait_online(master: &ServerProcess) {
    let mut client = master.client();
    wait_for(
        LIMIT,
        "an online replica",
        || {
            info_field(&mut client, "replication", "slave0")
                .is_some_and(|line| line.contains("state=online"))
        },
        || master.log_text(),
    );
}

fn failover_state(client: &mut Client) -> String {
    info_field(client, "replication", "master_failover_state").unwrap_or_default()
}

#[test]
fn failover_errors_match_redis() {
    if !redis_available("failover_errors_match_redis") {
        return;
    }
    let mut replies = Vec::new();
    for kind in [Kind::Sluice, Kind::Redis] {
        let lone = match kind {
            Kind::Sluice => ServerProcess::sluice(&[]),
            Kind::Redis => ServerProcess::redis(&[]),
        };
        let (master, replica) = start_pair(kind);
        let mut out = Vec::new();
        let mut on_master = master.client();
        for args in [
            vec!["FAILOVER", "ABORT"],
            vec!["FAILOVER", "ABORT", "TIMEOUT", "5"],
            vec!["FAILOVER", "TIMEOUT"],
            vec!["FAILOVER", "TIMEOUT", "0"],
            vec!["FAILOVER", "TIMEOUT", "-5"],
            vec!["FAILOVER", "TIMEOUT", "abc"],
            vec!["FAILOVER", "TO", "127.0.0.1"],
            vec!["FAILOVER", "TO", "127.0.0.1", "notaport"],
            vec!["FAILOVER", "FORCE", "FORCE"],
            vec!["FAILOVER", "FORCE"],
            vec!["FAILOVER", "TO", "127.0.0.1", "1", "FORCE"],
            vec!["FAILOVER", "TIMEOUT", "10", "FORCE"],
            vec!["FAILOVER", "TO", "127.0.0.1", "1"],
            vec!["FAILOVER", "TO", "10.1.1.1", "1", "TIMEOUT", "100"],
            vec!["FAILOVER", "bogus"],
        ] {
            out.push((args.join(" "), on_master.cmd_raw(&args)));
        }
        let mut on_replica = replica.client();
        out.push((
            "FAILOVER on a replica".into(),
            on_replica.cmd_raw(&["FAILOVER"]),
        ));
        out.push((
            "FAILOVER on a lone master".into(),
            lone.client().cmd_raw(&["FAILOVER"]),
        ));
        out.push((
            "PSYNC FAILOVER to a master".into(),
            lone.client().cmd_raw(&["PSYNC", "?", "-1", "FAILOVER"]),
        ));
        let wrong_id = "0123456789012345678901234567890123456789";
        out.push((
            "PSYNC FAILOVER with another replid".into(),
            on_replica.cmd_raw(&["PSYNC", wrong_id, "1", "FAILOVER"]),
        ));
        assert_eq!(failover_state(&mut on_master), "no-failover");
        replies.push(out);
    }
    let (sluice, redis) = (&replies[0], &replies[1]);
    for ((command, ours), (_, theirs)) in sluice.iter().zip(redis) {
        assert_eq!(
            String::from_utf8_lossy(ours),
            String::from_utf8_lossy(theirs),
            "{command}"
        );
    }
}

/// Writes `w:<n>` one at a time; a write counts when its `+OK` arrives. On READONLY (the old
/// master became a replica) it moves to `next_port` and writes the same key again there.
struct SteadyWriter {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<WriterReport>>,
}

#[derive(Debug, Default)]
struct WriterReport {
    acknowledged: u64,
    longest_gap: Duration,
    readonly_replies: u64,
}

impl SteadyWriter {
    fn start(port: u16, next_port: u16) -> SteadyWriter {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut report = WriterReport::default();
                let mut client = Client::connect(port);
                let mut last_ack = Instant::now();
                let mut n = 0u64;
                let mut moved = false;
                while !stop.load(Ordering::Relaxed) {
                    let reply = client.cmd_raw(&["SET", &format!("w:{n}"), &n.to_string()]);
                    if reply == b"+OK\r\n" {
                        report.longest_gap = report.longest_gap.max(last_ack.elapsed());
                        last_ack = Instant::now();
                        n += 1;
                        report.acknowledged = n;
                    } else if reply.starts_with(b"-READONLY") && !moved {
                        report.readonly_replies += 1;
                        moved = true;
                        client = Client::connect(next_port);
                    } else {
                        panic!("write w:{n} answered {}", String::from_utf8_lossy(&reply));
                    }
                }
                report
            })
        };
        SteadyWriter {
            stop,
            thread: Some(thread),
        }
    }

    fn stop(mut self) -> WriterReport {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .map(|t| t.join().expect("the writer thread panicked"))
            .unwrap_or_default()
    }
}

impl Drop for SteadyWriter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[test]
fn failover_to_a_replica_under_writes_loses_nothing() {
    let (old_master, target) = start_pair(Kind::Sluice);
    let sibling =
        ServerProcess::sluice(&["--replicaof", "127.0.0.1", &old_master.port.to_string()]);
    let mut on_old = old_master.client();
    for i in 0..200 {
        assert!(
            !on_old
                .cmd(&["HSET", &format!("h:{i}"), "f", "v"])
                .is_error()
        );
    }
    wait_in_sync(&mut on_old, &mut sibling.client(), LIMIT);
    let partial_before = stat(&mut target.client(), "sync_partial_ok");

    let writer = SteadyWriter::start(old_master.port, target.port);
    std::thread::sleep(Duration::from_millis(300));
    let asked = Instant::now();
    let port = target.port.to_string();
    assert_eq!(
        on_old.cmd_text(&["FAILOVER", "TO", "127.0.0.1", &port, "TIMEOUT", "10000"]),
        "OK"
    );
    // The handover needs the target's next ACK (one a second).
    let mut on_target = target.client();
    wait_for(
        LIMIT,
        "the target to become the master",
        || info_field(&mut on_target, "replication", "role").as_deref() == Some("master"),
        || old_master.log_text(),
    );
    let mut on_old = old_master.client();
    wait_for(
        LIMIT,
        "the old master to follow the target with its link up",
        || {
            info_field(&mut on_old, "replication", "master_port").as_deref() == Some(port.as_str())
                && info_field(&mut on_old, "replication", "master_link_status").as_deref()
                    == Some("up")
                && failover_state(&mut on_old) == "no-failover"
        },
        || old_master.log_text(),
    );
    let handed_over = asked.elapsed();
    std::thread::sleep(Duration::from_millis(300));
    let report = writer.stop();
    println!(
        "FAILOVER TO under writes: handover {:.3} s after the command, longest write pause \
         {:.3} s, {} writes acknowledged",
        handed_over.as_secs_f64(),
        report.longest_gap.as_secs_f64(),
        report.acknowledged
    );
    assert_eq!(
        report.readonly_replies, 1,
        "the writer was sent to the new master once"
    );
    assert!(report.acknowledged > 0);

    // Every acknowledged write is on the new master, then on every node.
    for n in 0..report.acknowledged {
        assert_eq!(
            on_target.cmd(&["GET", &format!("w:{n}")]),
            Resp::Bulk(n.to_string().into_bytes()),
            "acknowledged write w:{n} is missing on the new master"
        );
    }
    wait_in_sync(&mut on_target, &mut old_master.client(), LIMIT);
    assert_same_data(&mut on_target, &mut old_master.client(), DATABASES);
    // The sibling stays attached to the old master, now a chain through it.
    wait_in_sync(&mut on_target, &mut sibling.client(), LIMIT);
    assert_same_data(&mut on_target, &mut sibling.client(), DATABASES);
    // The old master continued; nothing was copied again.
    assert_eq!(stat(&mut on_target, "sync_full"), 0);
    assert!(stat(&mut on_target, "sync_partial_ok") > partial_before);
    assert_eq!(failover_state(&mut on_target), "no-failover");
}

#[test]
fn failover_without_a_target_picks_a_replica_that_caught_up() {
    let (master, replica) = start_pair(Kind::Sluice);
    let mut client = master.client();
    assert_eq!(client.cmd_text(&["SET", "k", "v"]), "OK");
    assert_eq!(client.cmd_text(&["FAILOVER"]), "OK");
    let mut on_replica = replica.client();
    wait_for(
        LIMIT,
        "the replica to take over",
        || info_field(&mut on_replica, "replication", "role").as_deref() == Some("master"),
        || master.log_text(),
    );
    let mut on_old = master.client();
    wait_in_sync(&mut on_replica, &mut on_old, LIMIT);
    assert_eq!(on_replica.cmd_text(&["GET", "k"]), "v");
}

#[test]
fn a_target_that_never_catches_up_is_abandoned_and_writes_resume() {
    let (master, replica) = start_pair(Kind::Sluice);
    let _resume = Resume(replica.pid());
    signal(replica.pid(), "-STOP");
    let mut client = master.client();
    assert_eq!(client.cmd_text(&["SET", "ahead", "1"]), "OK");
    let port = replica.port.to_string();
    assert_eq!(
        client.cmd_text(&["FAILOVER", "TO", "127.0.0.1", &port, "TIMEOUT", "500"]),
        "OK"
    );
    assert_eq!(failover_state(&mut client), "waiting-for-sync");
    assert_eq!(
        client.cmd_raw(&["REPLICAOF", "127.0.0.1", &port]),
        b"-ERR REPLICAOF not allowed while failing over.\r\n"
    );
    assert_eq!(
        client.cmd_raw(&["FAILOVER"]),
        b"-ERR FAILOVER already in progress.\r\n"
    );
    // A write waits for the failover to end; reads go on meanwhile.
    let mut writer = master.client();
    writer
        .send(&["SET", "paused", "1"])
        .expect("sending a write");
    assert_eq!(client.cmd_text(&["GET", "ahead"]), "1");
    let reply = writer.read().expect("the paused write's reply");
    assert_eq!(reply, Resp::Simple(b"OK".to_vec()));
    // The reply came only once the failover had been abandoned: had the write not waited,
    // it would have been answered while the state still said waiting-for-sync.
    assert_eq!(failover_state(&mut client), "no-failover");
    assert_eq!(client.cmd_text(&["GET", "paused"]), "1");
    assert_eq!(
        info_field(&mut client, "replication", "role").as_deref(),
        Some("master")
    );
    assert!(
        master
            .log_text()
            .contains("Replica never caught up before timeout"),
        "{}",
        master.log_text()
    );
    signal(replica.pid(), "-CONT");
    wait_in_sync(&mut client, &mut replica.client(), LIMIT);
}

#[test]
fn failover_abort_resumes_writes() {
    let (master, replica) = start_pair(Kind::Sluice);
    let _resume = Resume(replica.pid());
    signal(replica.pid(), "-STOP");
    let mut client = master.client();
    assert_eq!(client.cmd_text(&["SET", "ahead", "1"]), "OK");
    assert_eq!(client.cmd_text(&["FAILOVER"]), "OK");
    let mut writer = master.client();
    writer.send(&["INCR", "counter"]).expect("sending a write");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(client.cmd_text(&["FAILOVER", "ABORT"]), "OK");
    assert_eq!(
        writer.read().expect("the paused write's reply"),
        Resp::Integer(1)
    );
    assert_eq!(failover_state(&mut client), "no-failover");
    signal(replica.pid(), "-CONT");
    wait_in_sync(&mut client, &mut replica.client(), LIMIT);
}

#[test]
fn forced_failover_hands_over_to_a_lagging_target() {
    let (master, replica) = start_pair(Kind::Sluice);
    let resume = Resume(replica.pid());
    signal(replica.pid(), "-STOP");
    let mut client = master.client();
    assert_eq!(client.cmd_text(&["SET", "unacknowledged", "1"]), "OK");
    let port = replica.port.to_string();
    assert_eq!(
        client.cmd_text(&[
            "FAILOVER",
            "TO",
            "127.0.0.1",
            &port,
            "FORCE",
            "TIMEOUT",
            "300"
        ]),
        "OK"
    );
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(failover_state(&mut client), "failover-in-progress");
    drop(resume);
    let mut on_replica = replica.client();
    wait_for(
        LIMIT,
        "the lagging target to take over",
        || info_field(&mut on_replica, "replication", "role").as_deref() == Some("master"),
        || master.log_text(),
    );
    let mut on_old = master.client();
    wait_in_sync(&mut on_replica, &mut on_old, LIMIT);
    assert_eq!(failover_state(&mut on_old), "no-failover");
    // FORCE hands over what the target has: the old master's later write may be gone,
    // and both nodes agree either way.
    assert_same_data(&mut on_replica, &mut on_old, DATABASES);
}
