//! Server behaviours outside single replies: MONITOR, shutdown by signal and by command,
//! output buffer limits for pub/sub clients, CLIENT KILL, INFO counters, active expiry,
//! maxclients. Every test bounds its waits.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

mod common;

use std::process::Command;
use std::time::Duration;

use common::{Client, ServerProcess};

fn info_field(client: &mut Client, section: &str, field: &str) -> String {
    let text = client.cmd_text(&["INFO", section]);
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| panic!("INFO {section} has no {field}: {text}"))
}

#[test]
fn monitor_sees_commands_of_other_clients() {
    let server = ServerProcess::sluice(&[]);
    let mut monitor = server.client();
    assert_eq!(monitor.cmd_raw(&["MONITOR"]), b"+OK\r\n");
    let mut writer = server.client();
    writer.cmd(&["SELECT", "3"]);
    writer.cmd(&["SET", "k", "a \"b\"\n"]);
    let mut seen = String::new();
    assert!(common::compare::eventually(Duration::from_secs(5), || {
        seen.push_str(&String::from_utf8_lossy(
            &monitor.drain(Duration::from_millis(50)),
        ));
        seen.contains("\"SET\"")
    }));
    let line = seen
        .lines()
        .find(|l| l.contains("\"SET\""))
        .unwrap_or_default();
    assert!(line.starts_with('+'), "{line}");
    assert!(line.contains("[3 127.0.0.1:"), "{line}");
    assert!(line.ends_with("\"SET\" \"k\" \"a \\\"b\\\"\\n\""), "{line}");
}

#[test]
fn sigterm_shuts_down_cleanly() {
    let mut server = ServerProcess::sluice(&[]);
    let mut client = server.client();
    client.cmd(&["SET", "k", "v"]);
    let status = Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    assert!(
        server.exited_within(Duration::from_secs(10)),
        "sluice ignored SIGTERM"
    );
    assert!(
        server.log_text().contains("SIGTERM"),
        "{}",
        server.log_text()
    );
}

#[test]
fn shutdown_command_stops_the_server_and_refuses_save_without_persistence() {
    let mut server = ServerProcess::sluice(&[]);
    let mut client = server.client();
    assert!(
        client
            .cmd_text(&["SHUTDOWN", "BOGUS"])
            .contains("syntax error")
    );
    assert!(
        client
            .cmd_text(&["SHUTDOWN", "ABORT"])
            .contains("No shutdown in progress")
    );
    client.send(&["SHUTDOWN", "NOSAVE"]).expect("send");
    assert!(
        server.exited_within(Duration::from_secs(10)),
        "SHUTDOWN did not stop the server"
    );
}

#[test]
fn slow_pubsub_subscriber_is_disconnected_alone() {
    let server = ServerProcess::sluice(&["--client-output-buffer-limit", "pubsub 1mb 512kb 60"]);
    // A subscriber that never reads.
    let mut slow = server.client();
    slow.send(&["SUBSCRIBE", "news"]).expect("send");
    let mut reader = server.client();
    assert!(
        reader
            .cmd_text(&["SUBSCRIBE", "news"])
            .contains("subscribe")
    );
    let mut publisher = server.client();
    let payload = "x".repeat(64 * 1024);
    let mut killed = false;
    for _ in 0..2000 {
        publisher.cmd(&["PUBLISH", "news", &payload]);
        // The reading subscriber keeps its buffer empty.
        reader.drain(Duration::from_millis(1));
        if info_field(
            &mut publisher,
            "stats",
            "client_output_buffer_limit_disconnections",
        ) != "0"
        {
            killed = true;
            break;
        }
    }
    assert!(killed, "the slow subscriber was never disconnected");
    // The publisher and the reading subscriber are unaffected.
    assert_eq!(publisher.cmd_raw(&["PING"]), b"+PONG\r\n");
    assert_eq!(
        info_field(&mut publisher, "clients", "connected_clients"),
        "2"
    );
}

#[test]
fn client_kill_by_id_and_type() {
    let server = ServerProcess::sluice(&[]);
    let mut admin = server.client();
    let mut victim = server.client();
    let victim_id = victim.cmd(&["CLIENT", "ID"]).int().expect("id");
    assert_eq!(
        admin
            .cmd(&["CLIENT", "KILL", "ID", &victim_id.to_string()])
            .int(),
        Some(1)
    );
    assert!(victim.closed_within(Duration::from_secs(5)));
    let _pubsub = {
        let mut c = server.client();
        c.cmd(&["SUBSCRIBE", "ch"]);
        c
    };
    assert_eq!(
        admin.cmd(&["CLIENT", "KILL", "TYPE", "pubsub"]).int(),
        Some(1)
    );
    // SKIPME yes (the default) spares the caller.
    assert_eq!(
        admin.cmd(&["CLIENT", "KILL", "TYPE", "normal"]).int(),
        Some(0)
    );
    assert_eq!(admin.cmd_raw(&["PING"]), b"+PONG\r\n");
}

#[test]
fn info_counters_follow_activity() {
    let server = ServerProcess::sluice(&[]);
    let mut client = server.client();
    client.cmd(&["SET", "a", "1"]);
    client.cmd(&["GET", "a"]);
    client.cmd(&["GET", "missing"]);
    client.cmd(&["SELECT", "2"]);
    client.cmd(&["SET", "b", "1", "EX", "100"]);
    assert_eq!(info_field(&mut client, "stats", "keyspace_hits"), "1");
    assert_eq!(info_field(&mut client, "stats", "keyspace_misses"), "1");
    assert_eq!(info_field(&mut client, "clients", "connected_clients"), "1");
    let processed: u64 = info_field(&mut client, "stats", "total_commands_processed")
        .parse()
        .expect("int");
    assert!(processed >= 5, "{processed}");
    let keyspace = client.cmd_text(&["INFO", "keyspace"]);
    assert!(keyspace.contains("db0:keys=1,expires=0"), "{keyspace}");
    assert!(keyspace.contains("db2:keys=1,expires=1"), "{keyspace}");
    let used: u64 = info_field(&mut client, "memory", "used_memory")
        .parse()
        .expect("int");
    assert!(used > 0);
}

#[test]
fn active_expiry_deletes_keys_nobody_reads() {
    let server = ServerProcess::sluice(&["--hz", "50"]);
    let mut client = server.client();
    for i in 0..200 {
        client.cmd(&["SET", &format!("k{i}"), "v", "PX", "50"]);
    }
    client.cmd(&["SET", "keep", "v"]);
    // DBSIZE counts keys not yet deleted, as in Redis, so it shows the active cycle's work.
    assert!(
        common::compare::eventually(Duration::from_secs(10), || client.cmd(&["DBSIZE"]).int()
            == Some(1)),
        "expired keys were not deleted by the active cycle"
    );
    assert_eq!(info_field(&mut client, "stats", "expired_keys"), "200");
}

#[test]
fn maxclients_refuses_extra_connections() {
    let server = ServerProcess::sluice(&["--maxclients", "2"]);
    let mut first = server.client();
    // The start-up readiness probe may still be registered for a moment.
    assert!(common::compare::eventually(
        Duration::from_secs(5),
        || info_field(&mut first, "clients", "connected_clients") == "1"
    ));
    let mut second = server.client();
    assert_eq!(first.cmd_raw(&["PING"]), b"+PONG\r\n");
    assert_eq!(second.cmd_raw(&["PING"]), b"+PONG\r\n");
    let mut third = server.client();
    let refused = third.read_raw().unwrap_or_default();
    assert_eq!(refused, b"-ERR max number of clients reached\r\n");
    assert_eq!(info_field(&mut first, "stats", "rejected_connections"), "1");
}
