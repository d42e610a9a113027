//! CLIENT TRACKING against redis-server 7.0.15: the same scenario runs on both servers and
//! every byte the tracking clients receive (replies and invalidation pushes, in order) must
//! be the same. Default mode, OPTIN/OPTOUT with CLIENT CACHING, NOLOOP, BCAST prefixes,
//! redirection to a RESP2 subscriber, flushes, and TRACKINGINFO/GETREDIR.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

mod common;

use std::time::Duration;

use common::{Client, Resp, ServerProcess, redis_available};

/// How long a client may take to answer its final PING.
const LIMIT: Duration = Duration::from_secs(10);

/// Everything a client received, up to the reply to a final `PING <marker>` (a bulk in
/// RESP3 and plain RESP2, `[pong, marker]` for a RESP2 subscriber: the text ends the
/// same way), so nothing depends on how fast the server answers.
fn transcript(client: &mut Client, limit: Duration) -> Vec<u8> {
    const MARKER: &str = "end-of-transcript";
    client.send(&["PING", MARKER]).expect("send");
    let deadline = std::time::Instant::now() + limit;
    let mut seen = Vec::new();
    while !seen.ends_with(format!("{MARKER}\r\n").as_bytes()) {
        assert!(
            std::time::Instant::now() < deadline,
            "no reply to the final PING: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend(client.drain(Duration::from_millis(20)));
    }
    seen
}

/// Runs one scenario and returns, per observing client, all it received.
fn scenario(server: &ServerProcess) -> Vec<Vec<u8>> {
    // What each observer received, in this order: tracker, noloop, sink, redirected,
    // bcast, optin. A transcript taken mid-scenario is also the point after which that
    // client's commands have all run.
    let mut seen: [Vec<u8>; 6] = Default::default();
    let mut writer = server.client();
    writer.cmd(&["FLUSHALL"]);
    // A RESP3 tracker in default mode, with NOLOOP on a second one.
    let mut tracker = server.client();
    tracker.cmd(&["HELLO", "3"]);
    let mut noloop = server.client();
    noloop.cmd(&["HELLO", "3"]);
    // A RESP2 subscriber receiving a third client's invalidations.
    let mut sink = server.client();
    let Resp::Integer(sink_id) = sink.cmd(&["CLIENT", "ID"]) else {
        panic!("CLIENT ID");
    };
    sink.cmd(&["SUBSCRIBE", "__redis__:invalidate"]);
    let mut redirected = server.client();
    let mut bcast = server.client();
    bcast.cmd(&["HELLO", "3"]);
    let mut optin = server.client();
    optin.cmd(&["HELLO", "3"]);

    for (client, args) in [
        (&mut tracker, vec!["CLIENT", "TRACKING", "on"]),
        (&mut noloop, vec!["CLIENT", "TRACKING", "on", "NOLOOP"]),
        (
            &mut redirected,
            vec!["CLIENT", "TRACKING", "on", "REDIRECT", &sink_id.to_string()],
        ),
        (
            &mut bcast,
            vec![
                "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "user:", "PREFIX", "cfg:",
            ],
        ),
        (&mut optin, vec!["CLIENT", "TRACKING", "on", "OPTIN"]),
    ] {
        client.send(&args).expect("send");
    }
    // Each client's tracking is on before the writes start.
    seen[0].extend(transcript(&mut tracker, LIMIT));
    seen[1].extend(transcript(&mut noloop, LIMIT));
    seen[3].extend(transcript(&mut redirected, LIMIT));
    seen[4].extend(transcript(&mut bcast, LIMIT));
    seen[5].extend(transcript(&mut optin, LIMIT));
    for k in ["a", "b", "user:1"] {
        writer.cmd(&["SET", k, "0"]);
    }
    tracker.send(&["MGET", "a", "b"]).expect("send");
    noloop.send(&["GET", "a"]).expect("send");
    redirected.send(&["GET", "b"]).expect("send");
    optin.send(&["GET", "a"]).expect("send");
    optin.send(&["CLIENT", "CACHING", "yes"]).expect("send");
    optin.send(&["GET", "b"]).expect("send");
    seen[0].extend(transcript(&mut tracker, LIMIT));
    seen[1].extend(transcript(&mut noloop, LIMIT));
    seen[3].extend(transcript(&mut redirected, LIMIT));
    seen[5].extend(transcript(&mut optin, LIMIT));
    writer.cmd(&["SET", "a", "1"]);
    writer.cmd(&["INCR", "b"]);
    writer.cmd(&["MSET", "user:1", "x", "user:2", "y", "other", "z"]);
    // NOLOOP: its own change is not reported back to it.
    noloop.send(&["SET", "a", "2"]).expect("send");
    noloop.send(&["GET", "a"]).expect("send");
    seen[1].extend(transcript(&mut noloop, LIMIT));
    writer.cmd(&["DEL", "a"]);
    writer.cmd(&["FLUSHDB"]);
    for client in [&mut tracker, &mut bcast, &mut optin] {
        client.send(&["CLIENT", "TRACKINGINFO"]).expect("send");
        client.send(&["CLIENT", "GETREDIR"]).expect("send");
    }
    // Option errors, in Redis's order.
    optin
        .send(&["CLIENT", "TRACKING", "on", "OPTOUT"])
        .expect("send");
    optin
        .send(&["CLIENT", "TRACKING", "on", "PREFIX", "x"])
        .expect("send");
    optin.send(&["CLIENT", "CACHING", "no"]).expect("send");
    bcast
        .send(&["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "us"])
        .expect("send");
    // The redirection is to the sink, whose id differs between the servers.
    seen[3].extend(transcript(&mut redirected, LIMIT));
    let Resp::Integer(redirect) = redirected.cmd(&["CLIENT", "GETREDIR"]) else {
        panic!("GETREDIR");
    };
    assert_eq!(redirect, sink_id);
    seen[0].extend(transcript(&mut tracker, LIMIT));
    seen[1].extend(transcript(&mut noloop, LIMIT));
    seen[2].extend(transcript(&mut sink, LIMIT));
    seen[4].extend(transcript(&mut bcast, LIMIT));
    seen[5].extend(transcript(&mut optin, LIMIT));
    seen.to_vec()
}

#[test]
fn invalidations_match_redis() {
    if !redis_available("invalidations_match_redis") {
        return;
    }
    let sluice = ServerProcess::sluice(&[]);
    let redis = ServerProcess::redis(&[]);
    let ours = scenario(&sluice);
    let theirs = scenario(&redis);
    // The scenario does produce invalidations of each kind.
    let text = |i: usize| String::from_utf8_lossy(&theirs[i]).into_owned();
    assert!(text(0).contains("invalidate"));
    assert!(text(2).contains("__redis__:invalidate"));
    assert!(text(4).contains("user:2") && !text(4).contains("other"));
    let names = ["tracker", "noloop", "sink", "redirected", "bcast", "optin"];
    for ((name, a), b) in names.iter().zip(&ours).zip(&theirs) {
        assert_eq!(
            String::from_utf8_lossy(a),
            String::from_utf8_lossy(b),
            "{name} saw something else"
        );
        assert!(!b.is_empty(), "{name} saw nothing on redis-server");
    }
}

/// Past `tracking-table-max-keys`, keys are forgotten and their readers told: with two
/// keys tracked and a limit of one, one invalidation arrives and one key stays tracked,
/// as on redis-server (which key is unspecified).
fn table_limit(server: &ServerProcess) -> (usize, String) {
    let mut listener = server.client();
    let listener_id = listener.cmd(&["CLIENT", "ID"]).int().unwrap().to_string();
    listener.cmd(&["SUBSCRIBE", "__redis__:invalidate"]);
    let mut reader = server.client();
    reader.cmd(&["CLIENT", "TRACKING", "on", "REDIRECT", &listener_id]);
    reader.cmd(&["MSET", "key1", "1", "key2", "2"]);
    reader.cmd(&["MGET", "key1", "key2"]);
    reader.cmd(&["CONFIG", "SET", "tracking-table-max-keys", "1"]);
    // The limit is applied before the next command (and by the cron).
    reader.cmd(&["PING"]);
    let message = listener.read().unwrap();
    let keys = message.items().unwrap()[2].items().unwrap().len();
    let total = common::compare::info_field(&mut reader, "stats", "tracking_total_keys").unwrap();
    reader.cmd(&["CONFIG", "SET", "tracking-table-max-keys", "1000000"]);
    (keys, total)
}

#[test]
fn the_tracking_table_keeps_its_limit_as_in_redis() {
    let sluice = table_limit(&ServerProcess::sluice(&[]));
    assert_eq!(sluice, (1, "1".to_string()));
    if !redis_available("the_tracking_table_keeps_its_limit_as_in_redis") {
        return;
    }
    assert_eq!(table_limit(&ServerProcess::redis(&[])), sluice);
}
