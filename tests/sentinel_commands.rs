//! The transaction Sentinel sends to promote or re-point a node (`MULTI`, `SLAVEOF`,
//! `CONFIG REWRITE`, `CLIENT KILL TYPE normal`, `CLIENT KILL TYPE pubsub`, `EXEC`), and what
//! it must leave behind: the new role in effect and persisted in the config file, the other
//! clients disconnected, Sentinel's own connection kept. Everything runs on loopback.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

mod common;

use std::time::Duration;

use common::{Client, Resp, ServerProcess, TempDir, encode_command};

/// Sends Sentinel's block as one pipeline (Sentinel pipelines it too) and returns EXEC's reply.
fn sentinel_block(client: &mut Client, replicaof: &[&str]) -> Resp {
    let mut bytes = encode_command(&["MULTI"]);
    let mut slaveof = vec!["SLAVEOF"];
    slaveof.extend_from_slice(replicaof);
    bytes.extend(encode_command(&slaveof));
    bytes.extend(encode_command(&["CONFIG", "REWRITE"]));
    bytes.extend(encode_command(&["CLIENT", "KILL", "TYPE", "normal"]));
    bytes.extend(encode_command(&["CLIENT", "KILL", "TYPE", "pubsub"]));
    bytes.extend(encode_command(&["EXEC"]));
    client.send_raw(&bytes).expect("sending the block");
    for expected in ["+OK", "+QUEUED", "+QUEUED", "+QUEUED", "+QUEUED"] {
        let reply = client.read().expect("reading a queued reply");
        assert_eq!(
            reply.encode(),
            format!("{expected}\r\n").into_bytes(),
            "{reply:?}"
        );
    }
    client.read().expect("reading EXEC's reply")
}

fn replicaof_lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .expect("reading the config file")
        .lines()
        .filter(|l| {
            l.trim_start().starts_with("replicaof") || l.trim_start().starts_with("slaveof")
        })
        .map(str::to_string)
        .collect()
}

#[test]
fn sentinel_promotion_block_repoints_persists_and_disconnects() {
    let master = ServerProcess::sluice(&[]);
    let dir = TempDir::new("sentinel-block");
    let config = dir.path().join("sluice.conf");
    std::fs::write(
        &config,
        "# written by hand, kept by CONFIG REWRITE\nhz 10\n",
    )
    .expect("writing the config file");
    let node = ServerProcess::sluice_with_config(&config, &["--save", ""]);

    let mut sentinel = node.client();
    assert_eq!(
        sentinel.cmd_text(&["CLIENT", "SETNAME", "sentinel-0a1b2c3d-cmd"]),
        "OK"
    );
    let mut normal = node.client();
    assert_eq!(normal.cmd_text(&["PING"]), "PONG");
    let mut subscriber = node.client();
    subscriber
        .send(&["SUBSCRIBE", "__sentinel__:hello"])
        .expect("subscribing");
    assert!(subscriber.read().is_ok());

    let port = master.port.to_string();
    let reply = sentinel_block(&mut sentinel, &["127.0.0.1", &port]);
    let Resp::Array(items) = reply else {
        panic!("EXEC answered {reply:?}");
    };
    assert_eq!(items.len(), 4, "{items:?}");
    assert_eq!(items[0], Resp::Simple(b"OK".to_vec()));
    assert_eq!(
        items[1],
        Resp::Simple(b"OK".to_vec()),
        "CONFIG REWRITE: {:?}",
        items[1]
    );
    assert_eq!(
        items[2],
        Resp::Integer(1),
        "one normal client besides Sentinel's"
    );
    assert_eq!(items[3], Resp::Integer(1), "one subscriber");
    assert!(normal.closed_within(Duration::from_secs(5)));
    assert!(subscriber.closed_within(Duration::from_secs(5)));
    assert_eq!(
        sentinel.cmd_text(&["PING"]),
        "PONG",
        "Sentinel's own link survives"
    );

    assert_eq!(
        replicaof_lines(&config),
        vec![format!("replicaof 127.0.0.1 {port}")]
    );
    let text = std::fs::read_to_string(&config).expect("reading the config file");
    assert!(
        text.contains("# written by hand, kept by CONFIG REWRITE"),
        "{text}"
    );
    let hello = sentinel.cmd(&["HELLO", "3"]);
    let role = hello.items().and_then(|kv| {
        kv.chunks(2)
            .find(|p| p[0].text().as_deref() == Some("role"))
            .and_then(|p| p[1].text())
    });
    assert_eq!(role.as_deref(), Some("replica"));
    assert!(!sentinel.cmd(&["HELLO", "2"]).is_error());

    // Promotion: the replicaof line goes away.
    let reply = sentinel_block(&mut sentinel, &["NO", "ONE"]);
    assert!(
        matches!(reply, Resp::Array(ref items) if items.len() == 4),
        "{reply:?}"
    );
    assert!(
        replicaof_lines(&config).is_empty(),
        "{:?}",
        replicaof_lines(&config)
    );
    let info = sentinel.cmd_text(&["INFO", "replication"]);
    assert_eq!(common::info_field(&info, "role").as_deref(), Some("master"));
}
