//! Writers that remember exactly which writes the server acknowledged, for crash tests: each
//! writer owns a connection and pipelines numbered SETs of its own keys; replies come in
//! order, so "acknowledged" is a count per writer (every sequence number below it got `+OK`).
//! After a kill -9 and a restart, [`assert_acknowledged_present`] reads every one back.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{Client, encode_command};

/// One writer's acknowledged writes: keys `prefix:0 .. prefix:count-1`, with, for each, the
/// time its `+OK` arrived (for the `everysec` bound).
#[derive(Debug, Clone)]
pub struct Acknowledged {
    pub prefix: String,
    pub value_bytes: usize,
    pub acked_at: Vec<Instant>,
    /// What ended the writer: an error reply, a closed connection, or None when stopped.
    pub ended_by: Option<String>,
}

impl Acknowledged {
    pub fn count(&self) -> u64 {
        self.acked_at.len() as u64
    }
}

pub fn key(prefix: &str, seq: u64) -> String {
    format!("{prefix}:{seq}")
}

/// The value written under `key(prefix, seq)`: the key itself, then filler, so that a value
/// read back proves which write it came from.
pub fn value(prefix: &str, seq: u64, len: usize) -> Vec<u8> {
    let mut v = format!("{prefix}:{seq}|").into_bytes();
    v.resize(len.max(v.len()), b'x');
    v
}

pub struct AckedWriters {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<Acknowledged>>,
    progress: Vec<Arc<AtomicU64>>,
}

impl AckedWriters {
    /// `writers` connections to `port`, each pipelining `pipeline` SETs of `value_bytes`
    /// under keys `<label>w<n>:<seq>`, until stopped or the connection fails (a kill).
    pub fn start(
        port: u16,
        label: &str,
        writers: usize,
        pipeline: usize,
        value_bytes: usize,
    ) -> AckedWriters {
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        let mut progress = Vec::new();
        for w in 0..writers {
            let prefix = format!("{label}w{w}");
            let stop = stop.clone();
            let count = Arc::new(AtomicU64::new(0));
            progress.push(count.clone());
            threads.push(std::thread::spawn(move || {
                let mut done = Acknowledged {
                    prefix: prefix.clone(),
                    value_bytes,
                    acked_at: Vec::new(),
                    ended_by: None,
                };
                let Ok(mut client) = Client::try_connect(port) else {
                    done.ended_by = Some("could not connect".into());
                    return done;
                };
                let mut seq = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let mut bytes = Vec::new();
                    for s in seq..seq + pipeline as u64 {
                        let k = key(&prefix, s);
                        bytes.extend_from_slice(&encode_command(&[
                            b"SET".as_slice(),
                            k.as_bytes(),
                            &value(&prefix, s, value_bytes),
                        ]));
                    }
                    if let Err(e) = client.send_raw(&bytes) {
                        done.ended_by = Some(e.to_string());
                        return done;
                    }
                    for _ in 0..pipeline {
                        match client.read() {
                            Ok(reply) if reply.text().as_deref() == Some("OK") => {
                                done.acked_at.push(Instant::now());
                                count.fetch_add(1, Ordering::Relaxed);
                            }
                            // An error reply or a closed socket: nothing after it counts.
                            Ok(other) => {
                                done.ended_by = Some(format!("{other:?}"));
                                return done;
                            }
                            Err(e) => {
                                done.ended_by = Some(e.to_string());
                                return done;
                            }
                        }
                    }
                    seq += pipeline as u64;
                }
                done
            }));
        }
        AckedWriters {
            stop,
            threads,
            progress,
        }
    }

    /// Writes acknowledged so far, over every writer.
    pub fn acknowledged(&self) -> u64 {
        self.progress
            .iter()
            .map(|p| p.load(Ordering::Relaxed))
            .sum()
    }

    /// Waits until at least `count` writes were acknowledged (at most `limit`).
    pub fn wait_acknowledged(&self, count: u64, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.acknowledged() < count {
            assert!(
                Instant::now() < deadline,
                "only {} writes acknowledged within {limit:?}",
                self.acknowledged()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stops the writers (or collects them after their server died) and returns what each
    /// had acknowledged.
    pub fn join(self) -> Vec<Acknowledged> {
        self.stop.store(true, Ordering::Relaxed);
        self.threads
            .into_iter()
            .map(|t| t.join().expect("a writer thread panicked"))
            .collect()
    }
}

/// Acknowledged writes missing or wrong on the server: (key, what was found).
pub fn missing_acknowledged(client: &mut Client, acked: &[Acknowledged]) -> Vec<(String, String)> {
    missing_acknowledged_before(client, acked, None)
}

/// Like [`missing_acknowledged`], only for writes acknowledged before `before` (all when
/// None).
pub fn missing_acknowledged_before(
    client: &mut Client,
    acked: &[Acknowledged],
    before: Option<Instant>,
) -> Vec<(String, String)> {
    let mut missing = Vec::new();
    for writer in acked {
        let count = match before {
            None => writer.count(),
            Some(t) => writer.acked_at.iter().take_while(|at| **at < t).count() as u64,
        };
        let mut seq = 0;
        while seq < count {
            let batch_end = (seq + 200).min(count);
            let mut bytes = Vec::new();
            for s in seq..batch_end {
                bytes.extend_from_slice(&encode_command(&["GET", &key(&writer.prefix, s)]));
            }
            client.send_raw(&bytes).expect("sending GETs");
            for s in seq..batch_end {
                let reply = client.read().expect("reading a GET reply");
                let expected = value(&writer.prefix, s, writer.value_bytes);
                let ok = matches!(&reply, super::Resp::Bulk(v) if *v == expected);
                if !ok {
                    let found = match &reply {
                        super::Resp::NullBulk => "nil".to_string(),
                        super::Resp::Bulk(v) => {
                            format!("{} wrong bytes", v.len())
                        }
                        other => format!("{other:?}"),
                    };
                    missing.push((key(&writer.prefix, s), found));
                }
            }
            seq = batch_end;
        }
    }
    missing
}

/// Fails, naming a few of them, if any acknowledged write is missing.
pub fn assert_acknowledged_present(client: &mut Client, acked: &[Acknowledged], context: &str) {
    let missing = missing_acknowledged(client, acked);
    let total: u64 = acked.iter().map(Acknowledged::count).sum();
    assert!(
        missing.is_empty(),
        "{context}: {} of {total} acknowledged writes lost, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
}

/// A pseudo-random number from a seed, for kill moments that differ from run to run but can
/// be replayed (the seed is printed).
pub fn seed() -> u64 {
    std::env::var("SLUICE_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        })
}

/// xorshift64*: enough to spread kill moments.
pub fn next_random(state: &mut u64) -> u64 {
    let mut x = (*state).max(1);
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    x.wrapping_mul(0x2545_F491_4F6C_DD1D)
}
