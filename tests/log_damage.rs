//! Damage to a replica's durable log on disk: bytes of a stored record flipped in sled's
//! files, or the store's files replaced by garbage. The replica must log what it found, fall
//! back (to an earlier point of its log, its snapshot alone, or a full sync) and end with its
//! master's data, never with wrong data and never refusing to start.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::compare::{assert_same_data, wait_for_snapshot, wait_in_sync};
use common::{Client, ServerProcess};

const LIMIT: Duration = Duration::from_secs(60);
const DATABASES: usize = 4;

fn setup() -> (ServerProcess, ServerProcess) {
    let master = ServerProcess::sluice(&["--repl-diskless-sync-delay", "0"]);
    let mut m = master.client();
    for i in 0..200 {
        m.cmd(&["SET", &format!("base:{i}"), "b"]);
    }
    let port = master.port.to_string();
    let replica = ServerProcess::sluice(&["--replicaof", "127.0.0.1", &port]);
    wait_in_sync(&mut m, &mut replica.client(), LIMIT);
    wait_for_snapshot(&replica, LIMIT);
    (master, replica)
}

/// Writes after the snapshot, so that they live only in the log, each value marked.
fn write_marked(m: &mut Client, marker: &str) {
    for i in 0..50 {
        m.cmd(&["SET", &format!("logged:{i}"), &format!("{marker}-{i:04}")]);
    }
}

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(files_under(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}

/// Flips one byte inside every occurrence of `needle` in the files under `dir`; returns how
/// many it damaged.
fn flip_occurrences(dir: &Path, needle: &[u8]) -> usize {
    let mut damaged = 0;
    for path in files_under(dir) {
        let Ok(mut bytes) = std::fs::read(&path) else {
            continue;
        };
        let mut found = false;
        let mut at = 0;
        while let Some(pos) = bytes[at..].windows(needle.len()).position(|w| w == needle) {
            let hit = at + pos + needle.len() / 2;
            bytes[hit] ^= 0x20;
            damaged += 1;
            found = true;
            at = at + pos + needle.len();
        }
        if found {
            std::fs::write(&path, &bytes).expect("writing the damaged file");
        }
    }
    damaged
}

fn restart_and_check(master: &ServerProcess, replica: &mut ServerProcess) {
    replica.restart();
    wait_in_sync(&mut master.client(), &mut replica.client(), LIMIT);
    assert_same_data(&mut master.client(), &mut replica.client(), DATABASES);
}

#[test]
fn a_flipped_byte_in_a_stored_record_is_found_and_data_ends_equal() {
    let (master, mut replica) = setup();
    let marker = "DAMAGE-ME-7f3a9c";
    write_marked(&mut master.client(), marker);
    wait_in_sync(&mut master.client(), &mut replica.client(), LIMIT);
    replica.shutdown();
    let damaged = flip_occurrences(&replica.dir().join("replog"), marker.as_bytes());
    assert!(
        damaged > 0,
        "the marked records should be in the log's files: {:?}\n{}",
        files_under(&replica.dir().join("replog"))
            .iter()
            .map(|p| (p.clone(), std::fs::metadata(p).map_or(0, |m| m.len())))
            .collect::<Vec<_>>(),
        replica.log_text()
    );
    // More writes while it is down, so that a fallback has something to catch up on.
    write_marked(&mut master.client(), "AFTER");
    restart_and_check(&master, &mut replica);
    let log = replica.log_text();
    // Found by our record CRCs, by sled's own checks (a log that ends earlier than it was
    // durable), or by sled refusing to open: each is logged.
    let reported = [
        "CRC",
        "damaged",
        "does not open",
        "not replayed",
        "replay stopped",
        "were lost",
    ]
    .iter()
    .any(|word| log.contains(word));
    assert!(reported, "the damage must be logged:\n{log}");
}

#[test]
fn a_store_replaced_by_garbage_is_moved_aside_and_the_replica_still_starts() {
    let (master, mut replica) = setup();
    write_marked(&mut master.client(), "GARBAGE-CASE");
    wait_in_sync(&mut master.client(), &mut replica.client(), LIMIT);
    replica.kill9();
    let store = replica.dir().join("replog");
    for path in files_under(&store) {
        let len = usize::try_from(std::fs::metadata(&path).map_or(0, |m| m.len())).unwrap();
        let garbage: Vec<u8> = (0..len.max(64))
            .map(|i| u8::try_from(i * 131 % 251).unwrap())
            .collect();
        std::fs::write(&path, garbage).expect("writing garbage");
    }
    restart_and_check(&master, &mut replica);
    let log = replica.log_text();
    assert!(
        log.contains("does not open") || log.contains("damaged") || log.contains("not replayed"),
        "the unusable store must be logged:\n{log}"
    );
}

#[test]
fn a_deleted_snapshot_with_a_log_that_needs_it_falls_back_to_a_full_sync() {
    let (master, mut replica) = setup();
    write_marked(&mut master.client(), "NO-SNAPSHOT");
    wait_in_sync(&mut master.client(), &mut replica.client(), LIMIT);
    replica.kill9();
    std::fs::remove_file(replica.dir().join("dump.rdb")).expect("removing the snapshot");
    restart_and_check(&master, &mut replica);
    assert!(
        replica.log_text().contains("there is no RDB file"),
        "{}",
        replica.log_text()
    );
}
