//! Unix time for commands without a system call per command.
//!
//! Each command needs a monotonic reading (for its duration in INFO commandstats) and the
//! Unix time (for expiries). The Unix time is derived from the monotonic reading and an
//! offset that the server cron refreshes every tick, so a stepped system clock is followed
//! within one tick, as Redis follows it at its next command.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

static START: OnceLock<Instant> = OnceLock::new();
/// Unix µs minus µs since START. Kept in µs: with two readings truncated to ms, the derived
/// time could trail the system clock by a millisecond, and times a master sends (XCLAIM's
/// TIME) would then look like the future.
static OFFSET_US: AtomicI64 = AtomicI64::new(i64::MIN);

fn start() -> Instant {
    *START.get_or_init(Instant::now)
}

/// Re-reads the system clock; called by the cron.
pub fn refresh() {
    let now = Instant::now();
    let unix_us = super::unix_time_us() as i64;
    let since_start_us = i64::try_from(now.duration_since(start()).as_micros()).unwrap_or(i64::MAX);
    OFFSET_US.store(unix_us - since_start_us, Ordering::Relaxed);
}

/// Unix ms at the moment `at` was read.
pub fn unix_ms_at(at: Instant) -> u64 {
    let mut offset = OFFSET_US.load(Ordering::Relaxed);
    if offset == i64::MIN {
        refresh();
        offset = OFFSET_US.load(Ordering::Relaxed);
    }
    let since_start_us =
        i64::try_from(at.saturating_duration_since(start()).as_micros()).unwrap_or(i64::MAX);
    (since_start_us.saturating_add(offset).max(0) / 1000) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_system_clock() {
        refresh();
        let derived = unix_ms_at(Instant::now());
        let direct = crate::server::unix_time_ms();
        assert!(derived.abs_diff(direct) < 50, "{derived} vs {direct}");
    }
}
