//! sluice as the replica of a stock redis-server: full sync in both framings, the command
//! stream, a partial resync after the master drops the link, promotion with REPLICAOF NO ONE;
//! and a fake master that sends broken payloads, which must leave the old data in place.
//! Data is compared key by key (type, value, absolute expiry) on every db. Every wait is
//! bounded; everything runs on loopback.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::compare::wait_for;
use common::dataset::populate_mixed;
use common::{Client, Resp, ServerProcess, cmd, encode_command, pipeline, redis_available};

const SYNC_LIMIT: Duration = Duration::from_secs(30);
const DATABASES: usize = 16;

fn info(client: &mut Client, section: &str) -> String {
    client.cmd_text(&["INFO", section])
}

fn field(info: &str, name: &str) -> Option<String> {
    common::info_field(info, name)
}

/// More writes of every kind, including the ones Redis rewrites before propagating.
fn more_writes(client: &mut Client, round: usize) {
    let r = round.to_string();
    let commands = vec![
        cmd(&["MULTI"]),
        cmd(&["SET", "tx:a", &r]),
        cmd(&["INCR", "tx:a"]),
        cmd(&["LPUSH", "list:small", "pushed-in-tx"]),
        cmd(&["EXEC"]),
        cmd(&["EXPIRE", "s:1", "500"]),
        cmd(&["PEXPIRE", "s:2", "100000"]),
        cmd(&["DEL", "s:3", "s:4", "no-such-key"]),
        cmd(&["INCRBYFLOAT", "float", "1.25"]),
        cmd(&["INCRBYFLOAT", "float", "0.1"]),
        cmd(&["SET", "with-ex", "v", "EX", "100"]),
        cmd(&["SPOP", "set:big", "3"]),
        cmd(&["ZINCRBY", "zset:small", "2", "a"]),
        cmd(&["LPOP", "list:big"]),
        cmd(&["RPOPLPUSH", "list:big", "list:moved"]),
        cmd(&["HDEL", "hash:big", "field-1", "field-2"]),
        cmd(&["SREM", "set:small", "a"]),
        cmd(&["APPEND", "s:10", "-appended"]),
        cmd(&["SETRANGE", "s:11", "2", "xyz"]),
        cmd(&["SELECT", "7"]),
        cmd(&["SET", &format!("in7:{r}"), "v"]),
        cmd(&["HSET", "h7", "f", &r]),
        cmd(&["SELECT", "9"]),
        cmd(&["DEL", "db9:0"]),
        cmd(&["FLUSHDB"]),
        cmd(&["SET", "db9:after-flush", &r]),
        cmd(&["SELECT", "0"]),
        cmd(&["GETEX", "s:12", "PX", "123456"]),
        cmd(&["PERSIST", "ttl:0"]),
        // Streams: the master's chosen ID and its exact trim reach the replica.
        cmd(&["XADD", "stream:big", "MAXLEN", "~", "150", "*", "round", &r]),
        cmd(&["XADD", "stream:small", "*", "round", &r]),
        cmd(&["XDEL", "stream:big", "1030-0"]),
        cmd(&["XTRIM", "stream:big", "MINID", "~", "1040"]),
        cmd(&["XADD", "stream:new", "NOMKSTREAM", "*", "a", "1"]),
        // Consumer groups: deliveries reach the replica as XCLAIM, NOACK reads as SETID.
        cmd(&[
            "XGROUP",
            "CREATE",
            "stream:small",
            &format!("g{r}"),
            "0",
            "MKSTREAM",
        ]),
        cmd(&[
            "XREADGROUP",
            "GROUP",
            &format!("g{r}"),
            "alice",
            "COUNT",
            "1",
            "STREAMS",
            "stream:small",
            ">",
        ]),
        cmd(&[
            "XREADGROUP",
            "GROUP",
            &format!("g{r}"),
            "bob",
            "NOACK",
            "STREAMS",
            "stream:small",
            ">",
        ]),
        cmd(&["XGROUP", "CREATE", "stream:big", &format!("g{r}"), "$"]),
        cmd(&["XADD", "stream:big", "*", "for", "group"]),
        cmd(&[
            "XREADGROUP",
            "GROUP",
            &format!("g{r}"),
            "carol",
            "STREAMS",
            "stream:big",
            ">",
        ]),
        cmd(&["XCLAIM", "stream:big", &format!("g{r}"), "dave", "0", "0-1"]),
        cmd(&[
            "XAUTOCLAIM",
            "stream:big",
            &format!("g{r}"),
            "erin",
            "0",
            "0",
        ]),
        cmd(&[
            "XGROUP",
            "CREATECONSUMER",
            "stream:big",
            &format!("g{r}"),
            "frank",
        ]),
        cmd(&[
            "XGROUP",
            "DELCONSUMER",
            "stream:big",
            &format!("g{r}"),
            "carol",
        ]),
        cmd(&[
            "RENAME",
            &format!("s:{}", 20 + round),
            &format!("renamed:{r}"),
        ]),
    ];
    pipeline(client, &commands);
    pipeline(client, &common::writes::family_writes(round));
}

/// One line per key: db, key, type, value, absolute expiry.
fn dump(client: &mut Client) -> BTreeMap<(usize, Vec<u8>), String> {
    let mut out = BTreeMap::new();
    for db in 0..DATABASES {
        assert_eq!(client.cmd_text(&["SELECT", &db.to_string()]), "OK");
        let keys = client.cmd(&["KEYS", "*"]).items().unwrap_or_default();
        for key in keys {
            let Resp::Bulk(key) = key else {
                panic!("KEYS returned {key:?}");
            };
            let kind = client.cmd_text(&[&b"TYPE"[..], &key]);
            let value = match kind.as_str() {
                "string" => client.cmd(&[&b"GET"[..], &key]),
                "list" => client.cmd(&[&b"LRANGE"[..], &key, b"0", b"-1"]),
                "hash" => sorted(client.cmd(&[&b"HGETALL"[..], &key]), 2),
                "set" => sorted(client.cmd(&[&b"SMEMBERS"[..], &key]), 1),
                "zset" => client.cmd(&[&b"ZRANGE"[..], &key, b"0", b"-1", b"WITHSCORES"]),
                "stream" => Resp::Bulk(common::compare::describe_stream(client, &key)),
                other => panic!("unexpected type {other}"),
            };
            let expiry = client.cmd(&[&b"PEXPIRETIME"[..], &key]);
            out.insert(
                (db, key.clone()),
                format!(
                    "{kind} {} expiry={expiry:?}",
                    common::escape(&value.encode())
                ),
            );
        }
    }
    assert_eq!(client.cmd_text(&["SELECT", "0"]), "OK");
    out
}

/// An array reply's elements in groups of `group`, sorted (sets and hashes have no order).
fn sorted(reply: Resp, group: usize) -> Resp {
    let items = reply.items().unwrap_or_default();
    let mut groups: Vec<Vec<Resp>> = items.chunks(group).map(<[Resp]>::to_vec).collect();
    groups.sort_by_key(|g| g.iter().map(Resp::encode).collect::<Vec<_>>());
    Resp::Array(groups.into_iter().flatten().collect())
}

fn assert_same_data(master: &mut Client, replica: &mut Client, when: &str) {
    let expected = dump(master);
    let actual = dump(replica);
    if expected == actual {
        return;
    }
    let mut report = String::new();
    for (key, value) in &expected {
        match actual.get(key) {
            Some(v) if v == value => {}
            Some(v) => {
                let (m, r) = around_first_difference(value, v);
                report.push_str(&format!(
                    "db {} key {:?}: master …{m}… / replica …{r}…\n",
                    key.0,
                    common::escape(&key.1),
                ))
            }
            None => report.push_str(&format!(
                "db {} key {:?}: missing on the replica\n",
                key.0,
                common::escape(&key.1)
            )),
        }
    }
    for key in actual.keys().filter(|k| !expected.contains_key(*k)) {
        report.push_str(&format!(
            "db {} key {:?}: only on the replica\n",
            key.0,
            common::escape(&key.1)
        ));
    }
    panic!(
        "{when}: master and replica differ ({} vs {} keys):\n{report}",
        expected.len(),
        actual.len()
    );
}

/// Both texts from a little before their first difference, shortened.
fn around_first_difference(a: &str, b: &str) -> (String, String) {
    let same = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
    let from = same.saturating_sub(60);
    let cut = |t: &str| t.chars().skip(from).take(200).collect();
    (cut(a), cut(b))
}

/// The replica's processed offset: `slave_repl_offset` where INFO has it.
fn replica_offset(replica: &mut Client) -> Option<u64> {
    let text = info(replica, "replication");
    field(&text, "slave_repl_offset")
        .or_else(|| field(&text, "master_repl_offset"))
        .and_then(|v| v.parse().ok())
}

fn master_offset(master: &mut Client) -> u64 {
    let text = info(master, "replication");
    field(&text, "master_repl_offset")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no master_repl_offset in {text}"))
}

/// Waits until the replica's link is up and it processed everything the master wrote.
fn wait_in_sync(master: &mut Client, replica_server: &ServerProcess, what: &str) {
    let mut replica = replica_server.client();
    let mut last = String::new();
    wait_for(
        SYNC_LIMIT,
        what,
        || {
            let text = info(&mut replica, "replication");
            let up = field(&text, "master_link_status").as_deref() == Some("up");
            let target = master_offset(master);
            let offset = replica_offset(&mut replica);
            last = format!("master offset {target}, replica: {text}");
            up && offset == Some(target)
        },
        || format!("replica log:\n{}", replica_server.log_text()),
    );
    let _ = last;
}

fn sync_partial_ok(master: &mut Client) -> u64 {
    field(&info(master, "stats"), "sync_partial_ok")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn follow_redis_master(diskless: bool) {
    let diskless_flag = if diskless { "yes" } else { "no" };
    let redis = ServerProcess::redis(&[
        "--repl-diskless-sync",
        diskless_flag,
        "--repl-diskless-sync-delay",
        "0",
    ]);
    let mut master = redis.client();
    populate_mixed(&mut master);
    let port = redis.port.to_string();
    let sluice = ServerProcess::sluice(&["--replicaof", "127.0.0.1", &port]);
    let mut replica = sluice.client();

    // (a) full sync
    wait_in_sync(&mut master, &sluice, "the initial full sync");
    let log = sluice.log_text();
    let framing = if diskless {
        "streamed RDB"
    } else {
        "bytes from master"
    };
    assert!(
        log.contains(framing),
        "expected the {diskless_flag} framing in:\n{log}"
    );
    assert_same_data(&mut master, &mut replica, "after the full sync");

    // (b) the command stream
    more_writes(&mut master, 1);
    wait_in_sync(&mut master, &sluice, "the stream after round 1");
    assert_same_data(&mut master, &mut replica, "after streaming round 1");

    // (c) the master drops the link: the replica continues with PSYNC
    let partial_before = sync_partial_ok(&mut master);
    let killed = master.cmd(&["CLIENT", "KILL", "TYPE", "replica"]);
    assert_eq!(
        killed.int(),
        Some(1),
        "CLIENT KILL TYPE replica: {killed:?}"
    );
    more_writes(&mut master, 2);
    wait_for(
        SYNC_LIMIT,
        "a partial resync after CLIENT KILL TYPE replica",
        || sync_partial_ok(&mut master) > partial_before,
        || format!("replica log:\n{}", sluice.log_text()),
    );
    wait_in_sync(&mut master, &sluice, "the stream after the partial resync");
    assert_same_data(&mut master, &mut replica, "after the partial resync");
    assert_eq!(
        field(&info(&mut master, "stats"), "sync_full").as_deref(),
        Some("1")
    );

    // (e) promotion keeps the data and makes sluice writable
    assert_eq!(replica.cmd_text(&["REPLICAOF", "NO", "ONE"]), "OK");
    assert_eq!(
        field(&info(&mut replica, "replication"), "role").as_deref(),
        Some("master")
    );
    assert_same_data(&mut master, &mut replica, "after REPLICAOF NO ONE");
    assert_eq!(
        replica.cmd_text(&["SET", "written-after-promotion", "1"]),
        "OK"
    );
    assert_eq!(replica.cmd_text(&["GET", "written-after-promotion"]), "1");
    wait_for(
        SYNC_LIMIT,
        "the master to see its replica go",
        || field(&info(&mut master, "replication"), "connected_slaves").as_deref() == Some("0"),
        || format!("redis log:\n{}", redis.log_text()),
    );
}

#[test]
fn follows_a_redis_master_diskless() {
    if !redis_available("follows_a_redis_master_diskless") {
        return;
    }
    follow_redis_master(true);
}

#[test]
fn follows_a_redis_master_with_disk_sync() {
    if !redis_available("follows_a_redis_master_with_disk_sync") {
        return;
    }
    follow_redis_master(false);
}

// ---------------------------------------------------------------------------------------
// A fake master with broken payloads
// ---------------------------------------------------------------------------------------

const FAKE_REPLID: &str = "0123456789abcdef0123456789abcdef01234567";
const FAKE_OFFSET: u64 = 1000;
const MARK: &[u8; 40] = b"fedcba9876543210fedcba9876543210fedcba98";

fn rdb() -> Vec<u8> {
    use sluice_rdb::{Encoder, EncoderOptions};
    let mut encoder = Encoder::new(EncoderOptions::default());
    encoder.write_aux(b"repl-stream-db", b"0");
    encoder.select_db(0);
    encoder.write_string(b"from-rdb", b"yes", None);
    encoder
        .write_list(b"rdb-list", [&b"a"[..], b"b"], None)
        .expect("encoding a list");
    // Last and largest, so that a flipped middle byte or a cut lands inside its bytes.
    encoder.write_string(b"filler", &[b'z'; 2000], None);
    encoder
        .finish()
        .iter()
        .flat_map(|c| c.iter().copied())
        .collect()
}

/// Reads one RESP multibulk request from the replica.
fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Vec<Vec<u8>>> {
    loop {
        if let Some((request, used)) = parse_request(buf) {
            buf.drain(..used);
            return Some(request);
        }
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn parse_request(buf: &[u8]) -> Option<(Vec<Vec<u8>>, usize)> {
    // The replica sends `\n` keepalives while it loads.
    let skip = buf.iter().take_while(|&&b| b == b'\n').count();
    let (value, used) = common::parse_reply(&buf[skip..]).ok()??;
    let items = value.items()?;
    let argv = items
        .iter()
        .map(|i| i.text().unwrap_or_default().into_bytes())
        .collect();
    Some((argv, skip + used))
}

/// Answers the handshake up to PSYNC; returns false if the replica went away.
/// Answers the replica's handshake; returns its PSYNC arguments (None if it failed).
fn handshake(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<String> {
    loop {
        let request = read_request(stream, buf)?;
        let name = String::from_utf8_lossy(&request[0]).to_ascii_uppercase();
        let reply: &[u8] = match name.as_str() {
            "PING" => b"+PONG\r\n",
            "PSYNC" => {
                let args: Vec<String> = request[1..]
                    .iter()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect();
                return Some(args.join(" "));
            }
            _ => b"+OK\r\n",
        };
        if stream.write_all(reply).is_err() {
            return None;
        }
    }
}

/// Waits until the replica closes the connection (it refused what it got).
fn wait_closed(stream: &mut TcpStream) -> bool {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut sink = [0u8; 4096];
    loop {
        match stream.read(&mut sink) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

#[derive(Debug)]
enum Event {
    /// A broken attempt ended as expected (its name).
    Refused(&'static str),
    /// The good sync: the offset of the first ACK after it.
    Loaded(u64),
    /// The ACK that answered GETACK.
    GetAck(u64),
    /// The replica closed the link after the unknown command.
    Halted,
    /// The replica came back after the halt's back-off, with these PSYNC arguments.
    Resync(String),
    Failed(String),
}

fn next_ack(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<u64> {
    let request = read_request(stream, buf)?;
    if request.len() == 3
        && request[0].eq_ignore_ascii_case(b"REPLCONF")
        && request[1].eq_ignore_ascii_case(b"ACK")
    {
        return String::from_utf8_lossy(&request[2]).parse().ok();
    }
    None
}

fn fake_master(listener: TcpListener, events: mpsc::Sender<Event>) {
    let rdb = rdb();
    let fullresync = format!("+FULLRESYNC {FAKE_REPLID} {FAKE_OFFSET}\r\n");
    let mut attempt = 0;
    for incoming in listener.incoming() {
        let Ok(mut stream) = incoming else {
            continue;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let mut buf = Vec::new();
        let Some(psync) = handshake(&mut stream, &mut buf) else {
            let _ = events.send(Event::Failed(format!(
                "handshake of attempt {attempt} failed"
            )));
            return;
        };
        attempt += 1;
        match attempt {
            1 => {
                let _ = stream.write_all(b"-LOADING Redis is loading the dataset in memory\r\n");
                let _ = events.send(Event::Refused("loading"));
            }
            2 => {
                // Neither +FULLRESYNC nor +CONTINUE: the replica must give up this attempt.
                let _ = stream.write_all(b"+GARBAGE not a psync reply\r\n");
                if wait_closed(&mut stream) {
                    let _ = events.send(Event::Refused("garbage"));
                } else {
                    let _ = events.send(Event::Failed(
                        "a garbage PSYNC reply did not end the link".into(),
                    ));
                    return;
                }
            }
            3 => {
                // Announces the whole RDB, sends half, and closes.
                let mut out = fullresync.clone().into_bytes();
                out.extend_from_slice(format!("${}\r\n", rdb.len()).as_bytes());
                out.extend_from_slice(&rdb[..rdb.len() / 2]);
                let _ = stream.write_all(&out);
                let _ = events.send(Event::Refused("cut"));
            }
            4 => {
                let mut corrupt = rdb.clone();
                let middle = corrupt.len() / 2;
                corrupt[middle] ^= 0x55;
                let mut out = fullresync.clone().into_bytes();
                out.extend_from_slice(format!("${}\r\n", corrupt.len()).as_bytes());
                out.extend_from_slice(&corrupt);
                let _ = stream.write_all(&out);
                if wait_closed(&mut stream) {
                    let _ = events.send(Event::Refused("corrupt"));
                } else {
                    let _ = events.send(Event::Failed("a corrupt RDB did not end the link".into()));
                    return;
                }
            }
            5 => {
                // Diskless framing, the mark split over two writes, the RDB cut short.
                let mut out = fullresync.clone().into_bytes();
                out.extend_from_slice(b"$EOF:");
                out.extend_from_slice(MARK);
                out.extend_from_slice(b"\r\n");
                out.extend_from_slice(&rdb[..rdb.len() - 500]);
                out.extend_from_slice(&MARK[..15]);
                let _ = stream.write_all(&out);
                std::thread::sleep(Duration::from_millis(100));
                let _ = stream.write_all(&MARK[15..]);
                if wait_closed(&mut stream) {
                    let _ = events.send(Event::Refused("truncated diskless"));
                } else {
                    let _ = events.send(Event::Failed(
                        "a truncated diskless RDB did not end the link".into(),
                    ));
                    return;
                }
            }
            6 => {
                good_sync(&mut stream, &mut buf, &rdb, &fullresync, &events);
            }
            7 => {
                // After the halt's back-off: a full sync, never a continue over the command
                // that could not be applied.
                let _ = events.send(Event::Resync(psync));
                let mut out = fullresync.clone().into_bytes();
                out.extend_from_slice(b"$EOF:");
                out.extend_from_slice(MARK);
                out.extend_from_slice(b"\r\n");
                out.extend_from_slice(&rdb);
                out.extend_from_slice(MARK);
                out.extend_from_slice(&encode_command(&["SELECT", "0"]));
                out.extend_from_slice(&encode_command(&["SET", "healed", "1"]));
                let _ = stream.write_all(&out);
                // Kept open, streaming nothing more, until the test ends.
                let _ = wait_closed(&mut stream);
                return;
            }
            _ => {
                let _ = events.send(Event::Failed(format!(
                    "unexpected attempt {attempt} after the link halted"
                )));
                return;
            }
        }
    }
}

/// Keepalives, a diskless payload with the stream's first command in the same write, then
/// a GETACK and a command sluice does not implement.
fn good_sync(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    rdb: &[u8],
    fullresync: &str,
    events: &mpsc::Sender<Event>,
) {
    let select = encode_command(&["SELECT", "0"]);
    let set = encode_command(&["SET", "streamed", "1"]);
    let getack = encode_command(&["REPLCONF", "GETACK", "*"]);
    let mut out = fullresync.as_bytes().to_vec();
    out.extend_from_slice(b"\n\n");
    out.extend_from_slice(b"$EOF:");
    out.extend_from_slice(MARK);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(rdb);
    out.extend_from_slice(MARK);
    out.extend_from_slice(&select);
    if stream.write_all(&out).is_err() {
        let _ = events.send(Event::Failed("writing the good payload".into()));
        return;
    }
    match next_ack(stream, buf) {
        Some(offset) => {
            let _ = events.send(Event::Loaded(offset));
        }
        None => {
            let _ = events.send(Event::Failed("no ACK after the load".into()));
            return;
        }
    }
    let mut out = set.clone();
    out.extend_from_slice(&getack);
    let _ = stream.write_all(&out);
    let expected = FAKE_OFFSET + (select.len() + set.len()) as u64;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut answered = None;
    while Instant::now() < deadline {
        match next_ack(stream, buf) {
            Some(offset) if offset == expected => {
                answered = Some(offset);
                break;
            }
            Some(_) => continue,
            None => break,
        }
    }
    let _ = events.send(match answered {
        Some(offset) => Event::GetAck(offset),
        None => Event::Failed(format!("no ACK with offset {expected} after GETACK")),
    });
    let _ = stream.write_all(&encode_command(&["NOSUCHCMD", "k"]));
    let _ = events.send(if wait_closed(stream) {
        Event::Halted
    } else {
        Event::Failed("the replica kept the link after an unknown command".into())
    });
}

fn expect_event(events: &mpsc::Receiver<Event>, sluice: &ServerProcess) -> Event {
    match events.recv_timeout(SYNC_LIMIT) {
        Ok(Event::Failed(why)) => panic!("fake master: {why}; sluice log:\n{}", sluice.log_text()),
        Ok(event) => event,
        Err(e) => panic!(
            "no event from the fake master ({e}); sluice log:\n{}",
            sluice.log_text()
        ),
    }
}

#[test]
fn broken_payloads_keep_the_old_data_and_the_link_retries() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding the fake master");
    let port = listener.local_addr().expect("fake master address").port();
    let (tx, events) = mpsc::channel();
    std::thread::spawn(move || fake_master(listener, tx));

    let sluice = ServerProcess::sluice(&[]);
    let mut client = sluice.client();
    assert_eq!(client.cmd_text(&["SET", "old", "1"]), "OK");
    assert_eq!(
        client.cmd_text(&["REPLICAOF", "127.0.0.1", &port.to_string()]),
        "OK"
    );
    for expected in ["loading", "garbage", "cut", "corrupt", "truncated diskless"] {
        match expect_event(&events, &sluice) {
            Event::Refused(name) => assert_eq!(name, expected),
            other => panic!("expected the {expected} attempt, got {other:?}"),
        }
        assert_eq!(
            client.cmd_text(&["GET", "old"]),
            "1",
            "after the {expected} attempt"
        );
        assert!(
            client.cmd(&["GET", "from-rdb"]) == Resp::NullBulk,
            "nothing of a broken load shows"
        );
    }
    match expect_event(&events, &sluice) {
        Event::Loaded(offset) => assert_eq!(offset, FAKE_OFFSET),
        other => panic!("expected the load, got {other:?}"),
    }
    match expect_event(&events, &sluice) {
        Event::GetAck(offset) => {
            let select = encode_command(&["SELECT", "0"]).len();
            let set = encode_command(&["SET", "streamed", "1"]).len();
            assert_eq!(
                offset,
                FAKE_OFFSET + (select + set) as u64,
                "GETACK answers the offset before it"
            );
        }
        other => panic!("expected the GETACK answer, got {other:?}"),
    }
    assert!(matches!(expect_event(&events, &sluice), Event::Halted));
    assert_eq!(client.cmd_text(&["GET", "from-rdb"]), "yes");
    assert_eq!(client.cmd_text(&["GET", "streamed"]), "1");
    assert_eq!(
        client.cmd(&["GET", "old"]),
        Resp::NullBulk,
        "the full sync replaced the data"
    );
    let log = sluice.log_text();
    for reason in [
        "LOADING",
        "connection closed by the master",
        "CRC",
        "ended before its EOF opcode",
        "NOSUCHCMD",
    ] {
        assert!(
            log.contains(reason),
            "the log should mention {reason:?}:\n{log}"
        );
    }
    // Halted: the link is down with its reason, the data stays served, and no new
    // connection comes before the back-off.
    let text = info(&mut client, "replication");
    assert_eq!(
        field(&text, "master_link_status").as_deref(),
        Some("down"),
        "{text}"
    );
    assert!(
        field(&text, "master_link_last_error").is_some_and(|e| e.contains("NOSUCHCMD")),
        "{text}"
    );
    assert_eq!(client.cmd_text(&["GET", "from-rdb"]), "yes");
    let halted_at = Instant::now();
    match events.recv_timeout(Duration::from_millis(2500)) {
        Err(mpsc::RecvTimeoutError::Timeout) => {}
        other => panic!("the link should wait for its back-off, got {other:?}"),
    }
    // Then it heals by itself with a full sync.
    match expect_event(&events, &sluice) {
        Event::Resync(psync) => assert_eq!(psync, "? -1", "a full sync is asked for"),
        other => panic!("expected the retry after the back-off, got {other:?}"),
    }
    assert!(halted_at.elapsed() >= Duration::from_secs(3));
    let mut healed = false;
    let deadline = Instant::now() + SYNC_LIMIT;
    while Instant::now() < deadline && !healed {
        healed = client.cmd_text(&["GET", "healed"]) == "1";
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(healed, "the full sync after the halt did not apply");
    let text = info(&mut client, "replication");
    assert_eq!(
        field(&text, "master_link_status").as_deref(),
        Some("up"),
        "{text}"
    );
}

// ---------------------------------------------------------------------------------------
// Chains and promotion
// ---------------------------------------------------------------------------------------

fn stat(client: &mut Client, name: &str) -> u64 {
    field(&info(client, "stats"), name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// redis → sluice → redis; then promotions in both directions, where the former sibling
/// continues with PSYNC instead of a full sync.
#[test]
fn chain_and_promotion_with_redis_siblings() {
    if !redis_available("chain_and_promotion_with_redis_siblings") {
        return;
    }
    let a = ServerProcess::redis(&["--repl-diskless-sync-delay", "0"]);
    let mut a_client = a.client();
    populate_mixed(&mut a_client);
    let b = ServerProcess::sluice(&[
        "--replicaof",
        "127.0.0.1",
        &a.port.to_string(),
        "--repl-diskless-sync-delay",
        "0",
    ]);
    let mut b_client = b.client();
    wait_in_sync(&mut a_client, &b, "sluice following redis");
    let c = ServerProcess::redis(&["--replicaof", "127.0.0.1", &b.port.to_string()]);
    let mut c_client = c.client();
    wait_in_sync(&mut a_client, &c, "redis following sluice following redis");
    assert_same_data(&mut a_client, &mut c_client, "at the end of the chain");
    more_writes(&mut a_client, 1);
    wait_in_sync(&mut a_client, &c, "the chain after more writes");
    assert_same_data(
        &mut a_client,
        &mut c_client,
        "at the end of the chain after more writes",
    );
    assert_same_data(&mut a_client, &mut b_client, "in the middle of the chain");

    // The redis replica becomes sluice's sibling, then follows sluice once promoted.
    assert_eq!(
        c_client.cmd_text(&["REPLICAOF", "127.0.0.1", &a.port.to_string()]),
        "OK"
    );
    wait_in_sync(&mut a_client, &c, "redis following redis");
    assert_eq!(b_client.cmd_text(&["REPLICAOF", "NO", "ONE"]), "OK");
    let (full_before, partial_before) = (
        stat(&mut b_client, "sync_full"),
        stat(&mut b_client, "sync_partial_ok"),
    );
    assert_eq!(
        c_client.cmd_text(&["REPLICAOF", "127.0.0.1", &b.port.to_string()]),
        "OK"
    );
    more_writes(&mut b_client, 2);
    wait_in_sync(&mut b_client, &c, "redis following the promoted sluice");
    assert_eq!(
        stat(&mut b_client, "sync_full"),
        full_before,
        "the sibling must not full-sync"
    );
    assert!(
        stat(&mut b_client, "sync_partial_ok") > partial_before,
        "the sibling continues with PSYNC"
    );
    assert_same_data(&mut b_client, &mut c_client, "after promoting sluice");

    // A sluice replica of the promoted sluice becomes the sibling of the redis replica, and
    // continues from redis once redis is promoted.
    let d = ServerProcess::sluice(&["--replicaof", "127.0.0.1", &b.port.to_string()]);
    let mut d_client = d.client();
    wait_in_sync(&mut b_client, &d, "sluice following sluice");
    wait_in_sync(&mut b_client, &c, "redis following sluice");
    assert_eq!(c_client.cmd_text(&["REPLICAOF", "NO", "ONE"]), "OK");
    let (full_before, partial_before) = (
        stat(&mut c_client, "sync_full"),
        stat(&mut c_client, "sync_partial_ok"),
    );
    assert_eq!(
        d_client.cmd_text(&["REPLICAOF", "127.0.0.1", &c.port.to_string()]),
        "OK"
    );
    more_writes(&mut c_client, 3);
    wait_in_sync(&mut c_client, &d, "sluice following the promoted redis");
    assert_eq!(
        stat(&mut c_client, "sync_full"),
        full_before,
        "sluice must not full-sync"
    );
    assert!(
        stat(&mut c_client, "sync_partial_ok") > partial_before,
        "sluice continues with PSYNC"
    );
    assert_same_data(&mut c_client, &mut d_client, "after promoting redis");
    let log = d.log_text();
    assert!(log.contains("master replication ID changed"), "{log}");
}
