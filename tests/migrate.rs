//! MIGRATE moves keys between sluice and redis-server 7.0.15 in both directions: every type
//! and encoding arrives intact with its expiry, the source loses exactly the keys the target
//! restored and its replica hears that as DEL; replies (OK, NOKEY, the target's errors, I/O
//! errors) are Redis's own, checked against a redis-server source doing the same; and a
//! write to a key being moved waits for the target's answer instead of being lost.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

mod common;

use std::io::Read;
use std::net::TcpListener;
use std::time::Duration;

use common::compare::{dataset, wait_in_sync};
use common::dataset::populate_mixed;
use common::{Client, Resp, ServerProcess, redis_available};

const DATABASES: usize = 16;
const SYNC_LIMIT: Duration = Duration::from_secs(30);

/// Moves every key of every database from `src` to the server on `port`, one MIGRATE …
/// KEYS per database, and returns how many keys moved.
fn migrate_all(src: &mut Client, port: u16) -> usize {
    let port = port.to_string();
    let mut moved = 0;
    for db in 0..DATABASES {
        let db = db.to_string();
        src.cmd(&["SELECT", &db]);
        let keys: Vec<Vec<u8>> = src
            .cmd(&["KEYS", "*"])
            .items()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|k| match k {
                Resp::Bulk(k) => Some(k),
                _ => None,
            })
            .collect();
        if keys.is_empty() {
            continue;
        }
        let mut argv: Vec<Vec<u8>> = ["MIGRATE", "127.0.0.1", &port, "", &db, "5000", "KEYS"]
            .iter()
            .map(|w| w.as_bytes().to_vec())
            .collect();
        argv.extend(keys.iter().cloned());
        assert_eq!(src.cmd(&argv), Resp::simple("OK"), "MIGRATE of db {db}");
        moved += keys.len();
    }
    src.cmd(&["SELECT", "0"]);
    moved
}

/// Expiries travel as a TTL relative to the moment of the MIGRATE: they may move by the
/// milliseconds the transfer took.
const EXPIRY_JITTER_MS: i64 = 2_000;

/// Asserts two described datasets (`compare::dataset`) hold the same keys and values, with
/// expiries equal up to [`EXPIRY_JITTER_MS`]; reports only key names.
fn assert_same_keys(got: &[Vec<u8>], want: &[Vec<u8>]) {
    fn split(line: &[u8]) -> (&[u8], Option<i64>) {
        const MARK: &[u8] = b" expire=:";
        match line.windows(MARK.len()).rposition(|w| w == MARK) {
            Some(at) => {
                let number = std::str::from_utf8(&line[at + MARK.len()..])
                    .ok()
                    .and_then(|t| t.trim().parse().ok());
                (&line[..at], number)
            }
            None => (line, None),
        }
    }
    let name = |line: &[u8]| common::escape(&line[..line.len().min(60)]);
    assert_eq!(got.len(), want.len(), "key counts differ");
    for (g, w) in got.iter().zip(want) {
        let ((g_body, g_exp), (w_body, w_exp)) = (split(g), split(w));
        assert!(g_body == w_body, "values differ at {}", name(w));
        let close = match (g_exp, w_exp) {
            (Some(a), Some(b)) if a > 0 && b > 0 => (a - b).abs() <= EXPIRY_JITTER_MS,
            (a, b) => a == b,
        };
        assert!(
            close,
            "expiries differ at {}: {g_exp:?} vs {w_exp:?}",
            name(w)
        );
    }
}

#[test]
fn every_type_moves_to_redis_and_back_and_the_replica_hears_del() {
    if !redis_available("every_type_moves_to_redis_and_back_and_the_replica_hears_del") {
        return;
    }
    let source = ServerProcess::sluice(&[]);
    let replica = ServerProcess::redis(&["--replicaof", "127.0.0.1", &source.port.to_string()]);
    let target = ServerProcess::redis(&[]);
    let back = ServerProcess::sluice(&[]);
    let mut src = source.client();
    populate_mixed(&mut src);
    let before = dataset(&mut src, DATABASES);
    assert!(before.len() > 50, "the dataset is too small to mean much");

    let moved = migrate_all(&mut src, target.port);
    assert_eq!(moved, before.len());
    assert_same_keys(&dataset(&mut target.client(), DATABASES), &before);
    assert!(
        dataset(&mut src, DATABASES).is_empty(),
        "the source kept keys"
    );
    let mut rep = replica.client();
    wait_in_sync(&mut src, &mut rep, SYNC_LIMIT);
    assert!(
        dataset(&mut rep, DATABASES).is_empty(),
        "the replica of the source kept keys: the DELs did not reach it"
    );

    // And back: redis-server's MIGRATE restores into sluice.
    let mut tgt = target.client();
    assert_eq!(migrate_all(&mut tgt, back.port), before.len());
    assert_same_keys(&dataset(&mut back.client(), DATABASES), &before);
}

/// The replies a source gives to a script of MIGRATEs against a redis-server target.
fn option_replies(source: &ServerProcess) -> Vec<Resp> {
    let target = ServerProcess::redis(&["--requirepass", "pw"]);
    let mut tgt = target.client();
    tgt.cmd(&["AUTH", "pw"]);
    let port = target.port.to_string();
    let closed_port = common::free_port().to_string();
    let mut src = source.client();
    let mut replies = Vec::new();
    // One command per line; {target} and {closed} are ports, "" an empty argument.
    let script = r#"
        SET a 1
        SET b 2
        RPUSH c x y
        SET ttl v PX 100000
        # No password, then a wrong one: the target's NOAUTH / WRONGPASS come back.
        MIGRATE 127.0.0.1 {target} a 0 1000
        MIGRATE 127.0.0.1 {target} a 0 1000 AUTH bad
        MIGRATE 127.0.0.1 {target} a 0 1000 AUTH2 default pw
        EXISTS a
        # COPY keeps the source's key; then the target has it: BUSYKEY, unless REPLACE.
        MIGRATE 127.0.0.1 {target} b 3 1000 COPY AUTH pw
        EXISTS b
        MIGRATE 127.0.0.1 {target} b 3 1000 COPY AUTH pw
        MIGRATE 127.0.0.1 {target} b 3 1000 REPLACE AUTH pw
        EXISTS b
        MIGRATE 127.0.0.1 {target} "" 0 1000 AUTH pw KEYS c ttl missing
        MIGRATE 127.0.0.1 {target} missing 0 1000 AUTH pw
        MIGRATE 127.0.0.1 {target} "" 0 1000 KEYS nope
        # Argument errors.
        MIGRATE 127.0.0.1 {target} x 0 1000 KEYS a
        MIGRATE 127.0.0.1 {target} x 0 1000 AUTH
        MIGRATE 127.0.0.1 {target} x 0 1000 FOO
        MIGRATE 127.0.0.1 {target} x zero 1000
        MIGRATE 127.0.0.1 {target} x 0 soon
        # Nobody listening.
        SET d 4
        MIGRATE 127.0.0.1 {closed} d 0 500
        EXISTS d
    "#;
    for line in script.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let words: Vec<&str> = line
            .split(' ')
            .map(|w| match w {
                "{target}" => port.as_str(),
                "{closed}" => closed_port.as_str(),
                "\"\"" => "",
                other => other,
            })
            .collect();
        replies.push(src.cmd(&words));
    }
    assert_eq!(replies.len(), 24, "every line of the script ran");
    // What the target holds, with the TTL kept.
    for (db, key) in [("0", "a"), ("3", "b"), ("0", "c"), ("0", "ttl")] {
        tgt.cmd(&["SELECT", db]);
        replies.push(tgt.cmd(&["DUMP", key]));
        let ttl = tgt.cmd(&["PTTL", key]).int().unwrap();
        replies.push(Resp::Integer(i64::from(ttl > 90_000 && ttl <= 100_000)));
    }
    replies
}

#[test]
fn replies_and_effects_match_a_redis_source() {
    if !redis_available("replies_and_effects_match_a_redis_source") {
        return;
    }
    let sluice = option_replies(&ServerProcess::sluice(&[]));
    let redis = option_replies(&ServerProcess::redis(&[]));
    assert_eq!(sluice, redis);
}

fn clients_field(client: &mut Client, name: &str) -> u64 {
    common::compare::info_field(client, "clients", name)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in INFO clients"))
}

#[test]
fn a_write_to_a_key_being_moved_waits_for_the_target() {
    // A target that accepts and never answers: the MIGRATE lasts its whole timeout.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port().to_string();
    let (accepted_tx, accepted) = std::sync::mpsc::channel();
    let holder = std::thread::spawn(move || {
        let (mut socket, _) = silent.accept().unwrap();
        accepted_tx.send(()).unwrap();
        let mut sink = Vec::new();
        let _ = socket.set_read_timeout(Some(Duration::from_secs(10)));
        let _ = socket.read_to_end(&mut sink);
    });
    let source = ServerProcess::sluice(&[]);
    let mut mover = source.client();
    mover.cmd(&["SET", "k", "old"]);
    // The timeout is the window in which the test's SET must arrive: wide enough that a
    // loaded machine cannot close it first.
    mover
        .send(&["MIGRATE", "127.0.0.1", &silent_port, "k", "0", "4000"])
        .unwrap();
    // Connected: the key is held from before the connection until the answer.
    accepted.recv_timeout(Duration::from_secs(5)).unwrap();
    let mut writer = source.client();
    let mut reader = source.client();
    // Reads are not held, and see the key still here.
    assert_eq!(reader.cmd(&["GET", "k"]), Resp::bulk("old"));
    writer.send(&["SET", "k", "new"]).unwrap();
    common::compare::wait_for(
        Duration::from_secs(5),
        "the SET to wait",
        || clients_field(&mut reader, "blocked_clients") == 1,
        || "INFO clients never counted the held SET".to_string(),
    );
    assert_eq!(reader.cmd(&["GET", "k"]), Resp::bulk("old"));
    // The MIGRATE times out: the key stays, and the SET runs after it.
    let reply = mover.read().unwrap();
    assert_eq!(
        reply,
        Resp::Error("IOERR error or timeout reading to target instance".into())
    );
    assert_eq!(writer.read().unwrap(), Resp::simple("OK"));
    assert_eq!(reader.cmd(&["GET", "k"]), Resp::bulk("new"));
    assert_eq!(clients_field(&mut reader, "blocked_clients"), 0);
    drop(source);
    holder.join().unwrap();
}
