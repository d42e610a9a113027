//! SLOWLOG, LATENCY and the per-command statistics against redis-server 7.0.15: the same
//! script of commands must leave the same slow-log entries (arguments trimmed and secrets
//! redacted as Redis does them, the original command of a rewritten one, EXEC's commands
//! but not EXEC, a served blocked command), the same LATENCY HISTOGRAM names and call
//! counts, the same INFO latencystats and commandstats names, and the same errors for bad
//! subcommands. Times and durations differ by nature and are left out.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

mod common;

use std::collections::BTreeSet;

use common::{Client, Resp, ServerProcess, redis_available};

/// A slow-log entry without its id, time, duration and client port.
fn entry_shape(entry: &Resp) -> Vec<Resp> {
    let fields = entry.items().unwrap();
    assert_eq!(fields.len(), 6, "an entry has six fields");
    vec![fields[3].clone(), fields[5].clone()]
}

fn slowlog_shapes(client: &mut Client) -> Vec<Vec<Resp>> {
    client
        .cmd(&["SLOWLOG", "GET", "-1"])
        .items()
        .unwrap()
        .iter()
        .map(entry_shape)
        // Entries of unnamed clients are the test's own polling.
        .filter(|shape| shape[1] != Resp::bulk(""))
        .collect()
}

fn slowlog_script(server: &ServerProcess) -> Vec<Resp> {
    let mut out = Vec::new();
    let mut c = server.client();
    let mut blocked = server.client();
    let mut watcher = server.client();
    c.cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
    c.cmd(&["CONFIG", "SET", "slowlog-max-len", "100"]);
    c.cmd(&["SLOWLOG", "RESET"]);
    c.cmd(&["CLIENT", "SETNAME", "tester"]);
    let many: Vec<String> = (0..40).map(|i| i.to_string()).collect();
    let mut sadd = vec!["SADD".to_string(), "s".to_string()];
    sadd.extend(many);
    c.cmd(&sadd);
    c.cmd(&["SET", "long", &"A".repeat(200)]);
    c.cmd(&["CONFIG", "SET", "masterauth", "secret"]);
    c.cmd(&["AUTH", "nopass"]);
    c.cmd(&[
        "MIGRATE",
        "127.0.0.1",
        "1",
        "k",
        "0",
        "10",
        "AUTH2",
        "u",
        "p",
    ]);
    c.cmd(&["SPOP", "s", "100"]);
    c.cmd(&["INCRBYFLOAT", "f", "1.5"]);
    c.cmd(&["MULTI"]);
    c.cmd(&["LPUSH", "other", "x"]);
    c.cmd(&["EXEC"]);
    blocked.cmd(&["CLIENT", "SETNAME", "waiter"]);
    blocked.send(&["BLPOP", "l", "0"]).unwrap();
    common::compare::wait_for(
        std::time::Duration::from_secs(5),
        "BLPOP to block",
        || {
            common::compare::info_field(&mut watcher, "clients", "blocked_clients").as_deref()
                == Some("1")
        },
        String::new,
    );
    c.cmd(&["RPUSH", "l", "v"]);
    out.push(blocked.read().unwrap());
    c.cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "-1"]);
    out.extend(slowlog_shapes(&mut c).into_iter().map(Resp::Array));
    out.push(c.cmd(&["SLOWLOG", "GET", "-2"]));
    out.push(c.cmd(&["SLOWLOG", "GET", "1", "2"]));
    out.push(c.cmd(&["SLOWLOG", "NOPE"]));
    out.push(c.cmd(&["CLIENT", "ID", "extra"]));
    out.push(c.cmd(&["SLOWLOG", "RESET"]));
    out.push(c.cmd(&["SLOWLOG", "LEN"]));
    out
}

fn latency_script(server: &ServerProcess) -> Vec<Resp> {
    let mut out = Vec::new();
    let mut c = server.client();
    c.cmd(&["CONFIG", "RESETSTAT"]);
    c.cmd(&["SET", "a", "1"]);
    c.cmd(&["SET", "b", "2"]);
    c.cmd(&["GET", "a"]);
    c.cmd(&["CLIENT", "ID"]);
    // Names and call counts of the histograms (the buckets depend on timing).
    let histograms = c.cmd(&["LATENCY", "HISTOGRAM", "set", "client", "nosuch"]);
    let pairs = histograms.items().unwrap();
    for pair in pairs.chunks(2) {
        out.push(pair[0].clone());
        out.push(pair[1].items().unwrap()[1].clone());
    }
    let info = c.cmd_text(&["INFO", "latencystats"]);
    let mut names: Vec<String> = info
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(name, value)| {
            assert!(
                value.starts_with("p50=") && value.contains(",p99=") && value.contains(",p99.9=")
            );
            name.to_string()
        })
        .collect();
    names.sort();
    out.extend(names.into_iter().map(|n| Resp::bulk(&n)));
    out.push(c.cmd(&["LATENCY", "LATEST"]));
    out.push(c.cmd(&["LATENCY", "HISTORY", "command"]));
    out.push(c.cmd(&["LATENCY", "RESET", "nosuch"]));
    out.push(c.cmd(&["LATENCY", "GRAPH", "nosuch"]));
    out.push(c.cmd(&["LATENCY", "HELP", "extra"]));
    out
}

#[test]
fn slow_log_and_latency_match_redis() {
    let sluice = ServerProcess::sluice(&[]);
    let ours = (slowlog_script(&sluice), latency_script(&sluice));
    if !redis_available("slow_log_and_latency_match_redis") {
        return;
    }
    let redis = ServerProcess::redis(&[]);
    let theirs = (slowlog_script(&redis), latency_script(&redis));
    assert_eq!(ours.0, theirs.0, "slow log");
    assert_eq!(ours.1, theirs.1, "latency");
}

#[test]
fn subcommands_are_listed_as_redis_lists_them() {
    if !redis_available("subcommands_are_listed_as_redis_lists_them") {
        return;
    }
    let sluice = ServerProcess::sluice(&[]);
    let redis = ServerProcess::redis(&[]);
    let names = |server: &ServerProcess| -> BTreeSet<String> {
        server
            .client()
            .cmd(&["COMMAND", "LIST"])
            .items()
            .unwrap()
            .iter()
            .map(|n| n.text().unwrap())
            .collect()
    };
    let ours = names(&sluice);
    let theirs = names(&redis);
    // sluice also serves some commands of later Redis releases; its subcommands are 7.0's.
    let extra: Vec<&String> = ours
        .difference(&theirs)
        .filter(|n| n.contains('|'))
        .collect();
    assert!(
        extra.is_empty(),
        "sluice lists subcommands Redis does not: {extra:?}"
    );
    for sub in [
        "client|id",
        "slowlog|get",
        "latency|histogram",
        "config|set",
        "xinfo|stream",
    ] {
        assert!(ours.contains(sub), "COMMAND LIST lacks {sub}");
    }
    // COMMAND INFO carries the same subcommands with the same arities.
    let subs = |server: &ServerProcess| -> Vec<(String, Resp)> {
        let info = server.client().cmd(&["COMMAND", "INFO", "slowlog"]);
        let entry = info.items().unwrap()[0].items().unwrap();
        let mut subs: Vec<(String, Resp)> = entry[9]
            .items()
            .unwrap()
            .iter()
            .map(|s| {
                let s = s.items().unwrap();
                (s[0].text().unwrap(), s[1].clone())
            })
            .collect();
        subs.sort_by(|a, b| a.0.cmp(&b.0));
        subs
    };
    assert_eq!(subs(&sluice), subs(&redis));
}

/// LOLWUT VERSION 6 draws at random: the shape (rows, cells per row, the closing lines)
/// is Redis's.
#[test]
fn the_skyline_has_redis_shape() {
    let shape = |server: &ServerProcess| -> (usize, Vec<usize>, String) {
        let art = server
            .client()
            .cmd(&["LOLWUT", "VERSION", "6", "30", "6"])
            .text()
            .unwrap();
        let lines: Vec<&str> = art.lines().collect();
        let cells = lines[..6]
            .iter()
            .map(|l| l.matches(" \u{1b}[0m").count())
            .collect();
        (lines.len(), cells, lines[6..].join("\n"))
    };
    let ours = shape(&ServerProcess::sluice(&[]));
    assert_eq!(ours.1, vec![30; 6]);
    if !redis_available("the_skyline_has_redis_shape") {
        return;
    }
    assert_eq!(ours, shape(&ServerProcess::redis(&[])));
}

/// COMMAND INFO's key specifications (without Redis's free-text notes) and COMMAND
/// GETKEYSANDFLAGS answer as on redis-server, for every command both serve and for
/// argument lists that exercise each kind of spec.
#[test]
fn key_specifications_match_redis() {
    if !redis_available("key_specifications_match_redis") {
        return;
    }
    let sluice = ServerProcess::sluice(&[]);
    let redis = ServerProcess::redis(&[]);
    let (mut s, mut r) = (sluice.client(), redis.client());
    let theirs: BTreeSet<String> = r
        .cmd(&["COMMAND", "LIST"])
        .items()
        .unwrap()
        .iter()
        .map(|n| n.text().unwrap())
        .collect();
    let without_notes = |info: Resp| -> Resp {
        // Each spec is a flat [name, value, …] list in RESP2; drop the "notes" pair.
        let specs = info.items().unwrap()[0].items().unwrap()[8]
            .items()
            .unwrap();
        Resp::Array(
            specs
                .into_iter()
                .map(|spec| {
                    let fields = spec.items().unwrap();
                    let mut kept = Vec::new();
                    for pair in fields.chunks(2) {
                        if pair[0] != Resp::bulk("notes") {
                            kept.extend(pair.iter().cloned());
                        }
                    }
                    Resp::Array(kept)
                })
                .collect(),
        )
    };
    let ours: Vec<String> = s
        .cmd(&["COMMAND", "LIST"])
        .items()
        .unwrap()
        .iter()
        .map(|n| n.text().unwrap())
        .filter(|n| !n.contains('|') && theirs.contains(n))
        .collect();
    assert!(
        ours.len() > 150,
        "too few commands compared: {}",
        ours.len()
    );
    for name in &ours {
        let mine = without_notes(s.cmd(&["COMMAND", "INFO", name]));
        let real = without_notes(r.cmd(&["COMMAND", "INFO", name]));
        assert_eq!(mine, real, "key specs of {name}");
    }
    for line in [
        "get k",
        "set k v",
        "set k v GET",
        "mset a 1 b 2",
        "lmove a b LEFT RIGHT",
        "zunionstore d 2 a b WEIGHTS 1 2",
        "zunionstore d 5 a b",
        "bitfield k GET u8 0",
        "bitfield k SET u8 0 1",
        "sort k BY w STORE d",
        "sort_ro k",
        "migrate h 1 \"\" 0 10 KEYS a b",
        "xread COUNT 2 STREAMS s1 s2 0 0",
        "xreadgroup GROUP g c STREAMS s 0",
        "georadius k 0 0 1 km STORE d",
        "xinfo STREAM s",
        "object ENCODING k",
        "eval x 0",
        "ping",
        "blmpop 0 2 a b LEFT",
        "sintercard 2 a b LIMIT 1",
    ] {
        let mut argv = vec!["COMMAND", "GETKEYSANDFLAGS"];
        argv.extend(line.split(' ').map(|w| if w == "\"\"" { "" } else { w }));
        let mine = s.cmd(&argv);
        let real = r.cmd(&argv);
        if line.starts_with("eval") {
            // Not served by sluice.
            continue;
        }
        assert_eq!(mine, real, "COMMAND GETKEYSANDFLAGS {line}");
    }
}
