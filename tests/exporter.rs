//! Prometheus's redis_exporter (Debian's prometheus-redis-exporter) scrapes sluice as it
//! scrapes redis-server 7.0.15: without an error line, and finding every metric it finds
//! on redis-server for the same small dataset.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{ServerProcess, free_port, tool_available};

const SCRAPE_LIMIT: Duration = Duration::from_secs(20);

/// An exporter process watching one server; killed on drop.
struct Exporter {
    child: Child,
    port: u16,
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_exporter(program: &std::path::Path, server: &ServerProcess) -> Exporter {
    let port = free_port();
    let child = Command::new(program)
        .arg("-redis.addr")
        .arg(format!("redis://127.0.0.1:{}", server.port))
        .arg("-web.listen-address")
        .arg(format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the exporter");
    Exporter { child, port }
}

/// One GET of /metrics; None until the exporter listens.
fn get_metrics(port: u16) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(SCRAPE_LIMIT)).ok()?;
    stream
        .write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .ok()?;
    let mut body = String::new();
    stream.read_to_string(&mut body).ok()?;
    body.contains("redis_up").then_some(body)
}

/// The names of the metrics one scrape finds, and the exporter's error lines.
fn scrape(program: &std::path::Path, server: &ServerProcess) -> (BTreeSet<String>, Vec<String>) {
    let mut client = server.client();
    client.cmd(&["SET", "k", "v"]);
    client.cmd(&["RPUSH", "l", "a", "b"]);
    client.cmd(&["SELECT", "3"]);
    client.cmd(&["SET", "t", "v", "EX", "100"]);
    let mut exporter = start_exporter(program, server);
    let deadline = Instant::now() + SCRAPE_LIMIT;
    let body = loop {
        if let Some(body) = get_metrics(exporter.port) {
            break body;
        }
        assert!(Instant::now() < deadline, "the exporter never answered");
        std::thread::sleep(Duration::from_millis(50));
    };
    let names = body
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_string)
        .collect();
    let _ = exporter.child.kill();
    let mut log = String::new();
    if let Some(mut stderr) = exporter.child.stderr.take() {
        let _ = stderr.read_to_string(&mut log);
    }
    let errors = log
        .lines()
        .filter(|l| l.contains("level=error") || l.contains("level=warn"))
        .map(str::to_string)
        .collect();
    (names, errors)
}

#[test]
fn the_exporter_finds_every_metric_it_finds_on_redis() {
    let Some(program) = tool_available(
        "prometheus-redis-exporter",
        "the_exporter_finds_every_metric_it_finds_on_redis",
    ) else {
        return;
    };
    let (ours, our_errors) = scrape(&program, &ServerProcess::sluice(&[]));
    let (theirs, _) = scrape(&program, &ServerProcess::redis(&[]));
    assert!(
        our_errors.is_empty(),
        "the exporter complained: {our_errors:#?}"
    );
    assert_eq!(
        ours.get("redis_up").map(String::as_str),
        Some("redis_up"),
        "no redis_up"
    );
    let missing: Vec<&String> = theirs.difference(&ours).collect();
    assert!(
        missing.is_empty(),
        "metrics found on redis-server only: {missing:#?}"
    );
}
