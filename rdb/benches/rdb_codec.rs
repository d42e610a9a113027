//! `rdb_encode` / `rdb_decode` throughput on generated datasets: 1 KB strings, and small
//! collections of every type. Dataset size from SLUICE_BENCH_BYTES (default 64 MiB); targets
//! are encode >= 2 GB/s and decode >= 1 GB/s on strings.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sluice_rdb::{DecodeLimits, Decoder, Encoder, EncoderOptions, Item};

const CHUNK_BYTES: usize = 1 << 20;
const VALUE_BYTES: usize = 1024;

fn dataset_bytes() -> usize {
    std::env::var("SLUICE_BENCH_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64 << 20)
}

/// Cheap deterministic filler (xorshift), so that values are not trivially compressible.
fn fill(seed: u64, out: &mut [u8]) {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for chunk in out.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
}

enum Data {
    Strings {
        keys: Vec<Vec<u8>>,
        values: Vec<Vec<u8>>,
    },
    Collections {
        keys: Vec<Vec<u8>>,
        members: Vec<Vec<Vec<u8>>>,
    },
}

fn strings() -> Data {
    let n = dataset_bytes() / VALUE_BYTES;
    let keys = (0..n)
        .map(|i| format!("key:{i:012}").into_bytes())
        .collect();
    let values = (0..n)
        .map(|i| {
            let mut v = vec![0u8; VALUE_BYTES];
            fill(i as u64, &mut v);
            v
        })
        .collect();
    Data::Strings { keys, values }
}

/// Keys of four kinds in rotation (hash, list, set of integers, sorted set), ten small
/// members each: what a typical application's small objects look like.
fn collections() -> Data {
    let n = dataset_bytes() / 200;
    let keys = (0..n)
        .map(|i| format!("obj:{i:012}").into_bytes())
        .collect();
    let members = (0..n)
        .map(|i| {
            (0..10)
                .map(|j| {
                    if i % 4 == 2 {
                        (i * 10 + j).to_string().into_bytes()
                    } else {
                        format!("member-{j}-{}", i % 1000).into_bytes()
                    }
                })
                .collect()
        })
        .collect();
    Data::Collections { keys, members }
}

fn encode(data: &Data, sink: &mut impl FnMut(bytes::Bytes)) -> u64 {
    let mut enc = Encoder::new(EncoderOptions {
        chunk_size_bytes: CHUNK_BYTES,
        compress_lzf: false,
        ..EncoderOptions::default()
    });
    enc.select_db(0);
    let mut drain = |enc: &mut Encoder| {
        while let Some(c) = enc.pop_chunk() {
            sink(c);
        }
    };
    match data {
        Data::Strings { keys, values } => {
            for (k, v) in keys.iter().zip(values) {
                enc.write_string(k, v, None);
                if enc.chunks_ready() > 0 {
                    drain(&mut enc);
                }
            }
        }
        Data::Collections { keys, members } => {
            for (i, (k, m)) in keys.iter().zip(members).enumerate() {
                let res = match i % 4 {
                    0 => enc.write_hash(k, m.chunks(2).map(|p| (&p[0], &p[1])), None),
                    1 => enc.write_list(k, m, None),
                    2 => enc.write_set(k, m, None),
                    _ => enc.write_zset(
                        k,
                        m.iter().enumerate().map(|(j, x)| (x, j as f64 * 0.5)),
                        None,
                    ),
                };
                res.expect("valid dataset");
                if enc.chunks_ready() > 0 {
                    drain(&mut enc);
                }
            }
        }
    }
    let written = enc.bytes_written();
    for c in enc.finish() {
        sink(c);
    }
    written
}

fn file(data: &Data) -> Vec<u8> {
    let mut out = Vec::new();
    encode(data, &mut |c| out.extend_from_slice(&c));
    out
}

fn decode(file: &[u8]) -> usize {
    let mut dec = Decoder::new(DecodeLimits::default());
    let mut entries = 0;
    for chunk in file.chunks(CHUNK_BYTES) {
        dec.push(chunk);
        while let Some(item) = dec.next_item().expect("valid file") {
            if let Item::Entry(e) = item {
                entries += 1;
                black_box(e);
            }
        }
    }
    dec.finish().expect("complete file");
    entries
}

fn benches(c: &mut Criterion) {
    let sets = [
        ("strings_1k", strings()),
        ("small_collections", collections()),
    ];
    let mut group = c.benchmark_group("rdb_encode");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    for (name, data) in &sets {
        let len = file(data).len() as u64;
        group.throughput(Throughput::Bytes(len));
        group.bench_function(*name, |b| {
            b.iter(|| {
                let mut chunks = 0usize;
                encode(data, &mut |c| {
                    chunks += 1;
                    black_box(c);
                });
                chunks
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("rdb_decode");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    for (name, data) in &sets {
        let bytes = file(data);
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(*name, |b| b.iter(|| decode(&bytes)));
    }
    group.finish();
}

criterion_group!(rdb, benches);
criterion_main!(rdb);
