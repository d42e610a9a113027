//! A background writer that keeps a master busy with writes of every family, across two
//! databases and inside transactions, so that a fault lands in the middle of a real stream.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;

use super::{Client, encode_command};

/// Commands sent per pipelined round trip.
const PIPELINE: usize = 20;
const PACE: std::time::Duration = std::time::Duration::from_millis(1);

pub struct Writer {
    stop: Arc<AtomicBool>,
    acknowledged: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    /// Writes to `port` from sequence number `from` until stopped or the connection fails
    /// (a killed master). The keys written depend only on the sequence numbers.
    pub fn start(port: u16, from: u64) -> Writer {
        let stop = Arc::new(AtomicBool::new(false));
        let acknowledged = Arc::new(AtomicU64::new(0));
        let thread = {
            let stop = stop.clone();
            let acknowledged = acknowledged.clone();
            std::thread::spawn(move || {
                let Ok(mut client) = Client::try_connect(port) else {
                    return;
                };
                let mut seq = from;
                while !stop.load(Ordering::Relaxed) {
                    let mut bytes = Vec::new();
                    let mut replies = 0;
                    for _ in 0..PIPELINE {
                        for command in commands(seq) {
                            bytes.extend_from_slice(&encode_command(&command));
                            replies += 1;
                        }
                        seq += 1;
                    }
                    if client.send_raw(&bytes).is_err() {
                        return;
                    }
                    for _ in 0..replies {
                        if client.read().is_err() {
                            return;
                        }
                    }
                    acknowledged.fetch_add(PIPELINE as u64, Ordering::Relaxed);
                    // Paced: a debug-build replica must keep up with a release-build
                    // redis-server master, or every wait in a test becomes a race.
                    std::thread::sleep(PACE);
                }
            })
        };
        Writer {
            stop,
            acknowledged,
            thread: Some(thread),
        }
    }

    /// Sequence numbers whose commands were all acknowledged so far.
    pub fn acknowledged(&self) -> u64 {
        self.acknowledged.load(Ordering::Relaxed)
    }

    /// Stops and waits for the thread; returns how many sequence numbers were acknowledged.
    pub fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.acknowledged()
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The commands of sequence number `seq`: a mix of types, a db switch, a transaction.
pub fn commands(seq: u64) -> Vec<Vec<String>> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let n = seq.to_string();
    let slot = (seq % 2000).to_string();
    match seq % 8 {
        0 => vec![s(&[
            "SET",
            &format!("s:{slot}"),
            &format!("{n}-{}", "x".repeat(40)),
        ])],
        1 => vec![s(&["INCRBY", "counter", &n])],
        2 => vec![
            s(&["RPUSH", &format!("l:{}", seq % 50), &n]),
            s(&["LTRIM", &format!("l:{}", seq % 50), "-20", "-1"]),
        ],
        3 => vec![s(&["HSET", &format!("h:{}", seq % 100), &slot, &n])],
        4 => vec![
            s(&["SADD", &format!("set:{}", seq % 100), &slot]),
            s(&["SREM", &format!("set:{}", (seq + 7) % 100), &slot]),
        ],
        5 => vec![s(&["ZADD", &format!("z:{}", seq % 100), &n, &slot])],
        6 => vec![
            s(&["SELECT", "3"]),
            s(&["SET", &format!("db3:{slot}"), &n, "EX", "100000"]),
            s(&["SELECT", "0"]),
        ],
        _ => vec![
            s(&["MULTI"]),
            s(&["INCR", "tx:a"]),
            s(&["DEL", &format!("s:{}", (seq * 7) % 2000)]),
            s(&["EXEC"]),
        ],
    }
}

/// Writes of the families added after the core types (bitmaps, HyperLogLog, geo, SORT …
/// STORE), each propagated as Redis 7.0 propagates it: round `round` of them. HLL strings
/// and geo scores must come out byte for byte the same on the replica.
pub fn family_writes(round: usize) -> Vec<Vec<String>> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let r = round.to_string();
    let elements: Vec<String> = (0..40).map(|i| format!("e{round}-{i}")).collect();
    let mut pfadd = vec!["PFADD".to_string(), "hll:small".to_string()];
    pfadd.extend(elements.iter().cloned());
    let mut pfadd_many = vec!["PFADD".to_string(), format!("hll:big{}", round % 2)];
    pfadd_many.extend((0..600).map(|i| format!("m{round}-{i}")));
    vec![
        s(&["SETBIT", "bits:a", &(round * 7 % 200).to_string(), "1"]),
        s(&["SETBIT", "bits:b", &(round * 3 % 100).to_string(), "1"]),
        s(&["BITOP", "XOR", "bits:x", "bits:a", "bits:b"]),
        s(&[
            "BITFIELD", "bits:f", "OVERFLOW", "WRAP", "INCRBY", "u5", "3", "9", "SET", "i8", "#2",
            &r,
        ]),
        pfadd,
        pfadd_many,
        // A refreshed cached count changes the string: it goes to replicas too.
        s(&["PFCOUNT", "hll:small"]),
        s(&["PFMERGE", "hll:merged", "hll:small", "hll:big0", "hll:big1"]),
        s(&["PFCOUNT", "hll:merged"]),
        s(&[
            "GEOADD",
            "geo",
            &format!("{}", 13.0 + round as f64 * 0.01),
            "38.1",
            &format!("place{round}"),
        ]),
        s(&[
            "GEORADIUS",
            "geo",
            "13",
            "38",
            "200",
            "km",
            "STORE",
            "geo:near",
        ]),
        s(&[
            "GEOSEARCHSTORE",
            "geo:dist",
            "geo",
            "FROMLONLAT",
            "13",
            "38",
            "BYBOX",
            "300",
            "300",
            "km",
            "STOREDIST",
        ]),
        s(&["RPUSH", "sort:src", &(round * 37 % 101).to_string()]),
        s(&[
            "SORT", "sort:src", "DESC", "LIMIT", "0", "5", "STORE", "sort:dst",
        ]),
    ]
}
