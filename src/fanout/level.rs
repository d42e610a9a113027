//! Choosing the zstd level of a compressed full sync from measured throughput (pure: the
//! producer feeds it timings, the sender the link's rate; tests drive it directly).
//!
//! Compression pays while the link is the bottleneck. A higher level shrinks the stream more
//! but compresses slower; the right level is the highest one at which the producer (encoding
//! plus compressing) still outruns what the link can take, counted in RDB bytes:
//! `link wire bytes/s ÷ compressed fraction`. The chooser climbs a ladder of levels while the
//! producer has at least twice that rate in hand, steps down as soon as it has less than the
//! link takes, and never climbs back to a level that proved too slow or no smaller.

/// Levels tried, cheapest first. Level 1 runs at several hundred MB/s per core, 19 at a few.
pub const LADDER: [i32; 7] = [1, 3, 6, 9, 12, 15, 19];

/// Chunks measured at a level before deciding anything from it.
const CHUNKS_PER_DECISION: u32 = 4;
/// The producer must outrun the link this many times over before a slower level is tried.
const HEADROOM_TO_CLIMB: f64 = 2.0;
/// A level must shrink the stream by at least this fraction more than the level below it (a
/// link-bound transfer is that much shorter), or it is not worth its time.
const RATIO_GAIN_MIN: f64 = 0.03;

/// A chunk that level 1 shrinks by less than this is incompressible: random or already
/// compressed values, where zstd spends a core for nothing.
const INCOMPRESSIBLE_RATIO: f64 = 0.95;
/// Once the data proved incompressible, one chunk in this many is still compressed, to
/// notice when the values change kind.
pub const PROBE_EVERY_CHUNKS: u32 = 32;

/// Why the level changed, for the log line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Change {
    /// Level 1 did not shrink the last chunks: only probes are compressed from now on.
    Incompressible { ratio: f64 },
    /// A probe compressed again: every chunk is compressed again.
    Compressible { ratio: f64 },
    /// The producer had headroom over the link: a slower, smaller level.
    Up { producer_rate: f64, link_rate: f64 },
    /// The producer could not keep up with the link at this level.
    Down { producer_rate: f64, link_rate: f64 },
    /// The level compressed no better than the one below it.
    NoGain { ratio: f64, below_ratio: f64 },
}

#[derive(Debug, Clone, Default)]
struct Sample {
    raw_bytes: u64,
    zstd_bytes: u64,
    encode_secs: f64,
    compress_secs: f64,
    chunks: u32,
}

impl Sample {
    fn ratio(&self) -> f64 {
        if self.raw_bytes == 0 {
            return 1.0;
        }
        self.zstd_bytes as f64 / self.raw_bytes as f64
    }

    /// RDB bytes per second the producer makes at this level (encoding and compressing one
    /// after the other on its thread).
    fn producer_rate(&self) -> f64 {
        let secs = self.encode_secs + self.compress_secs;
        if secs <= 0.0 {
            return f64::INFINITY;
        }
        self.raw_bytes as f64 / secs
    }
}

#[derive(Debug, Clone)]
pub struct LevelChooser {
    /// Set by `repl-compression-level`: never changed.
    fixed: Option<i32>,
    /// Index into LADDER.
    rung: usize,
    /// Rungs at or above this are known to be too slow or no better.
    ceiling: usize,
    current: Sample,
    /// The compressed fraction measured at the rung below, when we climbed from it.
    below_ratio: Option<f64>,
    /// Consecutive chunks level 1 could not shrink.
    incompressible_chunks: u32,
    /// Set while the data is incompressible: chunks to skip before the next probe.
    skip_before_probe: Option<u32>,
}

impl LevelChooser {
    /// `fixed` is the configured level (`None`: choose).
    pub fn new(fixed: Option<i32>) -> LevelChooser {
        LevelChooser {
            fixed,
            rung: 0,
            ceiling: LADDER.len(),
            current: Sample::default(),
            below_ratio: None,
            incompressible_chunks: 0,
            skip_before_probe: None,
        }
    }

    /// Whether the next chunk is worth compressing: always, unless the data proved
    /// incompressible, and then one probe in [`PROBE_EVERY_CHUNKS`].
    pub fn wants_chunk(&mut self) -> bool {
        match &mut self.skip_before_probe {
            Some(0) => {
                self.skip_before_probe = Some(PROBE_EVERY_CHUNKS - 1);
                true
            }
            Some(left) => {
                *left -= 1;
                false
            }
            None => true,
        }
    }

    /// Follows whether level 1 shrinks the chunks; returns the change of mode, if any.
    fn note_compressibility(&mut self, raw_bytes: u64, zstd_bytes: u64) -> Option<Change> {
        if self.rung != 0 || raw_bytes == 0 {
            return None;
        }
        let ratio = zstd_bytes.min(raw_bytes) as f64 / raw_bytes as f64;
        if ratio < INCOMPRESSIBLE_RATIO {
            self.incompressible_chunks = 0;
            return self
                .skip_before_probe
                .take()
                .map(|_| Change::Compressible { ratio });
        }
        self.incompressible_chunks = self.incompressible_chunks.saturating_add(1);
        if self.incompressible_chunks >= CHUNKS_PER_DECISION && self.skip_before_probe.is_none() {
            self.skip_before_probe = Some(PROBE_EVERY_CHUNKS - 1);
            self.current = Sample::default();
            return Some(Change::Incompressible { ratio });
        }
        None
    }

    pub fn level(&self) -> i32 {
        self.fixed.unwrap_or(LADDER[self.rung])
    }

    /// One chunk compressed at `level()`: its sizes, the time the encoder spent producing it
    /// and the time compressing it took. `link_wire_rate` is what the fastest compressed
    /// member's link drained lately, in bytes per second (0: not known yet). Returns the
    /// change of level, if any.
    pub fn note_chunk(
        &mut self,
        raw_bytes: u64,
        zstd_bytes: u64,
        encode_secs: f64,
        compress_secs: f64,
        link_wire_rate: f64,
    ) -> Option<Change> {
        if self.fixed.is_some() {
            return None;
        }
        if let Some(change) = self.note_compressibility(raw_bytes, zstd_bytes) {
            return Some(change);
        }
        if self.skip_before_probe.is_some() {
            // Probes say whether the data changed kind, not how fast a level is.
            return None;
        }
        let s = &mut self.current;
        s.raw_bytes += raw_bytes;
        s.zstd_bytes += zstd_bytes.min(raw_bytes);
        s.encode_secs += encode_secs;
        s.compress_secs += compress_secs;
        s.chunks += 1;
        if s.chunks < CHUNKS_PER_DECISION || link_wire_rate <= 0.0 {
            return None;
        }
        let ratio = s.ratio();
        let producer_rate = s.producer_rate();
        // RDB bytes per second the link takes in this form.
        let link_rate = link_wire_rate / ratio.max(1e-3);
        let change = if let Some(below_ratio) = self.below_ratio
            && ratio > below_ratio * (1.0 - RATIO_GAIN_MIN)
        {
            self.ceiling = self.rung;
            self.rung -= 1;
            Some(Change::NoGain { ratio, below_ratio })
        } else if producer_rate < link_rate && self.rung > 0 {
            self.ceiling = self.rung;
            self.rung -= 1;
            Some(Change::Down {
                producer_rate,
                link_rate,
            })
        } else if producer_rate > HEADROOM_TO_CLIMB * link_rate && self.rung + 1 < self.ceiling {
            self.rung += 1;
            Some(Change::Up {
                producer_rate,
                link_rate,
            })
        } else {
            None
        };
        // The next decision checks that the level just climbed to compresses better.
        self.below_ratio = matches!(change, Some(Change::Up { .. })).then_some(ratio);
        self.current = Sample::default();
        change
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: f64 = 1e6;

    /// A modelled source: per level, compression speed (RDB bytes/s) and the compressed
    /// fraction; the encoder makes `encode_rate` RDB bytes/s.
    struct Model {
        encode_rate: f64,
        levels: fn(i32) -> (f64, f64),
        link_wire_rate: f64,
    }

    fn text(level: i32) -> (f64, f64) {
        match level {
            1 => (400.0 * MB, 0.30),
            3 => (250.0 * MB, 0.27),
            6 => (90.0 * MB, 0.24),
            9 => (60.0 * MB, 0.23),
            12 => (25.0 * MB, 0.22),
            15 => (8.0 * MB, 0.21),
            _ => (2.0 * MB, 0.20),
        }
    }

    fn random(level: i32) -> (f64, f64) {
        let speed = text(level).0;
        (speed, 1.0)
    }

    fn run(model: &Model, fixed: Option<i32>, chunks: usize) -> (LevelChooser, Vec<i32>) {
        let mut chooser = LevelChooser::new(fixed);
        let mut levels = Vec::new();
        let chunk = 1_000_000u64;
        for _ in 0..chunks {
            let (speed, ratio) = (model.levels)(chooser.level());
            let zstd = crate::util::num::u64_saturating_f64(chunk as f64 * ratio);
            chooser.note_chunk(
                chunk,
                zstd,
                chunk as f64 / model.encode_rate,
                chunk as f64 / speed,
                model.link_wire_rate,
            );
            levels.push(chooser.level());
        }
        (chooser, levels)
    }

    #[test]
    fn a_slow_link_gets_the_highest_level_the_producer_can_feed() {
        // 100 Mbit/s: 12.5 MB/s on the wire. At ~0.24 that is ~50 MB/s of RDB, so level 6
        // (90 MB/s, 77 with the encoder) is the last with headroom; 9 would have less than
        // twice the link's rate.
        let model = Model {
            encode_rate: 600.0 * MB,
            levels: text,
            link_wire_rate: 12.5 * MB,
        };
        let (chooser, levels) = run(&model, None, 200);
        assert_eq!(chooser.level(), 6, "{levels:?}");
        // Settled: the last half never moved.
        assert!(levels[100..].iter().all(|&l| l == 6), "{levels:?}");
    }

    #[test]
    fn a_fast_link_stays_at_the_cheapest_level() {
        let model = Model {
            encode_rate: 600.0 * MB,
            levels: text,
            link_wire_rate: 500.0 * MB,
        };
        let (chooser, levels) = run(&model, None, 100);
        assert_eq!(chooser.level(), 1);
        assert!(levels.iter().all(|&l| l == 1), "{levels:?}");
    }

    /// Feeds `chunks` chunks of `kind` through `wants_chunk` and `note_chunk` like the
    /// producer does; returns how many were compressed.
    fn compressed_chunks(
        chooser: &mut LevelChooser,
        kind: fn(i32) -> (f64, f64),
        chunks: u32,
    ) -> u32 {
        let mut compressed = 0;
        for _ in 0..chunks {
            if !chooser.wants_chunk() {
                continue;
            }
            compressed += 1;
            let (_, ratio) = kind(chooser.level());
            let zstd = crate::util::num::u64_saturating_f64(1e6 * ratio);
            chooser.note_chunk(1_000_000, zstd, 0.001, 0.002, 1000.0 * MB);
        }
        compressed
    }

    #[test]
    fn incompressible_data_is_only_probed() {
        let mut chooser = LevelChooser::new(None);
        let compressed = compressed_chunks(&mut chooser, random, 1000);
        // The first decision's chunks, then one probe in PROBE_EVERY_CHUNKS.
        let most = CHUNKS_PER_DECISION + 1000 / PROBE_EVERY_CHUNKS + 1;
        assert!(compressed <= most, "{compressed} of 1000 compressed");
        assert!(
            compressed > CHUNKS_PER_DECISION,
            "probes go on: {compressed}"
        );
    }

    #[test]
    fn a_probe_that_compresses_resumes_every_chunk() {
        let mut chooser = LevelChooser::new(None);
        compressed_chunks(&mut chooser, random, 100);
        // Within one probe interval the text is noticed; after that every chunk compresses.
        compressed_chunks(&mut chooser, text, PROBE_EVERY_CHUNKS);
        assert_eq!(compressed_chunks(&mut chooser, text, 100), 100);
    }

    #[test]
    fn compressible_data_compresses_every_chunk() {
        let mut chooser = LevelChooser::new(None);
        assert_eq!(compressed_chunks(&mut chooser, text, 500), 500);
    }

    #[test]
    fn incompressible_data_does_not_climb_past_one_try() {
        let model = Model {
            encode_rate: 600.0 * MB,
            levels: random,
            link_wire_rate: 12.5 * MB,
        };
        let (chooser, levels) = run(&model, None, 200);
        assert_eq!(chooser.level(), 1, "{levels:?}");
        // One rung tried, found no smaller, and never again.
        let above: usize = levels.iter().filter(|&&l| l > 1).count();
        assert!(above <= CHUNKS_PER_DECISION as usize, "{levels:?}");
    }

    #[test]
    fn a_level_too_slow_for_the_link_is_left_and_not_retried() {
        // Starts with headroom, then the link gets faster than the producer at level 3.
        let mut chooser = LevelChooser::new(None);
        for _ in 0..CHUNKS_PER_DECISION {
            chooser.note_chunk(1_000_000, 300_000, 0.001, 0.0025, 12.5 * MB);
        }
        assert_eq!(chooser.level(), 3);
        for _ in 0..CHUNKS_PER_DECISION {
            // Level 3 at 250 MB/s after the encoder's share: link takes 370 MB/s of RDB.
            chooser.note_chunk(1_000_000, 270_000, 0.001, 0.004, 100.0 * MB);
        }
        assert_eq!(chooser.level(), 1);
        for _ in 0..10 * CHUNKS_PER_DECISION {
            chooser.note_chunk(1_000_000, 300_000, 0.001, 0.0025, 1.0 * MB);
        }
        assert_eq!(chooser.level(), 1, "the ceiling holds");
    }

    #[test]
    fn a_fixed_level_never_moves_and_no_link_rate_decides_nothing() {
        let model = Model {
            encode_rate: 600.0 * MB,
            levels: text,
            link_wire_rate: 1.0 * MB,
        };
        let (_, levels) = run(&model, Some(4), 50);
        assert!(levels.iter().all(|&l| l == 4));
        let unknown = Model {
            link_wire_rate: 0.0,
            ..model
        };
        let (_, levels) = run(&unknown, None, 50);
        assert!(levels.iter().all(|&l| l == 1));
    }
}
