//! `repl-log-fsync always`: a reply means the write is on disk. Writers pipeline numbered
//! SETs over several connections; the master is killed with -9 at a random moment, started
//! again on the same dir, and every write that got `+OK`, in this round and every earlier
//! one, must read back with its value. The seed of the kill moments is printed
//! (`SLUICE_CRASH_SEED` replays it).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

mod common;

use std::time::Duration;

use common::ServerProcess;
use common::acked::{AckedWriters, assert_acknowledged_present, next_random, seed};
use common::compare::wait_loaded;

const LIMIT: Duration = Duration::from_secs(60);
const ROUNDS: usize = 4;
const WRITERS: usize = 4;
const PIPELINE: usize = 16;
const VALUE_BYTES: usize = 4096;

#[test]
fn kill9_under_pipelined_writers_loses_no_acknowledged_write() {
    let seed = seed();
    eprintln!("SLUICE_CRASH_SEED={seed}");
    let mut random = seed;
    let mut server = ServerProcess::sluice(&["--repl-log-fsync", "always"]);
    let mut acked = Vec::new();
    for round in 0..ROUNDS {
        let writers = AckedWriters::start(
            server.port,
            &format!("r{round}"),
            WRITERS,
            PIPELINE,
            VALUE_BYTES,
        );
        // Some writes in, then a kill at a random moment within the next second.
        writers.wait_acknowledged(200, LIMIT);
        std::thread::sleep(Duration::from_millis(next_random(&mut random) % 1000));
        server.kill9();
        let round_acked = writers.join();
        let count: u64 = round_acked.iter().map(|a| a.count()).sum();
        eprintln!("round {round}: {count} writes acknowledged before the kill");
        acked.extend(round_acked);
        server.restart();
        wait_loaded(&server);
        assert_acknowledged_present(
            &mut server.client(),
            &acked,
            &format!("after kill {round} (seed {seed})"),
        );
    }
}

/// Field expiry times, stream entries and consumer-group state acknowledged before a kill -9
/// come back from the log: their commands replay as they ran (absolute times, chosen IDs).
#[test]
fn kill9_keeps_field_times_streams_and_groups() {
    let mut server = ServerProcess::sluice(&["--repl-log-fsync", "always"]);
    let mut client = server.client();
    let far = "4102444800123";
    client.cmd(&["HSET", "h", "a", "1", "b", "2"]);
    client.cmd(&["HPEXPIREAT", "h", far, "FIELDS", "1", "a"]);
    client.cmd(&["HSETEX", "h", "EX", "100000", "FIELDS", "1", "c", "3"]);
    for i in 1..=5 {
        client.cmd(&["XADD", "s", "*", "n", &i.to_string()]);
    }
    client.cmd(&["XGROUP", "CREATE", "s", "g", "0"]);
    client.cmd(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "alice",
        "COUNT",
        "3",
        "STREAMS",
        "s",
        ">",
    ]);
    let first = client
        .cmd(&["XRANGE", "s", "-", "+", "COUNT", "1"])
        .items()
        .unwrap_or_default();
    let first_id = first
        .first()
        .and_then(|e| e.items())
        .and_then(|e| e.first().cloned());
    let Some(common::Resp::Bulk(first_id)) = first_id else {
        panic!("XRANGE gave no entry: {first:?}");
    };
    assert_eq!(
        client.cmd(&[&b"XACK"[..], b"s", b"g", &first_id]).int(),
        Some(1)
    );
    let state = |client: &mut common::Client| {
        vec![
            client.cmd(&["HGETALL", "h"]).encode(),
            client
                .cmd(&["HPEXPIRETIME", "h", "FIELDS", "3", "a", "b", "c"])
                .encode(),
            common::compare::describe_stream(client, b"s"),
            client.cmd(&["XPENDING", "s", "g"]).encode(),
        ]
    };
    let before = state(&mut client);
    drop(client);
    server.kill9();
    server.restart();
    wait_loaded(&server);
    let after = state(&mut server.client());
    assert_eq!(after, before, "after kill -9 and restart");
}
