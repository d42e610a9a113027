//! Key-by-key comparison of two servers' datasets (every db, type, value and absolute
//! expiry), and waiting for a replica to reach its master's offset.

use std::time::{Duration, Instant};

use super::{Client, Resp, ServerProcess, escape};

/// One key as comparable bytes: type, value (unordered collections sorted), expiry, each
/// as the RESP bytes of its reply. Bytes, not text: formatting 1000-byte values for every
/// key in a debug build was a fifth of some tests' CPU time. Text only for a report.
fn describe_key(client: &mut Client, key: &[u8]) -> Vec<u8> {
    let kind = client.cmd_text(&[&b"TYPE"[..], key]);
    let mut out = kind.clone().into_bytes();
    out.push(b' ');
    let sorted = |mut parts: Vec<Vec<u8>>| -> Vec<u8> {
        parts.sort();
        parts.join(&b","[..])
    };
    match kind.as_str() {
        "string" => out.extend(client.cmd(&[&b"GET"[..], key]).encode()),
        "list" => out.extend(client.cmd(&[&b"LRANGE"[..], key, b"0", b"-1"]).encode()),
        "hash" => out.extend(sorted(
            client
                .cmd(&[&b"HGETALL"[..], key])
                .items()
                .unwrap_or_default()
                .chunks(2)
                .map(|p| p.iter().flat_map(Resp::encode).collect())
                .collect(),
        )),
        "set" => out.extend(sorted(
            client
                .cmd(&[&b"SMEMBERS"[..], key])
                .items()
                .unwrap_or_default()
                .iter()
                .map(Resp::encode)
                .collect(),
        )),
        // Scores as numbers: Redis 7.0 prints them with %.17g, Redis 8 with the shortest
        // text that reads back the same double, and both mean the same score.
        "zset" => {
            let items = client
                .cmd(&[&b"ZRANGE"[..], key, b"0", b"-1", b"WITHSCORES"])
                .items()
                .unwrap_or_default();
            for pair in items.chunks(2) {
                out.extend(pair[0].encode());
                let score = match pair.get(1) {
                    Some(Resp::Bulk(text)) => String::from_utf8_lossy(text)
                        .parse::<f64>()
                        .map_or_else(|_| escape(text), |f| format!("{f:?}")),
                    other => format!("{other:?}"),
                };
                out.extend(score.into_bytes());
                out.push(b',');
            }
        }
        "stream" => out.extend(describe_stream(client, key)),
        other => out.extend(format!("unsupported type {other}").into_bytes()),
    }
    out.extend(b" expire=");
    out.extend(client.cmd(&[&b"PEXPIRETIME"[..], key]).encode());
    out
}

/// XINFO fields that differ between equal streams: node counts (the implementation's
/// layout), times a consumer was last seen (set where each server ran the command), fields
/// of releases newer than 7.0, and a group's read counter with the lag derived from it:
/// Redis 7.0 propagates deliveries as XCLAIM, which does not carry the counter, so even a
/// redis-server replica of a redis-server master shows it unknown where the master knows
/// it (checked side by side).
const STREAM_FIELDS_IGNORED: &[&[u8]] = &[
    b"radix-tree-keys",
    b"radix-tree-nodes",
    b"seen-time",
    b"active-time",
    b"inactive",
    b"idle",
    b"entries-read",
    b"lag",
    b"idmp-duration",
    b"idmp-maxsize",
    b"pids-tracked",
    b"iids-tracked",
    b"iids-added",
    b"iids-duplicates",
];

/// Drops the ignored fields from a reply shaped as RESP2 maps (name, value, ...), at any
/// depth.
fn without_ignored_fields(reply: Resp) -> Resp {
    let Resp::Array(items) = reply else {
        return reply;
    };
    let is_map = items.len() % 2 == 0
        && !items.is_empty()
        && items
            .iter()
            .step_by(2)
            .all(|k| matches!(k, Resp::Bulk(name) if name.iter().all(|b| b.is_ascii_lowercase() || *b == b'-')));
    if !is_map {
        return Resp::Array(items.into_iter().map(without_ignored_fields).collect());
    }
    let mut out = Vec::new();
    let mut pairs = items.into_iter();
    while let (Some(name), Some(value)) = (pairs.next(), pairs.next()) {
        if matches!(&name, Resp::Bulk(n) if STREAM_FIELDS_IGNORED.contains(&n.as_slice())) {
            continue;
        }
        out.push(name);
        out.push(without_ignored_fields(value));
    }
    Resp::Array(out)
}

/// A stream's entries, metadata, groups, pending entries and consumers, as XINFO STREAM FULL
/// reports them without the fields that differ between equal streams.
pub fn describe_stream(client: &mut Client, key: &[u8]) -> Vec<u8> {
    let full = client.cmd(&[&b"XINFO"[..], b"STREAM", key, b"FULL", b"COUNT", b"0"]);
    without_ignored_fields(full).encode()
}

/// Every key of every db of `client`, described, sorted.
pub fn dataset(client: &mut Client, databases: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for db in 0..databases {
        client.cmd(&["SELECT", &db.to_string()]);
        let keys = client.cmd(&["KEYS", "*"]).items().unwrap_or_default();
        for key in keys {
            let Resp::Bulk(name) = key else { continue };
            let mut line = format!("db{db} ").into_bytes();
            line.extend_from_slice(&name);
            line.extend_from_slice(b" => ");
            line.extend(describe_key(client, &name));
            out.push(line);
        }
    }
    client.cmd(&["SELECT", "0"]);
    out.sort();
    out
}

/// Asserts both servers hold exactly the same data, reporting the first differences.
pub fn assert_same_data(master: &mut Client, replica: &mut Client, databases: usize) {
    let a = dataset(master, databases);
    let b = dataset(replica, databases);
    if a != b {
        let only = |x: &[Vec<u8>], y: &[Vec<u8>]| -> Vec<String> {
            x.iter()
                .filter(|k| y.binary_search(k).is_err())
                .take(5)
                .map(|k| escape(k))
                .collect()
        };
        panic!(
            "datasets differ: master {} keys, replica {} keys\nonly on master: {:#?}\nonly on replica: {:#?}",
            a.len(),
            b.len(),
            only(&a, &b),
            only(&b, &a)
        );
    }
}

pub fn info_field(client: &mut Client, section: &str, field: &str) -> Option<String> {
    let text = client.cmd_text(&["INFO", section]);
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(|v| v.trim().to_string())
}

/// Waits until the replica's link is up and it has processed everything the master wrote.
pub fn wait_in_sync(master: &mut Client, replica: &mut Client, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let master_offset = info_field(master, "replication", "master_repl_offset");
        let link = info_field(replica, "replication", "master_link_status");
        let replica_offset = info_field(replica, "replication", "slave_repl_offset");
        if link.as_deref() == Some("up")
            && master_offset.is_some()
            && master_offset == replica_offset
        {
            return;
        }
        if Instant::now() >= deadline {
            panic!(
                "replica not in sync after {limit:?}: link {link:?}, master offset {master_offset:?}, replica offset {replica_offset:?}\n{}",
                replica.cmd_text(&["INFO", "replication"])
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Polls `check` until it holds or `limit` passes; panics with `what` and `context()`.
pub fn wait_for(
    limit: Duration,
    what: &str,
    mut check: impl FnMut() -> bool,
    context: impl Fn() -> String,
) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(check(), "timed out waiting for {what}; {}", context());
}

/// Polls `check` until it holds or `limit` passes; the answer.
pub fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    check()
}

/// A counter from INFO stats.
pub fn stat(client: &mut Client, name: &str) -> u64 {
    info_field(client, "stats", name)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in INFO stats"))
}

/// A field of INFO replication that must be there.
pub fn repl_field(client: &mut Client, name: &str) -> String {
    info_field(client, "replication", name)
        .unwrap_or_else(|| panic!("no {name} in INFO replication"))
}

/// Waits until `server` has saved a snapshot and no save is running: a replica's copy of
/// its full sync, the base its durable log replays onto after a restart.
pub fn wait_for_snapshot(server: &ServerProcess, limit: Duration) {
    let mut client = server.client();
    wait_for(
        limit,
        "a saved snapshot",
        || {
            let info = client.cmd_text(&["INFO", "persistence"]);
            super::info_field(&info, "rdb_saves").is_some_and(|n| n != "0")
                && super::info_field(&info, "rdb_bgsave_in_progress").as_deref() == Some("0")
        },
        || server.log_text(),
    );
}

/// `keys` string keys `k:NNNNNNN` of `value_bytes` each, written with MSET.
pub fn load_keys(client: &mut Client, keys: usize, value_bytes: usize) {
    let value = "v".repeat(value_bytes);
    for start in (0..keys).step_by(100) {
        let mut args = vec!["MSET".to_string()];
        for i in start..(start + 100).min(keys) {
            args.push(format!("k:{i:07}"));
            args.push(value.clone());
        }
        assert!(!client.cmd(&args).is_error());
    }
}

/// Starts `count` sluice replicas of `port` at the same moment.
pub fn start_replicas_together(port: u16, count: usize) -> Vec<ServerProcess> {
    let port = port.to_string();
    std::thread::scope(|scope| {
        let starts: Vec<_> = (0..count)
            .map(|_| scope.spawn(|| ServerProcess::sluice(&["--replicaof", "127.0.0.1", &port])))
            .collect();
        starts
            .into_iter()
            .map(|s| s.join().expect("starting a replica"))
            .collect()
    })
}

/// Waits until a (re)started server has loaded its data and replayed its log.
pub fn wait_loaded(server: &ServerProcess) {
    let mut client = server.client();
    wait_for(
        Duration::from_secs(60),
        "the server to finish loading",
        || info_field(&mut client, "persistence", "loading").as_deref() == Some("0"),
        || server.log_text(),
    );
}
