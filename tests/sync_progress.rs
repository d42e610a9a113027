//! Progress of a full sync whose payload has no length (`$EOF:` or compressed framing): a
//! sluice master tells replicas that announce `capa size-hint` the payload's expected size
//! after `+FULLRESYNC`, and a sluice replica shows it as `master_sync_total_bytes`, with
//! `master_sync_read_bytes` and `master_sync_perc` against it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use common::compare::{info_field, wait_for};
use common::{ServerProcess, encode_command};

const LIMIT: Duration = Duration::from_secs(30);

/// Keys of many sizes in two databases, so that a sample of a few must stand for all.
fn load_varied(master: &ServerProcess) {
    let mut client = master.client();
    for db in ["0", "3"] {
        assert_eq!(client.cmd_text(&["SELECT", db]), "OK");
        for start in (0..30_000).step_by(500) {
            let mut args = vec!["MSET".to_string()];
            for i in start..start + 500 {
                args.push(format!("key:{i:06}"));
                args.push("x".repeat((i * 7919) % 1500));
            }
            assert!(!client.cmd(&args).is_error());
        }
        for i in 0..200 {
            let fields: Vec<String> = (0..50)
                .flat_map(|f| [format!("f{f}"), format!("value-{i}-{f}")])
                .collect();
            let mut args = vec!["HSET".to_string(), format!("hash:{i}")];
            args.extend(fields);
            assert!(!client.cmd(&args).is_error());
        }
    }
}

/// Reads a CRLF-terminated line, skipping the master's `\n` keepalives before it.
fn read_line(stream: &mut TcpStream, buf: &mut Vec<u8>) -> String {
    loop {
        let skip = buf.iter().take_while(|&&b| b == b'\n').count();
        buf.drain(..skip);
        if let Some(end) = buf.windows(2).position(|w| w == b"\r\n") {
            let line = String::from_utf8_lossy(&buf[..end]).into_owned();
            buf.drain(..end + 2);
            return line;
        }
        fill(stream, buf);
    }
}

fn fill(stream: &mut TcpStream, buf: &mut Vec<u8>) {
    let mut chunk = [0u8; 64 * 1024];
    let n = stream.read(&mut chunk).expect("reading from the master");
    assert!(n > 0, "the master closed the connection");
    buf.extend_from_slice(&chunk[..n]);
}

/// A hand-made replica: handshake with the given capabilities, PSYNC, and the words of
/// the +FULLRESYNC line; the rest of what was read stays in `buf`.
fn fake_replica(port: u16, capas: &[&str], buf: &mut Vec<u8>) -> (TcpStream, Vec<String>) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connecting to the master");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    let mut replconf = vec!["REPLCONF"];
    for capa in capas {
        replconf.extend(["capa", capa]);
    }
    for command in [
        vec!["PING"],
        vec!["REPLCONF", "listening-port", "1"],
        replconf,
    ] {
        stream
            .write_all(&encode_command(&command))
            .expect("handshake");
        let reply = read_line(&mut stream, buf);
        assert!(reply.starts_with('+'), "{command:?} answered {reply}");
    }
    stream
        .write_all(&encode_command(&["PSYNC", "?", "-1"]))
        .expect("PSYNC");
    let line = read_line(&mut stream, buf);
    assert!(line.starts_with("+FULLRESYNC "), "PSYNC answered {line}");
    let words = line.split(' ').map(str::to_string).collect();
    (stream, words)
}

/// Reads a `$EOF:` payload to its end mark and returns its length.
fn eof_payload_len(stream: &mut TcpStream, buf: &mut Vec<u8>) -> u64 {
    let header = read_line(stream, buf);
    let mark = header
        .strip_prefix("$EOF:")
        .unwrap_or_else(|| panic!("expected $EOF: framing, got {header}"))
        .as_bytes()
        .to_vec();
    assert_eq!(mark.len(), 40);
    let deadline = Instant::now() + LIMIT;
    while !buf.ends_with(&mark) {
        assert!(Instant::now() < deadline, "no end mark within {LIMIT:?}");
        fill(stream, buf);
    }
    (buf.len() - mark.len()) as u64
}

fn assert_close(hint: u64, actual: u64, what: &str) {
    let error = hint.abs_diff(actual) as f64 / actual as f64;
    eprintln!("{what}: hint {hint} bytes, payload {actual} bytes");
    assert!(
        error < 0.05,
        "{what}: hint {hint} bytes, payload {actual} bytes ({:.1} % off)",
        error * 100.0
    );
}

#[test]
fn a_master_announces_the_payload_size_to_replicas_that_ask() {
    for diskless in ["yes", "no"] {
        let master = ServerProcess::sluice(&[
            "--repl-diskless-sync",
            diskless,
            "--repl-diskless-sync-delay",
            "0",
        ]);
        load_varied(&master);

        let mut buf = Vec::new();
        let (mut stream, words) =
            fake_replica(master.port, &["eof", "psync2", "size-hint"], &mut buf);
        assert_eq!(words.len(), 4, "diskless {diskless}: {words:?}");
        let hint: u64 = words[3].parse().expect("a numeric size hint");
        let actual = eof_payload_len(&mut stream, &mut buf);
        assert_close(hint, actual, &format!("repl-diskless-sync {diskless}"));
        drop(stream);

        // Without the capability the line is exactly Redis's.
        let mut buf = Vec::new();
        let (_stream, words) = fake_replica(master.port, &["eof", "psync2"], &mut buf);
        assert_eq!(words.len(), 3, "diskless {diskless}: {words:?}");
    }
}

#[test]
fn a_replica_shows_progress_against_the_hint() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding the fake master");
    let port = listener.local_addr().expect("fake master address").port();
    let rdb: Vec<u8> = {
        let mut encoder = sluice_rdb::Encoder::new(sluice_rdb::EncoderOptions::default());
        encoder.select_db(0);
        for i in 0..200 {
            encoder.write_string(format!("k{i}").as_bytes(), &[b'v'; 1000], None);
        }
        encoder.finish().iter().flat_map(|c| c.to_vec()).collect()
    };
    let hint = rdb.len() as u64 + 1000;
    let half = rdb.len() / 2;
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let fake = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("the replica connects");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("read timeout");
        let mut buf = Vec::new();
        // Answer the handshake until PSYNC: +OK to each request (PING takes it too).
        let mut capabilities = String::new();
        loop {
            let mut chunk = [0u8; 4096];
            let n = stream.read(&mut chunk).expect("handshake");
            assert!(n > 0, "the replica closed during the handshake");
            buf.extend_from_slice(&chunk[..n]);
            if !buf.ends_with(b"\r\n") {
                continue;
            }
            let text = String::from_utf8_lossy(&buf).to_string();
            if text.contains("capa") {
                capabilities.push_str(&text);
            }
            if text.contains("PSYNC") {
                break;
            }
            let requests = text.matches("\r\n*").count() + usize::from(text.starts_with('*'));
            stream
                .write_all(&b"+OK\r\n".repeat(requests))
                .expect("handshake reply");
            buf.clear();
        }
        assert!(
            capabilities.contains("size-hint"),
            "capa size-hint announced: {capabilities:?}"
        );
        let mark = [b'm'; 40];
        let mut out =
            format!("+FULLRESYNC 0123456789abcdef0123456789abcdef01234567 0 {hint}\r\n$EOF:")
                .into_bytes();
        out.extend_from_slice(&mark);
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&rdb[..half]);
        stream.write_all(&out).expect("first half");
        let _ = release_rx.recv_timeout(LIMIT);
        let mut out = rdb[half..].to_vec();
        out.extend_from_slice(&mark);
        stream.write_all(&out).expect("second half");
        // Hold the link until the replica has acknowledged the load.
        let mut ack = [0u8; 4096];
        let _ = stream.read(&mut ack);
        std::thread::sleep(Duration::from_millis(200));
    });

    let replica = ServerProcess::sluice(&["--replicaof", "127.0.0.1", &port.to_string()]);
    let mut client = replica.client();
    let mut seen = None;
    wait_for(
        LIMIT,
        "the replica to report the first half",
        || {
            let read: u64 = info_field(&mut client, "replication", "master_sync_read_bytes")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            // Most of the first half (the replica may hold back a few bytes that could
            // be the start of the end mark).
            if read < half as u64 / 2 {
                return false;
            }
            let total = info_field(&mut client, "replication", "master_sync_total_bytes");
            let perc = info_field(&mut client, "replication", "master_sync_perc");
            seen = Some((read, total, perc));
            true
        },
        || replica.log_text(),
    );
    let (read, total, perc) = seen.expect("progress seen");
    assert_eq!(total.as_deref(), Some(hint.to_string().as_str()));
    let perc: f64 = perc.expect("master_sync_perc").parse().expect("a number");
    let expected = read as f64 * 100.0 / hint as f64;
    assert!((perc - expected).abs() < 0.01, "{perc} vs {expected}");
    assert!(perc > 0.0 && perc < 100.0);
    release_tx.send(()).expect("releasing the fake master");
    wait_for(
        LIMIT,
        "the load to finish",
        || client.cmd(&["DBSIZE"]).int() == Some(200),
        || replica.log_text(),
    );
    fake.join().expect("fake master thread");
}
