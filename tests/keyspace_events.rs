//! Keyspace notifications against redis-server 7.0.15: the same writes of every family go
//! to both servers, each watched by a pattern subscriber, and the two streams of
//! (channel, message) must be identical, order included. Also RESP3 clients that watch
//! their own writes, and `notify-keyspace-events` as CONFIG GET shows it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

mod common;

use std::time::Duration;

use common::{Client, Resp, ServerProcess, cmd, redis_available};

/// Commands of every family; each line is one command.
const SCRIPT: &str = r#"
SET s v
SET s v2 EX 100
SETEX s2 100 v
SETNX s3 v
SETNX s3 v
GETSET s3 w
GETDEL s3
GETDEL nosuch
GETEX s PERSIST
GETEX s EX 50
MSET m1 a m2 b
MSETNX m1 a m9 b
INCR n
INCRBY n 5
DECR n
INCRBYFLOAT f 1.5
APPEND s4 abc
APPEND s4 def
SETRANGE s5 3 xyz
SETBIT b 7 1
SETBIT b 7 1
BITOP OR b2 b nosuch
BITOP AND b3 nosuch nosuch2
BITFIELD b4 SET u8 0 255
PFADD h1 a b c
PFADD h1 a
PFMERGE h2 h1
DEL s4 nosuch s5
UNLINK m1
EXPIRE m2 100
EXPIRE m2 -1
PEXPIREAT n 99999999999999
PERSIST n
PERSIST n
RENAME n n2
SET n3 x
RENAME n2 n3
RENAMENX n3 n4
COPY n4 n5
MOVE n5 1
LPUSH l a b c
RPUSH l d
LPUSHX l e
RPUSHX nolist e
LPOP l
RPOP l 2
LSET l 0 z
LINSERT l BEFORE z y
LREM l 0 y
LTRIM l 0 0
LTRIM l 0 -1
LMOVE l l2 LEFT RIGHT
RPOPLPUSH l2 l3
LMPOP 1 l3 LEFT COUNT 5
SORT l3 STORE l4
RPUSH l5 3 1 2
SORT l5 STORE l6
SORT nosuch STORE l6
SADD set a b c
SADD set a
SREM set a nosuch
SMOVE set set2 b
SMOVE set set2 c
SPOP set2
SADD set3 x y z
SPOP set3 5
SADD set4 1 2
SINTERSTORE set5 set4 set4
SUNIONSTORE set6 set4 nosuch
SDIFFSTORE set7 set4 set4
HSET h f v g w
HSETNX h f v
HSETNX h x y
HINCRBY h n 3
HINCRBYFLOAT h fl 1.5
HDEL h f g n fl x
ZADD z 1 a 2 b 3 c
ZADD z XX 1 a
ZINCRBY z 2 a
ZREM z nosuch
ZREM z a
ZREMRANGEBYSCORE z 0 2
ZADD z 1 a 2 b 3 c 4 d
ZREMRANGEBYRANK z 0 0
ZREMRANGEBYLEX z - +
ZADD z2 1 a 2 b 3 c
ZPOPMIN z2
ZPOPMAX z2 5
ZADD z3 1 a 2 b
ZRANGESTORE z4 z3 0 -1
ZUNIONSTORE z5 2 z3 z4
ZINTERSTORE z6 2 z3 nosuch
ZDIFFSTORE z7 1 z3
ZMPOP 1 z3 MIN COUNT 10
GEOADD geo 13.361389 38.115556 Palermo 15.087269 37.502669 Catania
GEORADIUS geo 15 37 200 km STORE geo2
GEOSEARCHSTORE geo3 geo FROMLONLAT 15 37 BYRADIUS 200 km
GEOSEARCHSTORE geo3 geo FROMLONLAT 0 0 BYRADIUS 1 m
XADD x 1-0 f v
XADD x MAXLEN 1 2-0 f v
XGROUP CREATE x g $ MKSTREAM
XGROUP CREATE x2 g $ MKSTREAM
XGROUP CREATECONSUMER x g alice
XGROUP CREATECONSUMER x g alice
XADD x 3-0 f v
XREADGROUP GROUP g bob STREAMS x >
XCLAIM x g carol 0 3-0
XAUTOCLAIM x g dave 0 0
XGROUP SETID x g 0
XGROUP DELCONSUMER x g bob
XGROUP DELCONSUMER x g nobody
XDEL x 2-0 9-0
XTRIM x MAXLEN 0
XSETID x 10-0
XGROUP DESTROY x g
DUMP-RESTORE
SET gone v PX 1
SLEEP
GET gone
"#;

/// Runs the script on one server and returns every keyspace message it published.
fn events_of(server: &ServerProcess, flags: &str) -> Vec<(String, String)> {
    let mut client = server.client();
    client.cmd(&["FLUSHALL"]);
    assert!(
        !client
            .cmd(&["CONFIG", "SET", "notify-keyspace-events", flags])
            .is_error()
    );
    let mut watcher = server.client();
    watcher.send(&["PSUBSCRIBE", "__key*__:*"]).expect("send");
    watcher.read().expect("psubscribe reply");
    watcher.send(&["SUBSCRIBE", "end"]).expect("send");
    watcher.read().expect("subscribe reply");
    for line in SCRIPT.lines().filter(|l| !l.trim().is_empty()) {
        match line {
            "SLEEP" => std::thread::sleep(Duration::from_millis(20)),
            "DUMP-RESTORE" => {
                let Resp::Bulk(payload) = client.cmd(&["DUMP", "h1"]) else {
                    panic!("DUMP h1 gave no payload");
                };
                let mut restore = cmd(&["RESTORE", "h3", "0"]);
                restore.push(payload);
                client.cmd(&restore);
            }
            _ => {
                client.cmd(&line.split(' ').collect::<Vec<_>>());
            }
        }
    }
    client.cmd(&["PUBLISH", "end", "."]);
    let mut events = Vec::new();
    loop {
        let Some(items) = watcher.read().expect("message").items() else {
            panic!("a message that is not an array");
        };
        let text: Vec<String> = items.iter().map(|i| i.text().unwrap_or_default()).collect();
        if text.first().is_some_and(|k| k == "message") && text.get(1).is_some_and(|c| c == "end") {
            break;
        }
        // pmessage, pattern, channel, message
        events.push((text[2].clone(), text[3].clone()));
    }
    events
}

fn assert_same_events(flags: &str) {
    let sluice = ServerProcess::sluice(&[]);
    let redis = ServerProcess::redis(&[]);
    let ours = events_of(&sluice, flags);
    let theirs = events_of(&redis, flags);
    assert!(
        theirs.len() > 50,
        "redis-server published {} events",
        theirs.len()
    );
    for (i, (a, b)) in ours.iter().zip(theirs.iter()).enumerate() {
        assert_eq!(
            a,
            b,
            "event {i} differs (sluice, redis); before it:\n{:?}",
            &theirs[i.saturating_sub(5)..i]
        );
    }
    assert_eq!(
        ours.len(),
        theirs.len(),
        "sluice {ours:?}\nredis {theirs:?}"
    );
}

#[test]
fn every_family_raises_redis_events() {
    if !redis_available("every_family_raises_redis_events") {
        return;
    }
    assert_same_events("KEA");
}

#[test]
fn new_and_miss_classes_and_one_channel_family() {
    if !redis_available("new_and_miss_classes_and_one_channel_family") {
        return;
    }
    assert_same_events("Enm$x");
}

#[test]
fn config_reads_back_as_redis_shows_it() {
    if !redis_available("config_reads_back_as_redis_shows_it") {
        return;
    }
    let sluice = ServerProcess::sluice(&[]);
    let redis = ServerProcess::redis(&[]);
    for flags in ["KEA", "AKEnm", "Ex", "gK$lshzxetd", "", "Kn"] {
        let mut shown = Vec::new();
        for server in [&sluice, &redis] {
            let mut c = server.client();
            c.cmd(&["CONFIG", "SET", "notify-keyspace-events", flags]);
            shown.push(c.cmd(&["CONFIG", "GET", "notify-keyspace-events"]));
        }
        assert_eq!(shown[0], shown[1], "{flags}");
    }
    let mut ours = sluice.client();
    let mut theirs = redis.client();
    assert_eq!(
        ours.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEQ"]),
        theirs.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEQ"])
    );
}

/// A RESP3 client watching its own writes gets each event before the reply of the command
/// that raised it.
#[test]
fn own_events_come_before_the_reply() {
    let server = ServerProcess::sluice(&["--notify-keyspace-events", "KA"]);
    let mut c: Client = server.client();
    c.cmd(&["HELLO", "3"]);
    c.send(&["SUBSCRIBE", "__keyspace@0__:k"]).expect("send");
    c.read().expect("subscribe");
    c.send(&["SET", "k", "v"]).expect("send");
    let first = c.read().expect("event");
    assert_eq!(
        first
            .items()
            .map(|i| i.iter().map(|x| x.text()).collect::<Vec<_>>()),
        Some(vec![
            Some("message".to_string()),
            Some("__keyspace@0__:k".to_string()),
            Some("set".to_string())
        ])
    );
    assert_eq!(c.read().expect("reply").text().as_deref(), Some("OK"));
}
