//! The full-sync sender (io_uring, and the epoll fallback forced by `repl-io-engine epoll`):
//! replicas that arrive together share one snapshot fanned out to all of them, a replica
//! that stops reading falls behind alone and is dropped alone, without delaying the others,
//! and a stock redis-server replica loads what it sends.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::compare::{assert_same_data, info_field, load_keys, stat, wait_for, wait_in_sync};
use common::{Client, ServerProcess, redis_available};

const LIMIT: Duration = Duration::from_secs(60);
const ENGINES: [&str; 2] = ["auto", "epoll"];

fn load(client: &mut Client, keys: usize) {
    load_keys(client, keys, 1000);
    client.cmd(&["RPUSH", "list", "a", "b"]);
}

/// A replica that asks for a full sync and then never reads a byte.
fn silent_replica(port: u16) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let handshake = b"*3\r\n$8\r\nREPLCONF\r\n$14\r\nlistening-port\r\n$4\r\n9999\r\n\
                      *5\r\n$8\r\nREPLCONF\r\n$4\r\ncapa\r\n$3\r\neof\r\n$4\r\ncapa\r\n$6\r\npsync2\r\n\
                      *3\r\n$5\r\nPSYNC\r\n$1\r\n?\r\n$2\r\n-1\r\n";
    s.write_all(handshake).expect("handshake");
    s
}

fn master(engine: &str, extra: &[&str]) -> ServerProcess {
    let mut args = vec!["--repl-io-engine", engine];
    args.extend_from_slice(extra);
    let master = ServerProcess::sluice(&args);
    let expected = if engine == "epoll" { "epoll" } else { "" };
    let reported = info_field(&mut master.client(), "replication", "repl_io_engine")
        .expect("repl_io_engine in INFO");
    if !expected.is_empty() {
        assert_eq!(reported, expected);
    }
    println!("engine {engine}: sender {reported}");
    master
}

#[test]
fn replicas_arriving_together_share_one_fanned_out_snapshot() {
    for engine in ENGINES {
        let master = master(
            engine,
            &[
                "--repl-diskless-sync-delay",
                "5",
                "--repl-diskless-sync-max-replicas",
                "3",
            ],
        );
        let mut m = master.client();
        load(&mut m, 20_000);
        let port = master.port.to_string();
        let replicas: Vec<ServerProcess> = (0..3)
            .map(|_| ServerProcess::sluice(&["--replicaof", "127.0.0.1", &port]))
            .collect();
        for replica in &replicas {
            wait_in_sync(&mut m, &mut replica.client(), LIMIT);
            assert_same_data(&mut m, &mut replica.client(), 1);
        }
        assert_eq!(stat(&mut m, "sync_full"), 3);
        assert_eq!(
            stat(&mut m, "sync_snapshots"),
            1,
            "one snapshot for all three"
        );
        let engine_used = info_field(&mut m, "replication", "repl_io_engine").unwrap_or_default();
        if engine_used == "io_uring" && kernel_has_send_zc() {
            // 1 MiB chunks go out zero-copy, and the sender waited for their notifications
            // (it logs the counts when it ends).
            let mut line = String::new();
            wait_for(
                LIMIT,
                "the sender's summary",
                || {
                    line = master
                        .log_text()
                        .lines()
                        .find(|l| l.contains("full-sync sender done"))
                        .unwrap_or_default()
                        .to_string();
                    !line.is_empty()
                },
                || master.log_text(),
            );
            let zero_copy: u64 = line
                .split("zero_copy=")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            assert!(zero_copy > 0, "no zero-copy send: {line}");
            assert!(
                !master.log_text().contains("buffers are leaked"),
                "every notification came"
            );
        }
    }
}

/// SEND_ZC exists from Linux 6.0 on.
fn kernel_has_send_zc() -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut parts = release.trim().split('.');
    let major: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    major >= 6
}

#[test]
fn a_replica_that_stops_reading_does_not_delay_the_others() {
    for engine in ENGINES {
        let master = master(
            engine,
            &[
                "--repl-diskless-sync-delay",
                "5",
                "--repl-diskless-sync-max-replicas",
                "3",
                "--client-output-buffer-limit",
                "replica 4mb 0 0",
            ],
        );
        let mut m = master.client();
        // 40 MB: far more than the silent replica's socket buffers and its 4 MB window.
        load(&mut m, 40_000);
        let port = master.port.to_string();
        let _silent = silent_replica(master.port);
        let replicas: Vec<ServerProcess> = (0..2)
            .map(|_| ServerProcess::sluice(&["--replicaof", "127.0.0.1", &port]))
            .collect();
        let started = Instant::now();
        for replica in &replicas {
            wait_in_sync(&mut m, &mut replica.client(), LIMIT);
        }
        println!(
            "engine {engine}: both replicas in sync {:?} after they started",
            started.elapsed()
        );
        wait_for(
            LIMIT,
            "the silent replica to be dropped",
            || info_field(&mut m, "replication", "connected_slaves").as_deref() == Some("2"),
            || master.log_text(),
        );
        assert!(
            master.log_text().contains("replica too slow"),
            "{}",
            master.log_text()
        );
        for replica in &replicas {
            assert_same_data(&mut m, &mut replica.client(), 1);
        }
    }
}

#[test]
fn a_redis_replica_loads_what_the_sender_sends() {
    if !redis_available("a_redis_replica_loads_what_the_sender_sends") {
        return;
    }
    for engine in ENGINES {
        let master = master(engine, &["--repl-diskless-sync-delay", "0"]);
        let mut m = master.client();
        load(&mut m, 5_000);
        let replica = ServerProcess::redis(&["--replicaof", "127.0.0.1", &master.port.to_string()]);
        wait_in_sync(&mut m, &mut replica.client(), LIMIT);
        assert_same_data(&mut m, &mut replica.client(), 1);
    }
}

/// `redis-cli --rdb` announces `REPLCONF rdb-only 1`: it gets the snapshot, and the master
/// ends the connection instead of streaming; the file passes redis-check-rdb.
#[test]
fn redis_cli_rdb_gets_the_snapshot_alone() {
    let Some(cli) = common::tool_available("redis-cli", "redis_cli_rdb_gets_the_snapshot_alone")
    else {
        return;
    };
    let Some(check) =
        common::tool_available("redis-check-rdb", "redis_cli_rdb_gets_the_snapshot_alone")
    else {
        return;
    };
    for engine in ENGINES {
        let master = master(engine, &["--repl-diskless-sync-delay", "0"]);
        load(&mut master.client(), 2_000);
        let file = master.dir().join("cli.rdb");
        let port = master.port.to_string();
        let (code, out, err) = common::run_bounded(
            std::process::Command::new(&cli).args([
                "-p",
                &port,
                "--rdb",
                file.to_str().expect("utf-8 path"),
            ]),
            LIMIT,
        );
        assert_eq!(code, Some(0), "redis-cli --rdb: {out}{err}");
        let (code, out, err) =
            common::run_bounded(std::process::Command::new(&check).arg(&file), LIMIT);
        assert_eq!(code, Some(0), "redis-check-rdb: {out}{err}");
        wait_for(
            LIMIT,
            "the rdb-only connection to end",
            || {
                info_field(&mut master.client(), "replication", "connected_slaves").as_deref()
                    == Some("0")
            },
            || master.log_text(),
        );
    }
}
