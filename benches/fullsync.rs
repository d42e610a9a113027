//! `fullsync`: a full sync end to end over loopback, with the `sluice` binary as master and as
//! replicas. Each iteration starts fresh replica processes (outside the timed part), then
//! times from `REPLICAOF` until every replica's link is up and it holds every key.
//!
//! Variants: `repl-diskless-sync yes|no`, plain or zstd (`repl-compression no|zstd`), 1 or 3
//! replicas, 1 KB strings or small collections. Throughput is the master's RDB size.
//! `SLUICE_BENCH_BYTES` sets the dataset (default 32 MiB, the quick mode; 1 GiB for the
//! full run):
//!
//!     cargo bench --bench fullsync -- --quick
//!     SLUICE_BENCH_BYTES=1073741824 cargo bench --bench fullsync
//!     SLUICE_BENCH_DATASETS=strings_1kb SLUICE_BENCH_BYTES=1073741824 cargo bench --bench fullsync

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const SYNC_LIMIT: Duration = Duration::from_secs(600);

fn bench_bytes() -> u64 {
    std::env::var("SLUICE_BENCH_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32 << 20)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

struct Server {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("sluice-bench-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("bench dir");
        let child = Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args(["--port", &port.to_string(), "--save", "", "--dir"])
            .arg(&dir)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting sluice");
        let server = Server { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(mut c) = Client::connect(port)
                && c.cmd(&["PING"]).starts_with("+PONG")
            {
                return server;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("sluice did not start on port {port}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Just enough RESP for the bench: commands out, one reply line (or bulk) back.
struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    fn connect(port: u16) -> std::io::Result<Client> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        Ok(Client {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
        })
    }

    fn encode(args: &[&str]) -> Vec<u8> {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
        }
        out
    }

    fn send_many(&mut self, commands: &[Vec<u8>]) {
        for c in commands {
            self.writer.write_all(c).expect("sending");
        }
        for _ in commands {
            let reply = self.reply();
            assert!(!reply.starts_with('-'), "{reply}");
        }
    }

    fn cmd(&mut self, args: &[&str]) -> String {
        self.writer.write_all(&Self::encode(args)).expect("sending");
        self.reply()
    }

    /// A simple line, or a bulk's content.
    fn reply(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("reading a reply");
        if let Some(len) = line.strip_prefix('$') {
            let Ok(len) = len.trim().parse::<usize>() else {
                return String::new();
            };
            let mut body = vec![0u8; len + 2];
            self.reader.read_exact(&mut body).expect("reading a bulk");
            body.truncate(len);
            return String::from_utf8_lossy(&body).into_owned();
        }
        line.trim_end().to_string()
    }

    fn info_field(&mut self, section: &str, field: &str) -> Option<String> {
        let info = self.cmd(&["INFO", section]);
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")).map(str::to_string))
    }
}

#[derive(Clone, Copy)]
enum Dataset {
    Strings,
    Collections,
}

impl Dataset {
    fn name(self) -> &'static str {
        match self {
            Dataset::Strings => "strings_1kb",
            Dataset::Collections => "collections",
        }
    }

    /// Loads about `bytes` of data; returns the number of keys.
    fn load(self, client: &mut Client, bytes: u64) -> u64 {
        let value = "x".repeat(1000);
        let mut keys = 0u64;
        let mut batch = Vec::new();
        match self {
            Dataset::Strings => {
                for i in 0..bytes / 1000 {
                    let key = format!("key:{i:010}");
                    batch.push(Client::encode(&["SET", &key, &value]));
                    keys += 1;
                    if batch.len() == 1000 {
                        client.send_many(&batch);
                        batch.clear();
                    }
                }
            }
            Dataset::Collections => {
                // Hashes, sets and sorted sets of 20 small members, ~400 bytes each.
                let members: Vec<String> = (0..20).map(|m| format!("member-{m:04}")).collect();
                for i in 0..bytes / 400 {
                    let key = format!("coll:{i:010}");
                    let mut args: Vec<String> = Vec::new();
                    match i % 3 {
                        0 => {
                            args.extend(["HSET".into(), key]);
                            for m in &members {
                                args.extend([m.clone(), format!("{i}")]);
                            }
                        }
                        1 => {
                            args.extend(["SADD".into(), key]);
                            args.extend(members.iter().cloned());
                        }
                        _ => {
                            args.extend(["ZADD".into(), key]);
                            for (score, m) in members.iter().enumerate() {
                                args.extend([score.to_string(), m.clone()]);
                            }
                        }
                    }
                    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
                    batch.push(Client::encode(&refs));
                    keys += 1;
                    if batch.len() == 500 {
                        client.send_many(&batch);
                        batch.clear();
                    }
                }
            }
        }
        client.send_many(&batch);
        keys
    }
}

/// Starts `count` replicas, points them at the master at once and returns the time until
/// every one is up and holds `keys` keys.
fn sync_once(master_port: u16, count: usize, keys: u64) -> Duration {
    let replicas: Vec<Server> = (0..count)
        .map(|_| Server::start(&["--repl-log-dir", ""]))
        .collect();
    let mut clients: Vec<Client> = replicas
        .iter()
        .map(|r| Client::connect(r.port).expect("replica client"))
        .collect();
    let port = master_port.to_string();
    let started = Instant::now();
    for c in &mut clients {
        assert_eq!(c.cmd(&["REPLICAOF", "127.0.0.1", &port]), "+OK");
    }
    for c in &mut clients {
        loop {
            assert!(started.elapsed() < SYNC_LIMIT, "full sync took too long");
            let up = c.info_field("replication", "master_link_status").as_deref() == Some("up");
            if up && c.cmd(&["DBSIZE"]) == format!(":{keys}") {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    started.elapsed()
}

fn fullsync(c: &mut Criterion) {
    let bytes = bench_bytes();
    let mut group = c.benchmark_group("fullsync");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    // `SLUICE_BENCH_DATASETS=strings_1kb` (or `collections`) skips the other dataset's
    // masters: criterion's name filter would still load them, minutes at 1 GiB.
    let only = std::env::var("SLUICE_BENCH_DATASETS").ok();
    let wanted = |d: Dataset| {
        only.as_deref()
            .is_none_or(|o| o.split(',').any(|n| n == d.name()))
    };
    for dataset in [Dataset::Strings, Dataset::Collections]
        .into_iter()
        .filter(|d| wanted(*d))
    {
        for diskless in ["yes", "no"] {
            for compression in ["no", "zstd"] {
                let master = Server::start(&[
                    "--repl-diskless-sync",
                    diskless,
                    // The job starts once the expected replicas are in (max-replicas,
                    // set per variant below), as a deployment sharing one stream would.
                    "--repl-diskless-sync-delay",
                    "5",
                    "--repl-compression",
                    compression,
                    "--repl-log-dir",
                    "",
                ]);
                let mut client = Client::connect(master.port).expect("master client");
                let keys = dataset.load(&mut client, bytes);
                // The RDB's size, for the throughput: what a full sync moves.
                assert_eq!(client.cmd(&["SAVE"]), "+OK");
                let rdb_bytes = std::fs::metadata(master.dir.join("dump.rdb"))
                    .map(|m| m.len())
                    .unwrap_or(bytes);
                for replicas in [1usize, 3] {
                    let max = replicas.to_string();
                    assert_eq!(
                        client.cmd(&["CONFIG", "SET", "repl-diskless-sync-max-replicas", &max]),
                        "+OK"
                    );
                    group.throughput(Throughput::Bytes(rdb_bytes * replicas as u64));
                    let id = BenchmarkId::new(
                        format!(
                            "{}/diskless_{diskless}/compression_{compression}",
                            dataset.name()
                        ),
                        format!("{replicas}_replicas"),
                    );
                    group.bench_function(id, |b| {
                        b.iter_custom(|iters| {
                            (0..iters)
                                .map(|_| sync_once(master.port, replicas, keys))
                                .sum()
                        })
                    });
                }
            }
        }
    }
    group.finish();
}

criterion_group!(benches, fullsync);
criterion_main!(benches);
