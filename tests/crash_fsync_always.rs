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
