//! The latency monitor (LATENCY LATEST / HISTORY / GRAPH / DOCTOR / RESET): per event, the
//! last 160 seconds that had a sample over `latency-monitor-threshold`, each second keeping
//! its worst, and the worst ever; as Redis's latency.c keeps them.

use std::collections::BTreeMap;

/// Samples kept per event (Redis's `LATENCY_TS_LEN`).
pub const SAMPLES_MAX: usize = 160;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatencySample {
    pub unix_seconds: u64,
    pub latency_ms: u64,
}

#[derive(Debug, Default, Clone)]
pub struct EventSeries {
    /// Oldest first.
    pub samples: Vec<LatencySample>,
    pub max_ms: u64,
}

#[derive(Debug, Default)]
pub struct LatencyMonitor {
    /// By event name ("command", "fast-command", "expire-cycle", …).
    pub events: BTreeMap<&'static str, EventSeries>,
}

impl LatencyMonitor {
    /// Records `latency_ms` for `event` at `unix_seconds`: a second already sampled keeps
    /// its worst.
    pub fn add(&mut self, event: &'static str, unix_seconds: u64, latency_ms: u64) {
        let series = self.events.entry(event).or_default();
        series.max_ms = series.max_ms.max(latency_ms);
        if let Some(last) = series.samples.last_mut()
            && last.unix_seconds == unix_seconds
        {
            last.latency_ms = last.latency_ms.max(latency_ms);
            return;
        }
        if series.samples.len() == SAMPLES_MAX {
            series.samples.remove(0);
        }
        series.samples.push(LatencySample {
            unix_seconds,
            latency_ms,
        });
    }

    /// Forgets `event` (case-insensitively), or every event; how many were forgotten.
    pub fn reset(&mut self, event: Option<&[u8]>) -> usize {
        let before = self.events.len();
        match event {
            None => self.events.clear(),
            Some(name) => self
                .events
                .retain(|known, _| !known.as_bytes().eq_ignore_ascii_case(name)),
        }
        before - self.events.len()
    }

    pub fn series(&self, event: &[u8]) -> Option<(&'static str, &EventSeries)> {
        self.events
            .iter()
            .find(|(known, _)| known.as_bytes() == event)
            .map(|(name, series)| (*name, series))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_keeps_its_worst_and_old_seconds_go() {
        let mut monitor = LatencyMonitor::default();
        monitor.add("command", 10, 5);
        monitor.add("command", 10, 9);
        monitor.add("command", 10, 7);
        let (_, series) = monitor.series(b"command").unwrap();
        assert_eq!(series.samples.len(), 1);
        assert_eq!(series.samples[0].latency_ms, 9);
        for second in 11..11 + SAMPLES_MAX as u64 {
            monitor.add("command", second, 1);
        }
        let (_, series) = monitor.series(b"command").unwrap();
        assert_eq!(series.samples.len(), SAMPLES_MAX);
        assert_eq!(series.samples[0].unix_seconds, 11);
        assert_eq!(series.max_ms, 9);
        assert_eq!(monitor.reset(Some(b"COMMAND")), 1);
        assert_eq!(monitor.reset(None), 0);
    }
}
