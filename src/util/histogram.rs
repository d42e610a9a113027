//! A latency histogram laid out as HdrHistogram lays it out with the parameters Redis uses
//! for its per-command histograms (values 1 ns to 1 s, 2 significant digits): the same
//! buckets, so LATENCY HISTOGRAM and INFO latencystats report the values Redis would for
//! the same samples. Pure; recording is a few shifts and one increment.

/// Smallest and largest value kept, in ns (Redis's `LATENCY_HISTOGRAM_MIN/MAX_VALUE`).
pub const VALUE_MIN_NS: u64 = 1;
pub const VALUE_MAX_NS: u64 = 1_000_000_000;

/// 2 significant digits: sub-buckets of 2^ceil(log2(2 * 10^2)) = 256.
const SUB_BUCKET_COUNT_MAGNITUDE: u32 = 8;
const SUB_BUCKET_HALF_COUNT_MAGNITUDE: u32 = SUB_BUCKET_COUNT_MAGNITUDE - 1;
const SUB_BUCKET_COUNT: u64 = 1 << SUB_BUCKET_COUNT_MAGNITUDE;
const SUB_BUCKET_HALF_COUNT: u64 = SUB_BUCKET_COUNT / 2;
const SUB_BUCKET_MASK: u64 = SUB_BUCKET_COUNT - 1;
/// Buckets needed so that 256 << (buckets - 1) passes `VALUE_MAX_NS`.
const BUCKET_COUNT: usize = 23;
const COUNTS_LEN: usize = (BUCKET_COUNT + 1) << SUB_BUCKET_HALF_COUNT_MAGNITUDE;

#[derive(Clone, Debug)]
pub struct LatencyHistogram {
    counts: Box<[u64]>,
    total: u64,
}

impl Default for LatencyHistogram {
    fn default() -> LatencyHistogram {
        LatencyHistogram {
            counts: vec![0; COUNTS_LEN].into_boxed_slice(),
            total: 0,
        }
    }
}

fn bucket_index(value: u64) -> u32 {
    let pow2_ceiling = 64 - (value | SUB_BUCKET_MASK).leading_zeros();
    pow2_ceiling - (SUB_BUCKET_HALF_COUNT_MAGNITUDE + 1)
}

fn counts_index(value: u64) -> usize {
    let bucket = bucket_index(value);
    let sub_bucket = value >> bucket;
    let base = u64::from(bucket + 1) << SUB_BUCKET_HALF_COUNT_MAGNITUDE;
    // `sub_bucket` is at least half the sub-bucket count for every bucket but the first.
    usize::try_from(base + sub_bucket - SUB_BUCKET_HALF_COUNT).unwrap_or(COUNTS_LEN - 1)
}

fn value_at_index(index: usize) -> u64 {
    let index = index as u64;
    let mut bucket = (index >> SUB_BUCKET_HALF_COUNT_MAGNITUDE) as i64 - 1;
    let mut sub_bucket = (index & (SUB_BUCKET_HALF_COUNT - 1)) + SUB_BUCKET_HALF_COUNT;
    if bucket < 0 {
        sub_bucket -= SUB_BUCKET_HALF_COUNT;
        bucket = 0;
    }
    sub_bucket << bucket
}

fn lowest_equivalent(value: u64) -> u64 {
    let bucket = bucket_index(value);
    (value >> bucket) << bucket
}

fn highest_equivalent(value: u64) -> u64 {
    let bucket = bucket_index(value);
    let sub_bucket = value >> bucket;
    let adjusted = if sub_bucket >= SUB_BUCKET_COUNT {
        bucket + 1
    } else {
        bucket
    };
    lowest_equivalent(value) + (1u64 << adjusted) - 1
}

impl LatencyHistogram {
    /// Records one duration, clamped to the range kept.
    pub fn record_ns(&mut self, value_ns: u64) {
        let value = value_ns.clamp(VALUE_MIN_NS, VALUE_MAX_NS);
        let index = counts_index(value);
        debug_assert!(index < COUNTS_LEN, "value {value} maps past the counts");
        if let Some(count) = self.counts.get_mut(index) {
            *count += 1;
            self.total += 1;
        }
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    /// The value at `percentile` (0–100), as hdr_value_at_percentile reports it: the
    /// highest value equivalent to the sample found there.
    pub fn value_at_percentile(&self, percentile: f64) -> u64 {
        let requested = percentile.min(100.0);
        let wanted =
            crate::util::num::u64_saturating_f64((requested / 100.0) * self.total as f64 + 0.5);
        let wanted = wanted.max(1);
        let mut seen = 0;
        for (index, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= wanted {
                let value = value_at_index(index);
                return if percentile == 0.0 {
                    lowest_equivalent(value)
                } else {
                    highest_equivalent(value)
                };
            }
        }
        0
    }

    /// The cumulative distribution LATENCY HISTOGRAM shows: at reporting levels 1024 ns,
    /// 2048 ns, … (doubling), the level's highest equivalent value in µs and how many
    /// samples are at or below it; a level is listed only when its count grew.
    pub fn cumulative_usec(&self) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        if self.total == 0 {
            return out;
        }
        let mut level: u64 = 1024;
        let mut cumulative = 0;
        let mut previous = 0;
        let mut index = 0;
        while cumulative < self.total && level <= VALUE_MAX_NS.saturating_mul(2) {
            let level_index = counts_index(level.min(VALUE_MAX_NS));
            while index <= level_index && index < COUNTS_LEN {
                cumulative += self.counts[index];
                index += 1;
            }
            if cumulative > previous {
                out.push((
                    highest_equivalent(level.min(VALUE_MAX_NS)) / 1000,
                    cumulative,
                ));
            }
            previous = cumulative;
            level *= 2;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_keep_two_significant_digits() {
        for value in [1u64, 255, 256, 1_000, 12_345, 999_999, 1_000_000_000] {
            let low = lowest_equivalent(value);
            let high = highest_equivalent(value);
            assert!(low <= value && value <= high, "{value}: {low}..{high}");
            // Within 1 % (2 significant digits with a binary sub-bucket count).
            assert!((high - low) as f64 <= value as f64 / 100.0 + 1.0, "{value}");
        }
        assert!(counts_index(VALUE_MAX_NS) < COUNTS_LEN);
        for index in [0usize, 127, 128, 1000, COUNTS_LEN - 1] {
            assert_eq!(counts_index(value_at_index(index)), index);
        }
    }

    #[test]
    fn percentiles_and_the_distribution_follow_the_samples() {
        let mut h = LatencyHistogram::default();
        for us in 1..=100u64 {
            h.record_ns(us * 1000);
        }
        assert_eq!(h.total(), 100);
        let p50 = h.value_at_percentile(50.0);
        assert!((50_000..=50_600).contains(&p50), "{p50}");
        let p100 = h.value_at_percentile(100.0);
        assert!((100_000..=100_600).contains(&p100), "{p100}");
        let cdf = h.cumulative_usec();
        assert_eq!(cdf.last().map(|&(_, count)| count), Some(100));
        assert!(cdf.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1));
        // 1 µs … 100 µs: the first level holding samples is 1024 ns.
        assert_eq!(cdf[0], (1, 1));
    }
}
