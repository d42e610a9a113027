//! `resp_parse`: the request parser over a pipeline of SETs (the redis-benchmark shape) and
//! of larger values.
//!
//!     cargo bench --bench resp_parse -- --quick

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

use bytes::BytesMut;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sluice::resp::parse::{ParseLimits, RequestParser};

fn pipeline(commands: usize, value_bytes: usize) -> Vec<u8> {
    let value = "v".repeat(value_bytes);
    let mut out = Vec::new();
    for i in 0..commands {
        let key = format!("key:{i:012}");
        out.extend_from_slice(
            format!(
                "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${}\r\n{value}\r\n",
                key.len(),
                value.len()
            )
            .as_bytes(),
        );
    }
    out
}

fn resp_parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("resp_parse");
    let limits = ParseLimits::default();
    for (name, value_bytes) in [("set_3b", 3), ("set_1kb", 1000)] {
        let input = pipeline(10_000, value_bytes);
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut buf = BytesMut::from(&input[..]);
                let mut parser = RequestParser::default();
                let mut commands = 0usize;
                while let Ok(Some(argv)) = parser.parse(&mut buf, &limits) {
                    commands += argv.len();
                }
                assert_eq!(commands, 30_000);
                commands
            })
        });
    }
    group.finish();
}

criterion_group!(benches, resp_parse);
criterion_main!(benches);
