//! kill -9 in the middle of BGSAVE, with `repl-log-fsync always` and writers pipelining: the
//! restarted server has every acknowledged write and the data it had before, and the partial
//! `temp-*.rdb` the killed save left (as large as what it had written) is removed at
//! start-up.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

mod common;

use std::time::Duration;

use common::ServerProcess;
use common::acked::{AckedWriters, assert_acknowledged_present, next_random, seed};
use common::compare::{info_field, load_keys, wait_for, wait_loaded};

const LIMIT: Duration = Duration::from_secs(60);
const ROUNDS: usize = 2;
const BASE_KEYS: usize = 150_000;

fn temp_files(server: &ServerProcess) -> Vec<(String, u64)> {
    std::fs::read_dir(server.dir())
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    (name.starts_with("temp-") && name.ends_with(".rdb"))
                        .then(|| (name, e.metadata().map_or(0, |m| m.len())))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn kill9_during_bgsave_keeps_every_acknowledged_write_and_cleans_up() {
    let seed = seed();
    eprintln!("SLUICE_CRASH_SEED={seed}");
    let mut random = seed;
    // Automatic snapshots off: the test's own BGSAVE must be the one that gets killed.
    let mut server = ServerProcess::sluice(&[
        "--repl-log-fsync",
        "always",
        "--repl-log-snapshot-size",
        "0",
    ]);
    // Enough data that a save takes a while.
    load_keys(&mut server.client(), BASE_KEYS, 1000);
    let mut acked = Vec::new();
    let mut temp_files_left = 0;
    for round in 0..ROUNDS {
        let writers = AckedWriters::start(server.port, &format!("r{round}"), 4, 16, 1024);
        writers.wait_acknowledged(500, LIMIT);
        let mut client = server.client();
        assert_eq!(
            client.cmd_text(&["BGSAVE"]),
            "Background saving started",
            "{}",
            server.log_text()
        );
        // Killed once the save has written something, at a random moment after.
        wait_for(
            LIMIT,
            "the save to write its temp file",
            || temp_files(&server).iter().any(|(_, len)| *len > 0),
            || server.log_text(),
        );
        std::thread::sleep(Duration::from_millis(next_random(&mut random) % 50));
        let in_progress = info_field(&mut client, "persistence", "rdb_bgsave_in_progress");
        server.kill9();
        acked.extend(writers.join());
        let left = temp_files(&server);
        temp_files_left += left.len();
        eprintln!(
            "round {round}: killed with the save in progress: {in_progress:?}; left {left:?}"
        );
        server.restart();
        wait_loaded(&server);
        let mut client = server.client();
        assert_eq!(
            temp_files(&server),
            Vec::<(String, u64)>::new(),
            "the killed save's temp file was not removed"
        );
        if !left.is_empty() {
            assert!(
                server
                    .log_text()
                    .contains("left by a save that did not finish"),
                "the removal was not logged"
            );
        }
        assert_acknowledged_present(&mut client, &acked, &format!("round {round}, seed {seed}"));
        let total: u64 = acked.iter().map(|a| a.count()).sum();
        let dbsize = client.cmd(&["DBSIZE"]).int().unwrap_or(0) as u64;
        // Writes in flight at a kill may have been kept without their reply: at most one
        // pipeline per writer and round.
        let in_flight_max = ((round + 1) * 4 * 16) as u64;
        let expected = BASE_KEYS as u64 + total;
        assert!(
            (expected..=expected + in_flight_max).contains(&dbsize),
            "{dbsize} keys: expected the {BASE_KEYS} from before the writers and the {total} acknowledged (plus at most {in_flight_max} unacknowledged)"
        );
    }
    assert!(
        temp_files_left > 0,
        "no kill landed while the save was writing: the clean-up went untested"
    );
}
