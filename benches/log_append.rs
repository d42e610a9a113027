//! `log_append`: records through the durable replication log into sled, per
//! `repl-log-fsync` mode, timed until the writer reports them written (and flushed, for
//! `always`/`everysec`, which a final flush request stands for).
//!
//! `SLUICE_BENCH_BYTES` sets the bytes per iteration (default 32 MiB; the quick mode), at
//! most [`ITERATION_BYTES_MAX`]: sled reuses the space of trimmed chunks only lazily, and
//! 1 GiB iterations filled 34 GB of /tmp before criterion's ten samples were done.
//!
//!     cargo bench --bench log_append -- --quick

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sluice::durable::meta::LogBase;
use sluice::durable::sled_store::SledStore;
use sluice::durable::{DurableLog, FsyncPolicy};
use sluice::log::ReplId;
use sluice::log::record::Record;

const RECORD_PAYLOAD_BYTES: usize = 16 * 1024;
const ITERATION_BYTES_MAX: u64 = 256 << 20;

fn bench_bytes() -> u64 {
    std::env::var("SLUICE_BENCH_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32 << 20)
}

/// A record's payload: a pipelined batch of SETs, as a master's client batch seals it.
fn payload() -> Bytes {
    let mut out = Vec::with_capacity(RECORD_PAYLOAD_BYTES + 64);
    let mut i = 0u64;
    while out.len() < RECORD_PAYLOAD_BYTES {
        let key = format!("key:{i:012}");
        out.extend_from_slice(
            format!(
                "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n$3\r\nxyz\r\n",
                key.len()
            )
            .as_bytes(),
        );
        i += 1;
    }
    Bytes::from(out)
}

fn log_append(c: &mut Criterion) {
    let total = bench_bytes().min(ITERATION_BYTES_MAX);
    let payload = payload();
    let replid = ReplId::parse_str("0123456789abcdef0123456789abcdef01234567").unwrap();
    let records_per_iter = (total / payload.len() as u64).max(1);
    let mut group = c.benchmark_group("log_append");
    group.throughput(Throughput::Bytes(records_per_iter * payload.len() as u64));
    group.sample_size(10);
    for (name, policy) in [
        ("everysec", FsyncPolicy::EverySec),
        ("always", FsyncPolicy::Always),
        ("no", FsyncPolicy::No),
    ] {
        let dir =
            std::env::temp_dir().join(format!("sluice-bench-log-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = SledStore::open(&dir, 64 << 20).expect("opening sled");
        let (log, _) = DurableLog::open(Arc::new(store), policy).expect("opening the log");
        let mut offset = log.written_end();
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let started = Instant::now();
                for _ in 0..iters {
                    for _ in 0..records_per_iter {
                        let record = Record::new(offset, 0, replid, payload.clone());
                        offset = record.end_offset();
                        log.append(record, 64 << 20);
                    }
                    let end = offset;
                    if policy == FsyncPolicy::No {
                        while log.written_end() < end {
                            std::thread::sleep(Duration::from_micros(200));
                        }
                    } else {
                        log.flush(Duration::from_secs(60)).expect("flush");
                    }
                    // Keep the store from growing across iterations: as if a snapshot
                    // had been taken at the end.
                    log.set_base(LogBase {
                        offset: end,
                        replid,
                        empty: false,
                    });
                    log.trim(end);
                }
                started.elapsed()
            })
        });
        log.stop();
        let _ = std::fs::remove_dir_all(&dir);
    }
    group.finish();
}

criterion_group!(benches, log_append);
criterion_main!(benches);
