//! A sluice replica of a stock redis-server whose clients use a command sluice cannot apply:
//! the link stops (the command is never skipped), the replica keeps serving its data and
//! shows why in INFO, then after a back-off asks for a full sync and, the data being of a type
//! it loads, ends with its master's data and streams again, by itself.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

mod common;

use std::time::{Duration, Instant};

use common::compare::{assert_same_data, info_field, wait_for, wait_in_sync};
use common::{ServerProcess, redis_available};

const LIMIT: Duration = Duration::from_secs(60);

/// Writes Redis 7.0 propagates as themselves, whose keys are strings (a type sluice loads
/// from an RDB). The first one sluice does not implement is used. `payload` is a DUMP of a
/// string for RESTORE-ASKING (RESTORE as a cluster sends it, which a stock master also
/// runs and propagates).
fn candidates(payload: &[u8]) -> Vec<Vec<Vec<u8>>> {
    let words = |w: &[&str]| w.iter().map(|s| s.as_bytes().to_vec()).collect::<Vec<_>>();
    let mut restore = words(&["RESTORE-ASKING", "restored", "0"]);
    restore.push(payload.to_vec());
    vec![
        words(&["SETBIT", "bits", "7", "1"]),
        words(&["PFADD", "hll", "a", "b"]),
        words(&["SPUBLISH", "shard-channel", "message"]),
        restore,
    ]
}

#[test]
fn a_command_sluice_cannot_apply_stops_the_link_until_a_full_sync_heals_it() {
    if !redis_available("a_command_sluice_cannot_apply_stops_the_link_until_a_full_sync_heals_it") {
        return;
    }
    let master = ServerProcess::redis(&["--repl-diskless-sync-delay", "0"]);
    let mut m = master.client();
    for i in 0..100 {
        m.cmd(&["SET", &format!("before:{i}"), "v"]);
    }
    let port = master.port.to_string();
    let replica = ServerProcess::sluice(&["--replicaof", "127.0.0.1", &port]);
    let mut r = replica.client();
    wait_in_sync(&mut m, &mut r, LIMIT);
    let common::Resp::Bulk(payload) = m.cmd(&["DUMP", "before:0"]) else {
        panic!("DUMP of a string gave no payload");
    };
    let Some(unknown) = candidates(&payload)
        .into_iter()
        .find(|c| r.cmd_text(c).starts_with("ERR unknown command"))
    else {
        eprintln!("NOTICE: replica_heals skipped: sluice implements every candidate command");
        return;
    };
    let name = String::from_utf8_lossy(&unknown[0]).to_ascii_uppercase();
    eprintln!("using {name}");
    assert!(!m.cmd(&unknown).is_error());
    m.cmd(&["SET", "after", "1"]);
    wait_for(
        LIMIT,
        "the link to stop on the command",
        || {
            info_field(&mut r, "replication", "master_link_last_error")
                .is_some_and(|e| e.to_ascii_uppercase().contains(&name))
        },
        || replica.log_text(),
    );
    let stopped_at = Instant::now();
    assert_eq!(
        info_field(&mut r, "replication", "master_link_status").as_deref(),
        Some("down")
    );
    assert_eq!(
        r.cmd_text(&["GET", "before:7"]),
        "v",
        "the data stays served"
    );
    // Healed by a full sync after the back-off, with nothing done by hand.
    wait_in_sync(&mut m, &mut r, LIMIT);
    assert!(
        stopped_at.elapsed() >= Duration::from_secs(3),
        "the retry came before its back-off"
    );
    assert_same_data(&mut m, &mut r, 1);
    assert_eq!(r.cmd_text(&["GET", "after"]), "1");
    // And it streams again.
    m.cmd(&["SET", "later", "2"]);
    wait_in_sync(&mut m, &mut r, LIMIT);
    assert_eq!(r.cmd_text(&["GET", "later"]), "2");
    let log = replica.log_text();
    let halt_lines = log
        .lines()
        .filter(|l| l.contains("a full sync is tried in"))
        .count();
    assert_eq!(halt_lines, 1, "one halt, one line:\n{log}");
}
