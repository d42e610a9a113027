//! `repl-log-fsync everysec` keeps its meaning: a kill -9 may lose only the writes
//! acknowledged in about the last second before it. Writers pipeline numbered SETs, the
//! master is killed with -9 at a random moment and started again; every write acknowledged
//! more than [`LOSS_WINDOW`] before the kill must read back, and anything lost must be younger.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

mod common;

use std::time::{Duration, Instant};

use common::ServerProcess;
use common::acked::{AckedWriters, missing_acknowledged_before, next_random, seed};
use common::compare::wait_loaded;

const ROUNDS: usize = 3;
/// A flush a second, plus the flush's own time on a busy machine.
const LOSS_WINDOW: Duration = Duration::from_millis(2000);

#[test]
fn kill9_loses_at_most_the_last_second_of_acknowledged_writes() {
    let seed = seed();
    eprintln!("SLUICE_CRASH_SEED={seed}");
    let mut random = seed;
    let mut server = ServerProcess::sluice(&["--repl-log-fsync", "everysec"]);
    let mut acked = Vec::new();
    for round in 0..ROUNDS {
        let writers = AckedWriters::start(server.port, &format!("r{round}"), 4, 16, 1024);
        // Long enough that several flushes happened during the round.
        std::thread::sleep(Duration::from_millis(
            2500 + next_random(&mut random) % 1000,
        ));
        let killed_at = Instant::now();
        server.kill9();
        acked.extend(writers.join());
        server.restart();
        wait_loaded(&server);
        let mut client = server.client();
        let old_lost =
            missing_acknowledged_before(&mut client, &acked, Some(killed_at - LOSS_WINDOW));
        assert!(
            old_lost.is_empty(),
            "round {round} (seed {seed}): {} writes acknowledged more than {LOSS_WINDOW:?} before the kill were lost, e.g. {:?}",
            old_lost.len(),
            &old_lost[..old_lost.len().min(5)]
        );
        let lost = missing_acknowledged_before(&mut client, &acked, None);
        let total: usize = acked.iter().map(|a| a.acked_at.len()).sum();
        let oldest_lost = lost
            .iter()
            .filter_map(|(key, _)| {
                let (prefix, seq) = key.rsplit_once(':')?;
                let writer = acked.iter().find(|w| w.prefix == prefix)?;
                writer.acked_at.get(seq.parse::<usize>().ok()?).copied()
            })
            .min()
            .map(|at| killed_at.saturating_duration_since(at));
        eprintln!(
            "round {round}: {total} acknowledged in all, {} lost, the oldest acknowledged {oldest_lost:?} before the kill",
            lost.len()
        );
        // What was lost is a tail of each writer's writes (the log has no holes); from now
        // on only what survived is expected.
        for writer in &mut acked {
            let prefix = format!("{}:", writer.prefix);
            let first_lost = lost
                .iter()
                .filter_map(|(key, _)| key.strip_prefix(&prefix)?.parse::<usize>().ok())
                .min();
            if let Some(first_lost) = first_lost {
                let lost_here = lost
                    .iter()
                    .filter(|(key, _)| key.starts_with(&prefix))
                    .count();
                assert_eq!(
                    lost_here,
                    writer.acked_at.len() - first_lost,
                    "round {round}: {} lost writes that are not a tail (a hole in the log)",
                    writer.prefix
                );
                writer.acked_at.truncate(first_lost);
            }
        }
    }
}
