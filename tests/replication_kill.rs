//! sluice → sluice replication under hard faults: a replica killed with -9 in the middle of a
//! full sync or while streaming, a link cut in the middle of the transfer, and a master
//! killed with -9 and restarted on the same port and dir. After each fault the survivors end
//! with equal data, compared key by key. Every wait is bounded; everything runs on loopback.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

mod common;

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::compare::{info_field, repl_field, stat, wait_for, wait_in_sync};
use common::{Client, Resp, Resume, ServerProcess, encode_command, signal};

const LIMIT: Duration = Duration::from_secs(40);
/// Enough data that a full sync of a debug build takes a moment.
const BIG_KEYS: usize = 60_000;
const VALUE_BYTES: usize = 1000;

/// `count` keys of `VALUE_BYTES` each, plus a few of every other type and some TTLs.
fn load(client: &mut Client, count: usize) {
    let value = "v".repeat(VALUE_BYTES - 8);
    let mut batch = Vec::new();
    let per_command = 100;
    let mut commands = 0;
    for start in (0..count).step_by(per_command) {
        let mut args = vec!["MSET".to_string()];
        for i in start..(start + per_command).min(count) {
            args.push(format!("key:{i:08}"));
            args.push(format!("{i:08}{value}"));
        }
        batch.extend_from_slice(&encode_command(&args));
        commands += 1;
        if commands % 200 == 0 {
            send_all(client, &batch, 200);
            batch.clear();
        }
    }
    send_all(client, &batch, commands % 200);
    let extra: Vec<Vec<&str>> = vec![
        vec!["RPUSH", "list", "a", "b", "c"],
        vec!["HSET", "hash", "f", "v", "g", "w"],
        vec!["SADD", "set", "x", "y"],
        vec!["ZADD", "zset", "1", "a", "2", "b"],
        vec!["SET", "ttl", "v", "EX", "5000"],
        vec!["SELECT", "3"],
        vec!["SET", "in3", "three"],
        vec!["SELECT", "0"],
    ];
    for args in extra {
        assert!(!client.cmd(&args).is_error(), "{args:?}");
    }
}

fn send_all(client: &mut Client, bytes: &[u8], replies: usize) {
    client.send_raw(bytes).expect("sending a pipeline");
    for _ in 0..replies {
        let reply = client.read().expect("reading a pipelined reply");
        assert!(!reply.is_error(), "{reply:?}");
    }
}

/// Reads pipelined replies without moving the buffer for each one (the shared client does,
/// which is quadratic for long pipelines of kilobyte values).
struct PipelineReader {
    stream: std::net::TcpStream,
    buf: Vec<u8>,
    pos: usize,
}

impl PipelineReader {
    fn new(port: u16) -> PipelineReader {
        let stream = Client::connect(port).try_clone_stream();
        PipelineReader {
            stream,
            buf: Vec::new(),
            pos: 0,
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("sending a pipeline");
    }

    fn read(&mut self) -> Resp {
        loop {
            match common::parse_reply(&self.buf[self.pos..]) {
                Ok(Some((value, used))) => {
                    self.pos += used;
                    return value;
                }
                Ok(None) => {}
                Err(e) => panic!("bad reply: {e}"),
            }
            if self.pos > 0 {
                self.buf.drain(..self.pos);
                self.pos = 0;
            }
            let mut chunk = vec![0u8; 256 * 1024];
            let n = self.stream.read(&mut chunk).expect("reading replies");
            assert!(n > 0, "connection closed during a pipeline");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    fn cmd(&mut self, args: &[&[u8]]) -> Resp {
        self.send(&encode_command(args));
        self.read()
    }
}

/// A reply as short comparable text: small ones in full, big ones by length and hash.
fn fingerprint(reply: &Resp) -> String {
    let encoded = reply.encode();
    if encoded.len() <= 120 {
        return common::escape(&encoded);
    }
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    encoded.hash(&mut hasher);
    format!(
        "{}... ({} bytes, hash {:016x})",
        common::escape(&encoded[..60]),
        encoded.len(),
        hasher.finish()
    )
}

/// Every key of the first `databases` dbs as `db key type value expiry`, sorted. Pipelined:
/// the dataset here is too big for a round trip per key in a debug build.
fn dump(port: u16, databases: usize) -> Vec<String> {
    const BATCH: usize = 1000;
    let mut conn = PipelineReader::new(port);
    let mut out = Vec::new();
    for db in 0..databases {
        let selected = conn.cmd(&[b"SELECT", db.to_string().as_bytes()]);
        assert_eq!(selected, Resp::simple("OK"));
        let keys: Vec<Vec<u8>> = conn
            .cmd(&[b"KEYS", b"*"])
            .items()
            .unwrap_or_default()
            .into_iter()
            .map(|k| match k {
                Resp::Bulk(k) => k,
                other => panic!("KEYS returned {other:?}"),
            })
            .collect();
        for chunk in keys.chunks(BATCH) {
            let mut request = Vec::new();
            for key in chunk {
                request.extend(encode_command(&[&b"TYPE"[..], key]));
            }
            conn.send(&request);
            let types: Vec<String> = chunk
                .iter()
                .map(|_| conn.read().text().unwrap_or_default())
                .collect();
            let mut request = Vec::new();
            for (key, kind) in chunk.iter().zip(&types) {
                let read: Vec<&[u8]> = match kind.as_str() {
                    "string" => vec![b"GET", key],
                    "list" => vec![b"LRANGE", key, b"0", b"-1"],
                    "hash" => vec![b"HGETALL", key],
                    "set" => vec![b"SMEMBERS", key],
                    "zset" => vec![b"ZRANGE", key, b"0", b"-1", b"WITHSCORES"],
                    // Expired or deleted between KEYS and TYPE: still compared by its reply.
                    _ => vec![b"EXISTS", key],
                };
                request.extend(encode_command(&read));
                request.extend(encode_command(&[&b"PEXPIRETIME"[..], key]));
            }
            conn.send(&request);
            for (key, kind) in chunk.iter().zip(&types) {
                let value = conn.read();
                let expiry = conn.read();
                let value = match kind.as_str() {
                    "hash" | "set" => {
                        let group = if kind == "hash" { 2 } else { 1 };
                        let items = value.items().unwrap_or_default();
                        let mut groups: Vec<String> = items
                            .chunks(group)
                            .map(|g| g.iter().map(fingerprint).collect::<Vec<_>>().join(" "))
                            .collect();
                        groups.sort();
                        groups.join(",")
                    }
                    _ => fingerprint(&value),
                };
                out.push(format!(
                    "db{db} {} {kind} {value} expiry={}",
                    common::escape(key),
                    fingerprint(&expiry)
                ));
            }
        }
    }
    out.sort();
    out
}

/// Both servers hold the same keys, types, values and expiries on their first dbs.
fn assert_same_data(master_port: u16, replica_port: u16) {
    const DATABASES: usize = 4;
    let expected = dump(master_port, DATABASES);
    let actual = dump(replica_port, DATABASES);
    if expected != actual {
        let (expected_set, actual_set): (HashSet<&String>, HashSet<&String>) =
            (expected.iter().collect(), actual.iter().collect());
        let only_master: Vec<&String> = expected
            .iter()
            .filter(|k| !actual_set.contains(k))
            .take(5)
            .collect();
        let only_replica: Vec<&String> = actual
            .iter()
            .filter(|k| !expected_set.contains(k))
            .take(5)
            .collect();
        panic!(
            "datasets differ: master {} keys, replica {} keys\nonly on master: {only_master:#?}\nonly on replica: {only_replica:#?}",
            expected.len(),
            actual.len()
        );
    }
}

/// Writes to `port` until `stop` is set or the connection fails; returns how many.
fn writer(port: u16, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let Ok(mut client) = Client::try_connect(port) else {
            return 0;
        };
        let mut written = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let key = format!("w:{}", written % 5000);
            let sent = client
                .send(&["SET", &key, &written.to_string()])
                .and_then(|_| client.send(&["INCR", "w:counter"]))
                .and_then(|_| client.read())
                .and_then(|_| client.read());
            if sent.is_err() {
                break;
            }
            written += 1;
        }
        written
    })
}

/// The master's INFO line for its only replica, e.g. `ip=...,state=send_bulk,...`.
fn replica_state(master: &mut Client) -> String {
    info_field(master, "replication", "slave0").unwrap_or_default()
}

/// A sluice master with a big dataset and a replica stopped (SIGSTOP) in the middle of its
/// full sync. Returns the master, the replica and its resumer.
fn stopped_in_full_sync(diskless: bool) -> (ServerProcess, ServerProcess, Resume) {
    let master_server = ServerProcess::sluice(&[
        "--repl-diskless-sync",
        if diskless { "yes" } else { "no" },
        "--repl-diskless-sync-delay",
        "0",
    ]);
    let mut master = master_server.client();
    load(&mut master, BIG_KEYS);
    // The replica has data of its own, to be served until a sync completes.
    let replica_server = ServerProcess::sluice(&[]);
    let mut replica = replica_server.client();
    assert_eq!(replica.cmd_text(&["SET", "old-data", "kept"]), "OK");
    let port = master_server.port.to_string();
    assert_eq!(replica.cmd_text(&["REPLICAOF", "127.0.0.1", &port]), "OK");
    wait_for(
        LIMIT,
        "the replica's full sync to be under way",
        || {
            let info = replica.cmd_text(&["INFO", "replication"]);
            common::info_field(&info, "master_sync_in_progress").as_deref() == Some("1")
                && common::info_field(&info, "master_sync_read_bytes")
                    .and_then(|v| v.parse::<u64>().ok())
                    .is_some_and(|n| n > 0)
        },
        || replica_server.log_text(),
    );
    signal(replica_server.pid(), "-STOP");
    let resume = Resume(replica_server.pid());
    // Stopped mid-transfer: the payload is far larger than the socket buffers.
    let state = replica_state(&mut master);
    assert!(
        state.contains("state=send_bulk"),
        "the master should still be sending the payload: {state}"
    );
    (master_server, replica_server, resume)
}

#[test]
fn replica_killed_during_full_sync_then_a_new_replica_syncs() {
    for diskless in [true, false] {
        let (master_server, mut replica_server, resume) = stopped_in_full_sync(diskless);
        let mut master = master_server.client();
        signal(replica_server.pid(), "-KILL");
        assert!(replica_server.exited_within(Duration::from_secs(10)));
        drop(resume);
        wait_for(
            LIMIT,
            "the master to drop the killed replica",
            || repl_field(&mut master, "connected_slaves") == "0",
            || master_server.log_text(),
        );
        master.cmd(&["SET", "after-kill", "1"]);
        let replica_server =
            ServerProcess::sluice(&["--replicaof", "127.0.0.1", &master_server.port.to_string()]);
        let mut replica = replica_server.client();
        wait_in_sync(&mut master, &mut replica, LIMIT);
        assert_eq!(stat(&mut master, "sync_full"), 2);
        assert_same_data(master_server.port, replica_server.port);
    }
}

#[test]
fn replica_killed_while_streaming_restarts_with_a_full_sync() {
    let master_server = ServerProcess::sluice(&["--repl-diskless-sync-delay", "0"]);
    let mut master = master_server.client();
    load(&mut master, 20_000);
    let port = master_server.port.to_string();
    let mut replica_server = ServerProcess::sluice(&["--replicaof", "127.0.0.1", &port]);
    let mut replica = replica_server.client();
    wait_in_sync(&mut master, &mut replica, LIMIT);

    let stop = Arc::new(AtomicBool::new(false));
    let writing = writer(master_server.port, stop.clone());
    wait_for(
        LIMIT,
        "the replica to receive streamed writes",
        || replica.cmd(&["EXISTS", "w:counter"]).int() == Some(1),
        || replica_server.log_text(),
    );
    signal(replica_server.pid(), "-KILL");
    assert!(replica_server.exited_within(Duration::from_secs(10)));
    wait_for(
        LIMIT,
        "the master to drop the killed replica",
        || repl_field(&mut master, "connected_slaves") == "0",
        || master_server.log_text(),
    );
    let partial_before = stat(&mut master, "sync_partial_ok");
    // A new process on a fresh dir has no history: it needs a full sync, while the writes go
    // on.
    let replica_server = ServerProcess::sluice(&["--replicaof", "127.0.0.1", &port]);
    let mut replica = replica_server.client();
    wait_for(
        LIMIT,
        "the restarted replica's link",
        || repl_field(&mut replica, "master_link_status") == "up",
        || replica_server.log_text(),
    );
    stop.store(true, Ordering::Relaxed);
    let written = writing.join().expect("writer thread");
    assert!(written > 0);
    wait_in_sync(&mut master, &mut replica, LIMIT);
    assert_eq!(stat(&mut master, "sync_full"), 2);
    assert_eq!(stat(&mut master, "sync_partial_ok"), partial_before);
    assert_eq!(replica.cmd_text(&["GET", "w:counter"]), written.to_string());
    assert_same_data(master_server.port, replica_server.port);
}

#[test]
fn link_cut_during_the_transfer_is_retried() {
    for diskless in [true, false] {
        let (master_server, replica_server, resume) = stopped_in_full_sync(diskless);
        let mut master = master_server.client();
        assert_eq!(
            master.cmd(&["CLIENT", "KILL", "TYPE", "replica"]).int(),
            Some(1)
        );
        master.cmd(&["SET", "during-retry", "1"]);
        drop(resume);
        // Until a sync completes the replica serves its old data, never part of the new.
        let mut replica = replica_server.client();
        let mut old_seen = 0;
        wait_for(
            LIMIT,
            "the retried sync to complete",
            || {
                // One transaction, so that a sync completing between the two reads cannot
                // pair the old size with the new data.
                assert_eq!(replica.cmd_text(&["MULTI"]), "OK");
                replica.cmd(&["DBSIZE"]);
                replica.cmd(&["GET", "old-data"]);
                let both = replica.cmd(&["EXEC"]).items().expect("EXEC reply");
                let size = both[0].int().unwrap_or(-1);
                if size == 1 {
                    assert_eq!(both[1].text().as_deref(), Some("kept"));
                    old_seen += 1;
                    return false;
                }
                assert!(
                    size > BIG_KEYS as i64,
                    "a partial dataset of {size} keys is visible"
                );
                true
            },
            || replica_server.log_text(),
        );
        assert!(old_seen > 0, "the old data should be served after the cut");
        wait_in_sync(&mut master, &mut replica, LIMIT);
        assert_eq!(replica.cmd(&["EXISTS", "old-data"]).int(), Some(0));
        assert_eq!(stat(&mut master, "sync_full"), 2);
        assert_same_data(master_server.port, replica_server.port);
        let log = replica_server.log_text();
        assert!(
            log.contains("the previous data is kept")
                || log.contains("connection closed by the master"),
            "the replica should log the cut transfer:\n{log}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// A master killed and restarted on the same port and dir
// ---------------------------------------------------------------------------------------

/// A sluice started on a given port and dir (ServerProcess picks its own); killed on drop.
struct Restarted {
    child: Child,
    port: u16,
}

impl Restarted {
    fn start(port: u16, dir: &Path, extra: &[&str]) -> Restarted {
        let log = std::fs::File::create(dir.join("restarted.log")).expect("creating the log");
        let log_err = log.try_clone().expect("cloning the log handle");
        let child = Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args([
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--bind",
                "127.0.0.1",
            ])
            .args(extra)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .expect("spawning sluice");
        let mut server = Restarted { child, port };
        let deadline = Instant::now() + common::START_TIMEOUT;
        loop {
            assert!(
                matches!(server.child.try_wait(), Ok(None)),
                "the restarted master exited; log:\n{}",
                std::fs::read_to_string(dir.join("restarted.log")).unwrap_or_default()
            );
            if let Ok(mut client) = Client::try_connect(port)
                && client
                    .cmd_raw_io(&["PING"])
                    .is_ok_and(|r| r == b"+PONG\r\n")
            {
                let info = client.cmd_text(&["INFO", "server"]);
                let pid = common::info_field(&info, "process_id");
                assert_eq!(
                    pid,
                    Some(server.child.id().to_string()),
                    "port {port} taken by another process"
                );
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the restarted master never answered PING"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    fn client(&self) -> Client {
        Client::connect(self.port)
    }
}

impl Drop for Restarted {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The master restarts on its durable log (no RDB: it replays the log from offset 0) under a
/// new replid. A replica at or below the recovered offset continues by PSYNC; one that had
/// received more than the master kept (everysec loses up to a second; sled may keep more)
/// takes a full sync. Either way the data ends equal, down a chain of replicas too.
#[test]
fn master_killed_and_restarted_is_followed_again() {
    let mut master_server = ServerProcess::sluice(&["--repl-diskless-sync-delay", "0"]);
    let mut master = master_server.client();
    load(&mut master, 5_000);
    let port = master_server.port;
    let replica_server = ServerProcess::sluice(&["--replicaof", "127.0.0.1", &port.to_string()]);
    let mut replica = replica_server.client();
    wait_in_sync(&mut master, &mut replica, LIMIT);
    // A replica of the replica: it must follow the chain through the restart.
    let chained_server =
        ServerProcess::sluice(&["--replicaof", "127.0.0.1", &replica_server.port.to_string()]);
    let mut chained = chained_server.client();
    wait_in_sync(&mut master, &mut chained, LIMIT);
    let old_replid = repl_field(&mut master, "master_replid");

    let stop = Arc::new(AtomicBool::new(false));
    let writing = writer(port, stop.clone());
    wait_for(
        LIMIT,
        "the replica to receive streamed writes",
        || replica.cmd(&["EXISTS", "w:counter"]).int() == Some(1),
        || replica_server.log_text(),
    );
    signal(master_server.pid(), "-KILL");
    assert!(master_server.exited_within(Duration::from_secs(10)));
    stop.store(true, Ordering::Relaxed);
    let _ = writing.join();
    wait_for(
        LIMIT,
        "the replica to see its link down",
        || repl_field(&mut replica, "master_link_status") == "down",
        || replica_server.log_text(),
    );
    // The old data is still served while the master is away, down the chain too.
    assert_eq!(replica.cmd(&["EXISTS", "key:00000001"]).int(), Some(1));
    assert_eq!(chained.cmd(&["EXISTS", "key:00000001"]).int(), Some(1));
    assert_eq!(repl_field(&mut chained, "master_link_status"), "up");
    let replica_offset: u64 = repl_field(&mut replica, "slave_repl_offset")
        .parse()
        .expect("slave_repl_offset");

    let restarted = Restarted::start(
        port,
        master_server.dir(),
        &["--repl-diskless-sync-delay", "0"],
    );
    let mut master = restarted.client();
    wait_for(
        LIMIT,
        "the restarted master to replay its log",
        || info_field(&mut master, "persistence", "loading").as_deref() == Some("0"),
        String::new,
    );
    let new_replid = repl_field(&mut master, "master_replid");
    assert_ne!(new_replid, old_replid);
    let recovered: u64 = repl_field(&mut master, "master_repl_offset")
        .parse()
        .expect("master_repl_offset");
    master.cmd(&["SET", "after-restart", "1"]);
    wait_in_sync(&mut master, &mut replica, LIMIT);
    assert_eq!(repl_field(&mut replica, "master_replid"), new_replid);
    assert_same_data(restarted.port, replica_server.port);
    assert_eq!(replica.cmd_text(&["GET", "after-restart"]), "1");
    let log = replica_server.log_text();
    let continued = replica_offset <= recovered;
    println!(
        "replica at {replica_offset}, master recovered {recovered}: {}",
        if continued {
            "PSYNC continues"
        } else {
            "full resync"
        }
    );
    if continued {
        assert!(
            log.contains("successful partial resynchronization"),
            "the replica holds no more than the master recovered: it must continue\n{log}"
        );
    } else {
        assert!(
            log.contains(&format!("full resync from master: {new_replid}")),
            "the replica holds more than the master recovered: it must resync in full\n{log}"
        );
    }
    // The chained replica resyncs from the replica to the new history.
    wait_in_sync(&mut master, &mut chained, LIMIT);
    assert_eq!(repl_field(&mut chained, "master_replid"), new_replid);
    assert_same_data(restarted.port, chained_server.port);
    // And both keep following.
    master.cmd(&["SET", "later", "2"]);
    wait_in_sync(&mut master, &mut replica, LIMIT);
    wait_in_sync(&mut master, &mut chained, LIMIT);
    assert_same_data(restarted.port, replica_server.port);
    assert_same_data(restarted.port, chained_server.port);
}

/// Links cut again and again while transactions of large values stream: every cut resumes
/// with a partial resync, and no transaction arrives in part.
#[test]
fn repeated_link_cuts_during_transactions() {
    // A backlog that outlasts each cut, so that every one of them can continue.
    let master_server = ServerProcess::sluice(&[
        "--repl-diskless-sync-delay",
        "0",
        "--repl-backlog-size",
        "64mb",
    ]);
    let mut master = master_server.client();
    load(&mut master, 1_000);
    let replica_server =
        ServerProcess::sluice(&["--replicaof", "127.0.0.1", &master_server.port.to_string()]);
    let mut replica = replica_server.client();
    wait_in_sync(&mut master, &mut replica, LIMIT);

    let stop = Arc::new(AtomicBool::new(false));
    let port = master_server.port;
    let writing = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut client = Client::connect(port);
            let value = "t".repeat(1_000);
            let mut transactions = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let mut request = encode_command(&["MULTI"]);
                request.extend(encode_command(&["INCR", "tx:counter"]));
                for i in 0..10 {
                    let key = format!(
                        "tx:big:{}",
                        (usize::try_from(transactions).unwrap() * 10 + i) % 500
                    );
                    request.extend(encode_command(&["SET", &key, &value]));
                }
                request.extend(encode_command(&[
                    "SET",
                    "tx:last",
                    &(transactions + 1).to_string(),
                ]));
                request.extend(encode_command(&["EXEC"]));
                client.send_raw(&request).expect("sending a transaction");
                for _ in 0..13 {
                    client.read().expect("a transaction reply");
                }
                transactions += 1;
                // Paced so that a debug-build replica keeps up between the cuts.
                std::thread::sleep(Duration::from_millis(2));
            }
            transactions
        })
    };
    // The replica must have seen one transaction before the cuts begin.
    wait_for(
        LIMIT,
        "the first transaction on the replica",
        || replica.cmd(&["EXISTS", "tx:last"]).int() == Some(1),
        || replica_server.log_text(),
    );
    for cut in 0..6 {
        let partial_before = stat(&mut master, "sync_partial_ok");
        let killed = if cut % 2 == 0 {
            master.cmd(&["CLIENT", "KILL", "TYPE", "replica"])
        } else {
            replica.cmd(&["CLIENT", "KILL", "TYPE", "master"])
        };
        assert_eq!(killed.int(), Some(1), "cut {cut}");
        wait_for(
            LIMIT,
            "the partial resync",
            || stat(&mut master, "sync_partial_ok") > partial_before,
            || format!("cut {cut}; replica log:\n{}", replica_server.log_text()),
        );
        // Whatever the replica shows is a whole number of transactions, and more of them
        // stream in before the next cut.
        let counter = |replica: &mut Client| -> u64 {
            let state = replica.cmd(&["MGET", "tx:counter", "tx:last"]);
            let items = state.items().unwrap_or_default();
            assert_eq!(
                items.first(),
                items.get(1),
                "a transaction arrived in part: {state:?}"
            );
            items
                .first()
                .and_then(Resp::text)
                .and_then(|t| t.parse().ok())
                .unwrap_or(0)
        };
        let seen = counter(&mut replica);
        wait_for(
            LIMIT,
            "transactions streaming after the resync",
            || counter(&mut replica) >= seen + 20,
            || replica_server.log_text(),
        );
    }
    stop.store(true, Ordering::Relaxed);
    let transactions = writing.join().expect("writer thread");
    wait_in_sync(&mut master, &mut replica, LIMIT);
    assert_eq!(
        replica.cmd_text(&["GET", "tx:counter"]),
        transactions.to_string()
    );
    assert_eq!(stat(&mut master, "sync_full"), 1);
    assert_eq!(stat(&mut master, "sync_partial_err"), 0);
    assert_same_data(master_server.port, replica_server.port);
}

/// A replica killed while it waits for a shared diskless snapshot does not hold up the
/// others that share it.
#[test]
fn replica_killed_while_waiting_for_a_shared_snapshot() {
    let master_server = ServerProcess::sluice(&[
        "--repl-diskless-sync",
        "yes",
        "--repl-diskless-sync-delay",
        "3",
    ]);
    let mut master = master_server.client();
    load(&mut master, 2_000);
    let port = master_server.port.to_string();
    let mut replicas: Vec<ServerProcess> = (0..3)
        .map(|_| ServerProcess::sluice(&["--replicaof", "127.0.0.1", &port]))
        .collect();
    wait_for(
        LIMIT,
        "three replicas waiting for the snapshot",
        || {
            let info = master.cmd_text(&["INFO", "replication"]);
            info.matches("state=wait_bgsave").count() == 3
        },
        || master_server.log_text(),
    );
    let mut victim = replicas.remove(1);
    signal(victim.pid(), "-KILL");
    assert!(victim.exited_within(Duration::from_secs(10)));
    for server in &replicas {
        let mut replica = server.client();
        wait_in_sync(&mut master, &mut replica, LIMIT);
        assert_same_data(master_server.port, server.port);
    }
    wait_for(
        LIMIT,
        "the master to forget the killed replica",
        || repl_field(&mut master, "connected_slaves") == "2",
        || master_server.log_text(),
    );
    assert_eq!(stat(&mut master, "sync_snapshots"), 1);
}
