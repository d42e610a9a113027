//! Replication under faults on the master side: a replica that stops reading is dropped
//! alone, writes made during a full sync all arrive, and a replica killed with -9 comes back
//! with a partial resync.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::compare::{assert_same_data, info_field, wait_in_sync};
use common::{ServerProcess, signal};

const LIMIT: Duration = Duration::from_secs(30);

/// A replica written by hand: completes a diskless full sync, acknowledges once, then never
/// reads again.
fn stalled_replica(port: u16) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let handshake = b"*1\r\n$4\r\nPING\r\n*3\r\n$8\r\nREPLCONF\r\n$14\r\nlistening-port\r\n$4\r\n9999\r\n\
                      *5\r\n$8\r\nREPLCONF\r\n$4\r\ncapa\r\n$3\r\neof\r\n$4\r\ncapa\r\n$6\r\npsync2\r\n\
                      *3\r\n$5\r\nPSYNC\r\n$1\r\n?\r\n$2\r\n-1\r\n";
    s.write_all(handshake).expect("handshake");
    let mut received = Vec::new();
    let mut buf = [0u8; 65536];
    let deadline = Instant::now() + LIMIT;
    // Read until the $EOF mark repeats at the end of what arrived.
    loop {
        assert!(
            Instant::now() < deadline,
            "fake replica never got its payload"
        );
        let n = s.read(&mut buf).expect("read");
        assert!(n > 0, "master closed the fake replica");
        received.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&received).into_owned();
        if let Some(at) = text.find("$EOF:") {
            let mark = &received[at + 5..at + 45];
            if received.len() >= at + 47 + 40 && received.ends_with(mark) {
                break;
            }
        }
    }
    s.write_all(b"*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$1\r\n0\r\n")
        .expect("ack");
    s
}

#[test]
fn a_replica_that_stops_reading_is_dropped_alone() {
    if !common::redis_available("a_replica_that_stops_reading_is_dropped_alone") {
        return;
    }
    let master_server = ServerProcess::sluice(&[
        "--repl-diskless-sync-delay",
        "0",
        "--client-output-buffer-limit",
        "replica 1mb 0 0",
    ]);
    let mut master = master_server.client();
    master.cmd(&["SET", "seed", "1"]);
    let replica_server =
        ServerProcess::redis(&["--replicaof", "127.0.0.1", &master_server.port.to_string()]);
    let mut replica = replica_server.client();
    wait_in_sync(&mut master, &mut replica, LIMIT);
    let _stalled = stalled_replica(master_server.port);
    let deadline = Instant::now() + LIMIT;
    while info_field(&mut master, "replication", "connected_slaves").as_deref() != Some("2") {
        assert!(
            Instant::now() < deadline,
            "the fake replica never came online"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Far more than the stalled replica's socket buffers and its 1 MB limit.
    let value = "v".repeat(100_000);
    for i in 0..300 {
        master.cmd(&["SET", &format!("big:{i}"), &value]);
    }
    let deadline = Instant::now() + LIMIT;
    while info_field(&mut master, "replication", "connected_slaves").as_deref() != Some("1") {
        assert!(
            Instant::now() < deadline,
            "the stalled replica was never dropped"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    wait_in_sync(&mut master, &mut replica, LIMIT);
    assert_same_data(&mut master, &mut replica, 1);
}

#[test]
fn writes_during_a_full_sync_all_arrive() {
    if !common::redis_available("writes_during_a_full_sync_all_arrive") {
        return;
    }
    let master_server = ServerProcess::sluice(&["--repl-diskless-sync-delay", "0"]);
    let mut master = master_server.client();
    let value = "x".repeat(1000);
    let mut pipeline = Vec::new();
    for i in 0..100_000 {
        pipeline.extend(common::encode_command(&["SET", &format!("k{i}"), &value]));
    }
    master.send_raw(&pipeline).expect("load");
    for _ in 0..100_000 {
        master.read().expect("reply");
    }
    let port = master_server.port;
    let writer = std::thread::spawn(move || {
        let mut c = common::Client::connect(port);
        for i in 0..3000 {
            c.cmd(&["SET", &format!("during:{i}"), &i.to_string()]);
            c.cmd(&["INCR", "during-counter"]);
        }
    });
    let replica_server = ServerProcess::redis(&["--replicaof", "127.0.0.1", &port.to_string()]);
    let mut replica = replica_server.client();
    writer.join().expect("writer");
    wait_in_sync(&mut master, &mut replica, LIMIT);
    assert_eq!(
        replica.cmd(&["GET", "during-counter"]).text().as_deref(),
        Some("3000")
    );
    assert_same_data(&mut master, &mut replica, 1);
}

#[test]
fn shutdown_waits_for_lagging_replicas_and_can_be_aborted() {
    if !common::redis_available("shutdown_waits_for_lagging_replicas_and_can_be_aborted") {
        return;
    }
    let mut master_server = ServerProcess::sluice(&[
        "--repl-diskless-sync-delay",
        "0",
        "--shutdown-timeout",
        "20",
    ]);
    let mut master = master_server.client();
    master.cmd(&["SET", "before", "1"]);
    let replica_server =
        ServerProcess::redis(&["--replicaof", "127.0.0.1", &master_server.port.to_string()]);
    let mut replica = replica_server.client();
    wait_in_sync(&mut master, &mut replica, LIMIT);

    // The replica stops processing: writes made now are not acknowledged.
    signal(replica_server.pid(), "-STOP");
    for i in 0..100 {
        master.cmd(&["SET", &format!("late:{i}"), "v"]);
    }
    let mut stopper = master_server.client();
    stopper.send(&["SHUTDOWN"]).expect("send");
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !master_server.exited_within(Duration::from_millis(10)),
        "SHUTDOWN did not wait for the replica"
    );
    assert_eq!(master.cmd_text(&["SHUTDOWN", "ABORT"]), "OK");
    assert!(
        stopper
            .read()
            .expect("reply to aborted SHUTDOWN")
            .is_error()
    );
    assert_eq!(master.cmd_raw(&["PING"]), b"+PONG\r\n");

    // Shut down again; once the replica resumes and catches up, the master exits.
    stopper.send(&["SHUTDOWN"]).expect("send");
    std::thread::sleep(Duration::from_millis(200));
    signal(replica_server.pid(), "-CONT");
    assert!(
        master_server.exited_within(LIMIT),
        "master did not exit after the replica caught up"
    );
    let mut replica = replica_server.client();
    for i in 0..100 {
        assert_eq!(
            replica.cmd(&["EXISTS", &format!("late:{i}")]).int(),
            Some(1),
            "late:{i} lost"
        );
    }
}
