//! Counters shown by INFO, under Redis's field names.

use std::collections::HashMap;

#[derive(Debug, Default, Clone)]
pub struct CommandStat {
    /// `get`, or `client|id` for a subcommand.
    pub name: &'static str,
    pub calls: u64,
    pub usec: u64,
    pub rejected_calls: u64,
    pub failed_calls: u64,
    /// Latencies with `latency-tracking yes` (LATENCY HISTOGRAM, INFO latencystats).
    pub latency: Option<Box<crate::util::histogram::LatencyHistogram>>,
}

impl CommandStat {
    /// Adds one call's latency to the histogram (Redis records microseconds × 1000 in a
    /// nanosecond histogram).
    pub fn record_latency_us(&mut self, duration_us: u64) {
        self.latency
            .get_or_insert_with(Box::default)
            .record_ns(duration_us.saturating_mul(1000));
    }
}

#[derive(Debug, Default)]
pub struct Stats {
    pub total_connections_received: u64,
    pub total_commands_processed: u64,
    pub rejected_connections: u64,
    pub expired_keys: u64,
    /// Hash fields deleted because their expiry time passed (Redis 7.4's `expired_subkeys`).
    pub expired_subkeys: u64,
    pub evicted_keys: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub total_error_replies: u64,
    pub unexpected_error_replies: u64,
    /// Per command, keyed by the address of its static spec: hashing a pointer is far cheaper
    /// than hashing and comparing its name on every call.
    pub commands: crate::store::value::FastMap<usize, CommandStat>,
    pub errors: HashMap<String, u64>,
    /// Ring of (unix ms, commands processed) samples for `instantaneous_ops_per_sec`.
    pub ops_samples: Vec<(u64, u64)>,
    pub client_query_buffer_kills: u64,
    pub client_output_buffer_kills: u64,
}

impl Stats {
    pub fn reset(&mut self) {
        *self = Stats::default();
    }

    /// Records one sample; called by the server cron.
    pub fn sample_ops(&mut self, now_ms: u64) {
        self.ops_samples
            .push((now_ms, self.total_commands_processed));
        if self.ops_samples.len() > 16 {
            self.ops_samples.remove(0);
        }
    }

    pub fn instantaneous_ops_per_sec(&self) -> u64 {
        match (self.ops_samples.first(), self.ops_samples.last()) {
            (Some(&(t0, c0)), Some(&(t1, c1))) if t1 > t0 => {
                c1.saturating_sub(c0) * 1000 / (t1 - t0)
            }
            _ => 0,
        }
    }

    pub fn record_error(&mut self, text: &str) {
        self.total_error_replies += 1;
        let code = text.split(' ').next().unwrap_or("ERR").to_string();
        *self.errors.entry(code).or_insert(0) += 1;
    }
}
