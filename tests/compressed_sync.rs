//! zstd-compressed full syncs: a sluice replica announces `capa zstd` and, from a master with
//! `repl-compression zstd`, gets its snapshot compressed (far fewer bytes on the wire for
//! text values); a stock redis-server replica of the same master still gets plain RDB; a
//! compressed stream damaged in flight is refused (old data kept) and the retry succeeds.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use common::compare::{assert_same_data, wait_for, wait_in_sync};
use common::{Client, ServerProcess, redis_available};

const LIMIT: Duration = Duration::from_secs(60);

/// JSON-like text values, each generated on its own (no repeats across values to find).
fn load_text(client: &mut Client, keys: usize) {
    for start in (0..keys).step_by(100) {
        let mut args = vec!["MSET".to_string()];
        for i in start..(start + 100).min(keys) {
            args.push(format!("doc:{i:06}"));
            args.push(format!(
                "{{\"id\":{i},\"name\":\"user-{i}\",\"status\":\"active\",\"tags\":[\"alpha\",\"bravo\",\"{}\"],\"score\":{}}}",
                i % 97,
                i * 7 % 1000
            ));
        }
        assert!(!client.cmd(&args).is_error());
    }
}

/// Bytes the master's log says each payload took, in order.
fn payload_sizes(log: &str) -> Vec<u64> {
    log.lines()
        .filter(|l| l.contains("full sync payload sent"))
        .filter_map(|l| {
            l.split_whitespace()
                .find_map(|w| w.strip_prefix("bytes="))
                .and_then(|v| v.parse().ok())
        })
        .collect()
}

#[test]
fn a_sluice_replica_gets_a_compressed_full_sync() {
    let master = ServerProcess::sluice(&[
        "--repl-diskless-sync-delay",
        "0",
        "--repl-compression",
        "zstd",
    ]);
    let mut m = master.client();
    load_text(&mut m, 20_000);
    let port = master.port.to_string();
    let compressed = ServerProcess::sluice(&["--replicaof", "127.0.0.1", &port]);
    wait_in_sync(&mut m, &mut compressed.client(), LIMIT);
    assert_same_data(&mut m, &mut compressed.client(), 1);
    assert!(compressed.log_text().contains("zstd-framed"));
    // The same snapshot, plain, for comparison.
    assert_eq!(
        m.cmd_text(&["CONFIG", "SET", "repl-compression", "no"]),
        "OK"
    );
    let plain = ServerProcess::sluice(&["--replicaof", "127.0.0.1", &port]);
    wait_in_sync(&mut m, &mut plain.client(), LIMIT);
    let sizes = payload_sizes(&master.log_text());
    assert_eq!(sizes.len(), 2, "{}", master.log_text());
    println!("compressed {} bytes, plain {} bytes", sizes[0], sizes[1]);
    assert!(
        sizes[0] * 3 < sizes[1],
        "text values should compress well: {sizes:?}"
    );
}

#[test]
fn a_redis_replica_gets_plain_rdb_from_a_master_set_to_zstd() {
    if !redis_available("a_redis_replica_gets_plain_rdb_from_a_master_set_to_zstd") {
        return;
    }
    let master = ServerProcess::sluice(&[
        "--repl-diskless-sync-delay",
        "0",
        "--repl-compression",
        "zstd",
    ]);
    let mut m = master.client();
    load_text(&mut m, 5_000);
    let redis = ServerProcess::redis(&["--replicaof", "127.0.0.1", &master.port.to_string()]);
    wait_in_sync(&mut m, &mut redis.client(), LIMIT);
    assert_same_data(&mut m, &mut redis.client(), 1);
}

/// Forwards connections to `target`; the first one gets one byte flipped at `flip_at` of
/// the master's side, or is cut there when `cut`.
fn corrupting_proxy(target: u16, flip_at: usize, cut: bool) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let connections = Arc::new(AtomicUsize::new(0));
    let count = connections.clone();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            let Ok(upstream) = TcpStream::connect(("127.0.0.1", target)) else {
                return;
            };
            let n = count.fetch_add(1, Ordering::SeqCst);
            let (mut c_read, mut u_write) = (
                client.try_clone().expect("clone"),
                upstream.try_clone().expect("clone"),
            );
            std::thread::spawn(move || {
                let mut buf = [0u8; 16384];
                while let Ok(k) = c_read.read(&mut buf) {
                    if k == 0 || u_write.write_all(&buf[..k]).is_err() {
                        break;
                    }
                }
            });
            let (mut u_read, mut c_write) = (upstream, client);
            let flipped = Arc::new(AtomicBool::new(n > 0));
            std::thread::spawn(move || {
                let mut buf = [0u8; 16384];
                let mut seen = 0usize;
                while let Ok(k) = u_read.read(&mut buf) {
                    if k == 0 {
                        break;
                    }
                    if !flipped.load(Ordering::SeqCst) && seen + k > flip_at {
                        flipped.store(true, Ordering::SeqCst);
                        if cut {
                            let _ = c_write.write_all(&buf[..flip_at - seen]);
                            let _ = c_write.shutdown(std::net::Shutdown::Both);
                            let _ = u_read.shutdown(std::net::Shutdown::Both);
                            break;
                        }
                        buf[flip_at - seen] ^= 0x55;
                    }
                    seen += k;
                    if c_write.write_all(&buf[..k]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    (port, connections)
}

#[test]
fn a_compressed_stream_damaged_in_flight_is_refused_and_retried() {
    damaged_in_flight(false);
}

#[test]
fn a_compressed_stream_cut_mid_way_is_retried() {
    damaged_in_flight(true);
}

fn damaged_in_flight(cut: bool) {
    let master = ServerProcess::sluice(&[
        "--repl-diskless-sync-delay",
        "0",
        "--repl-compression",
        "zstd",
    ]);
    let mut m = master.client();
    load_text(&mut m, 20_000);
    // Deep inside the payload: past the handshake replies and the first frames' headers.
    let (proxy, connections) = corrupting_proxy(master.port, 60_000, cut);
    let replica = ServerProcess::sluice(&[]);
    let mut r = replica.client();
    r.cmd(&["SET", "old-data", "kept"]);
    r.cmd(&["REPLICAOF", "127.0.0.1", &proxy.to_string()]);
    wait_for(
        LIMIT,
        "a second connection after the damaged one",
        || connections.load(Ordering::SeqCst) >= 2,
        || replica.log_text(),
    );
    let log = replica.log_text();
    let found = if cut {
        log.contains("lost") || log.contains("closed") || log.contains("failed")
    } else {
        log.contains("compressed full sync from the master")
            || log.contains("loading the master's RDB failed")
    };
    assert!(found, "the damage must be found and logged:\n{log}");

    wait_in_sync(&mut m, &mut replica.client(), LIMIT);
    assert_same_data(&mut m, &mut replica.client(), 1);
}
