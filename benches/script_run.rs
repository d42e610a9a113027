//! `script_run`: what the Lua engine costs per script run, without the network or the
//! keyspace: a cached script run through `ScriptEngine::run` with a host that answers every
//! command `+OK` at once. One `redis.call` and ten; the difference over nine is the cost of
//! one call (arguments read, reply pushed), the rest the cost of a run (KEYS and ARGV, the
//! protected call, the result read back, the collection step).
//!
//!     cargo bench --bench script_run -- --quick

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

use std::sync::Arc;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use sluice::resp::{Protocol, Reply};
use sluice::script::engine::{Host, Run, ScriptEngine};
use sluice::script::watch::ScriptWatch;

/// Answers every command as SET does.
struct OkHost;

impl Host for OkHost {
    fn call(&mut self, _argv: Vec<Bytes>, _protocol: Protocol) -> Result<Reply, String> {
        Ok(Reply::ok())
    }

    fn set_replication(&mut self, _flags: u8) {}

    fn may_run(&self, _argv: &[Bytes]) -> Option<bool> {
        Some(true)
    }

    fn error_already_counted(&mut self) {}
}

fn script_run(c: &mut Criterion) {
    let mut group = c.benchmark_group("script_run");
    let mut engine = ScriptEngine::new(Arc::new(ScriptWatch::default())).unwrap();
    let keys = [Bytes::from_static(b"key:000000012345")];
    let args = [Bytes::from_static(b"v")];
    for (name, body) in [
        ("one_call", "return redis.call('set', KEYS[1], ARGV[1])"),
        (
            "ten_calls",
            "for i = 1, 10 do redis.call('set', KEYS[1], ARGV[1]) end return 1",
        ),
    ] {
        let sha = engine.load(&Bytes::from_static(body.as_bytes())).unwrap();
        group.bench_function(name, |b| {
            b.iter(|| {
                let script = engine.get(&sha).unwrap();
                engine.run(
                    script,
                    &sha,
                    Run {
                        keys: &keys,
                        args: &args,
                    },
                    &mut OkHost,
                )
            });
        });
    }
    group.finish();
}

criterion_group!(benches, script_run);
criterion_main!(benches);
