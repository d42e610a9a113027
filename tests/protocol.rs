//! The wire protocol as raw bytes, against sluice only: pipelining, inline commands,
//! malformed input, huge declared lengths and the limits that apply before AUTH.
//!
//! Expected texts are Redis 7.0.15's.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

mod common;

use std::io::Write;
use std::time::Duration;

use common::{Client, Resp, ServerProcess, escape, info_field, redis_available};

const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// Sends `input` on a fresh connection and expects exactly `error` followed by a close.
fn expect_protocol_error(server: &ServerProcess, input: &[u8], error: &str) {
    let mut client = server.client();
    client.send_raw(input).expect("sending malformed input");
    let reply = client.read_raw().unwrap_or_else(|e| {
        panic!(
            "no reply to {:?}: {e}",
            escape(&input[..input.len().min(80)])
        )
    });
    assert_eq!(
        escape(&reply),
        escape(format!("-ERR Protocol error: {error}\r\n").as_bytes()),
        "reply to {:?}",
        escape(&input[..input.len().min(80)])
    );
    assert!(
        client.closed_within(CLOSE_WAIT),
        "connection should close after a protocol error ({error})"
    );
}

fn assert_alive(client: &mut Client) {
    assert_eq!(client.cmd_raw(&["PING"]), b"+PONG\r\n");
}

#[test]
fn pipeline_of_ten_thousand_commands_in_one_write() {
    let server = ServerProcess::sluice(&[]);
    let mut client = server.client();
    let mut batch = Vec::new();
    for i in 0..10_000 {
        batch.extend_from_slice(&common::encode_command(&["ECHO", &i.to_string()]));
    }
    // A writer thread, so that the replies cannot fill both socket buffers and deadlock.
    let mut writer = client.try_clone_stream();
    let sending = std::thread::spawn(move || writer.write_all(&batch));
    for i in 0..10_000 {
        let reply = client
            .read()
            .unwrap_or_else(|e| panic!("reply {i} of the pipeline: {e}"));
        assert_eq!(reply, Resp::bulk(&i.to_string()), "reply {i}");
    }
    sending
        .join()
        .expect("writer thread")
        .expect("writing the pipeline");
    assert_alive(&mut client);
}

#[test]
fn inline_commands() {
    let server = ServerProcess::sluice(&[]);
    let mut client = server.client();
    client.send_raw(b"PING\r\n").unwrap();
    assert_eq!(client.read_raw().unwrap(), b"+PONG\r\n");
    // A bare \n ends a line too; blank lines are skipped.
    client.send_raw(b"\r\n\n  \r\nping\n").unwrap();
    assert_eq!(client.read_raw().unwrap(), b"+PONG\r\n");
    client.send_raw(b"ECHO \"hello world\"\r\n").unwrap();
    assert_eq!(client.read_raw().unwrap(), b"$11\r\nhello world\r\n");
    client.send_raw(b"ECHO 'it\\'s'\r\n").unwrap();
    assert_eq!(client.read_raw().unwrap(), b"$4\r\nit's\r\n");
    client.send_raw(b"ECHO \"\\x41\\x00\\n\"\r\n").unwrap();
    assert_eq!(client.read_raw().unwrap(), b"$3\r\nA\x00\n\r\n");
    client.send_raw(b"ECHO \"\"\r\n").unwrap();
    assert_eq!(client.read_raw().unwrap(), b"$0\r\n\r\n");
    client.send_raw(b"ECHO 'a b' \"c\"\r\n").unwrap();
    assert_eq!(
        client.read_raw().unwrap(),
        b"-ERR wrong number of arguments for 'echo' command\r\n"
    );
    // Inline and multibulk requests mix in one write.
    let mut mixed = b"PING a\r\n".to_vec();
    mixed.extend_from_slice(&common::encode_command(&["ECHO", "b"]));
    mixed.extend_from_slice(b"PING c\n");
    client.send_raw(&mixed).unwrap();
    for expected in ["a", "b", "c"] {
        assert_eq!(client.read().unwrap(), Resp::bulk(expected));
    }
    // Empty and negative multibulk counts are skipped silently, as in Redis.
    client.send_raw(b"*0\r\n*-1\r\nPING\r\n").unwrap();
    assert_eq!(client.read_raw().unwrap(), b"+PONG\r\n");
    // A request split across many writes.
    for byte in common::encode_command(&["ECHO", "slow"]) {
        client.send_raw(&[byte]).unwrap();
    }
    assert_eq!(client.read().unwrap(), Resp::bulk("slow"));
}

#[test]
fn malformed_input_gets_a_protocol_error_and_the_connection_closes() {
    let server = ServerProcess::sluice(&[]);
    let mut bystander = server.client();
    assert_alive(&mut bystander);
    expect_protocol_error(&server, b"*abc\r\n", "invalid multibulk length");
    expect_protocol_error(&server, b"*3000000000\r\n", "invalid multibulk length");
    expect_protocol_error(&server, b"*1\r\n$999999999999\r\n", "invalid bulk length");
    expect_protocol_error(&server, b"*1\r\n$-1\r\n", "invalid bulk length");
    expect_protocol_error(&server, b"*1\r\n$abc\r\n", "invalid bulk length");
    expect_protocol_error(&server, b"*1\r\nx\r\n", "expected '$', got 'x'");
    expect_protocol_error(
        &server,
        b"*2\r\n$4\r\nECHO\r\n:1\r\n",
        "expected '$', got ':'",
    );
    expect_protocol_error(&server, b"ECHO \"abc\r\n", "unbalanced quotes in request");
    expect_protocol_error(&server, b"ECHO \"a\"b\r\n", "unbalanced quotes in request");
    expect_protocol_error(&server, b"ECHO 'abc\r\n", "unbalanced quotes in request");
    expect_protocol_error(&server, &vec![b'a'; 70 * 1024], "too big inline request");
    let mut long_count = b"*".to_vec();
    long_count.extend(std::iter::repeat_n(b'1', 70 * 1024));
    expect_protocol_error(&server, &long_count, "too big mbulk count string");
    let mut long_bulk = b"*1\r\n$".to_vec();
    long_bulk.extend(std::iter::repeat_n(b'1', 70 * 1024));
    expect_protocol_error(&server, &long_bulk, "too big bulk count string");
    // Commands before the bad request in the same write are still answered.
    let mut client = server.client();
    client.send_raw(b"PING\r\n*1\r\nx\r\n").unwrap();
    assert_eq!(client.read_raw().unwrap(), b"+PONG\r\n");
    assert_eq!(
        client.read_raw().unwrap(),
        b"-ERR Protocol error: expected '$', got 'x'\r\n"
    );
    assert!(client.closed_within(CLOSE_WAIT));
    // Other clients never noticed.
    assert_alive(&mut bystander);
    let mut fresh = server.client();
    assert_alive(&mut fresh);
}

#[test]
fn huge_declared_bulk_is_not_allocated_up_front() {
    let server = ServerProcess::sluice(&[]);
    let mut observer = server.client();
    let memory_before = used_memory(&mut observer);
    let mut liars = Vec::new();
    for _ in 0..4 {
        let mut liar = server.client();
        liar.send_raw(b"*1\r\n$500000000\r\n").unwrap();
        liars.push(liar);
    }
    let mut partial = server.client();
    partial
        .send_raw(b"*2\r\n$4\r\nECHO\r\n$400000000\r\nabc")
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let memory_after = used_memory(&mut observer);
    eprintln!("used_memory before {memory_before}, after {memory_after}");
    assert!(
        memory_after < memory_before + 64 * 1024 * 1024,
        "declared-but-unsent bulks grew used_memory from {memory_before} to {memory_after}"
    );
    // The connections wait for the rest of their requests: they are neither answered nor
    // closed.
    for liar in &mut liars {
        assert!(!liar.closed_within(Duration::from_millis(200)));
    }
    assert!(!partial.closed_within(Duration::from_millis(200)));
    assert_alive(&mut observer);
}

fn used_memory(client: &mut Client) -> u64 {
    let info = client.cmd_text(&["INFO", "memory"]);
    info_field(&info, "used_memory")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no used_memory in INFO memory:\n{info}"))
}

#[test]
fn limits_before_authentication() {
    let server = ServerProcess::sluice(&["--requirepass", "secret"]);
    expect_protocol_error(&server, b"*100\r\n", "unauthenticated multibulk length");
    expect_protocol_error(&server, b"*1\r\n$20000\r\n", "unauthenticated bulk length");
    // After AUTH the usual limits apply, even later in the same write.
    let mut client = server.client();
    let mut batch = common::encode_command(&["AUTH", "secret"]);
    let many: Vec<String> = std::iter::once("ECHO".to_string())
        .chain(std::iter::once("x".repeat(20_000)))
        .collect();
    batch.extend_from_slice(&common::encode_command(&many));
    let mut wide = vec!["PING".to_string()];
    wide.extend((0..99).map(|i| i.to_string()));
    batch.extend_from_slice(&common::encode_command(&wide));
    client.send_raw(&batch).unwrap();
    assert_eq!(client.read_raw().unwrap(), b"+OK\r\n");
    assert_eq!(client.read().unwrap(), Resp::Bulk(vec![b'x'; 20_000]));
    assert_eq!(
        client.read_raw().unwrap(),
        b"-ERR wrong number of arguments for 'ping' command\r\n"
    );
}

#[test]
fn requirepass_noauth_auth_wrongpass_and_hello() {
    let server = ServerProcess::sluice(&["--requirepass", "secret"]);
    let mut client = server.client();
    assert_eq!(
        client.cmd_raw(&["GET", "k"]),
        b"-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(
        client.cmd_raw(&["ECHO", "x"]),
        b"-NOAUTH Authentication required.\r\n"
    );
    // Unknown commands and arity errors come before the authentication check.
    assert!(
        client
            .cmd_text(&["NOSUCHCOMMAND"])
            .starts_with("ERR unknown command 'NOSUCHCOMMAND'")
    );
    assert_eq!(
        client.cmd_raw(&["AUTH", "wrong"]),
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(
        client.cmd_raw(&["AUTH", "nosuchuser", "secret"]),
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(
        client.cmd_raw(&["MULTI"]),
        b"-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(
        client.cmd_text(&["HELLO", "3"]),
        "NOAUTH HELLO must be called with the client already authenticated, otherwise the \
         HELLO AUTH <user> <pass> option can be used to authenticate the client and select the \
         RESP protocol version at the same time"
    );
    assert_eq!(
        client.cmd_raw(&["GET", "a", "b"]),
        b"-ERR wrong number of arguments for 'get' command\r\n"
    );
    assert_eq!(client.cmd_raw(&["AUTH", "secret"]), b"+OK\r\n");
    assert_alive(&mut client);
    assert_eq!(client.cmd_raw(&["ECHO", "after"]), b"$5\r\nafter\r\n");
    assert_eq!(client.cmd_raw(&["AUTH", "default", "secret"]), b"+OK\r\n");
    // RESET forgets the authentication.
    assert_eq!(client.cmd_raw(&["RESET"]), b"+RESET\r\n");
    assert_eq!(
        client.cmd_raw(&["ECHO", "x"]),
        b"-NOAUTH Authentication required.\r\n"
    );
    // QUIT needs no authentication.
    let mut quitter = server.client();
    assert_eq!(quitter.cmd_raw(&["QUIT"]), b"+OK\r\n");
    assert!(quitter.closed_within(CLOSE_WAIT));

    let mut resp3 = server.client();
    assert_eq!(
        resp3.cmd_raw(&["HELLO", "3", "AUTH", "default", "wrong"]),
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    let reply = resp3.cmd(&["HELLO", "3", "AUTH", "default", "secret", "SETNAME", "me"]);
    let Resp::Map(pairs) = reply else {
        panic!("HELLO 3 should answer a map, got {reply:?}");
    };
    assert!(pairs.contains(&(Resp::bulk("proto"), Resp::Integer(3))));
    assert!(pairs.contains(&(Resp::bulk("server"), Resp::bulk("redis"))));
    assert_eq!(resp3.cmd(&["CLIENT", "GETNAME"]), Resp::bulk("me"));
    assert_eq!(resp3.cmd_raw(&["PING"]), b"+PONG\r\n");
    // A failed HELLO AUTH leaves an authenticated connection authenticated.
    assert!(
        resp3
            .cmd(&["HELLO", "2", "AUTH", "default", "wrong"])
            .is_error()
    );
    assert_eq!(resp3.cmd_raw(&["ECHO", "still"]), b"$5\r\nstill\r\n");
}

#[test]
fn nul_byte_in_an_inline_request_ends_the_line() {
    // Regression: a NUL in an unquoted inline argument once made the splitter loop forever
    // under the server lock, growing memory without bound.
    let server = ServerProcess::sluice(&[]);
    let mut client = server.client();
    client.send_raw(b"ECHO a\x00b c\r\n").unwrap();
    assert_eq!(client.read_raw().unwrap(), b"$1\r\na\r\n");
    client.send_raw(b"\x00\r\nPING\r\n").unwrap();
    assert_eq!(client.read_raw().unwrap(), b"+PONG\r\n");
    let mut other = server.client();
    assert_alive(&mut other);
}

/// Inline requests whose splitting must match redis-server's exactly (each on a fresh
/// connection, since some of them end it).
const INLINE_CASES: &[&[u8]] = &[
    b"PING\r\n",
    b"ping\n",
    b"ECHO \"a\\x41b\"\r\n",
    b"ECHO \"\\x4g\"\r\n",
    b"ECHO \"\\xZZ\"\r\n",
    b"ECHO 'a\\'b'\r\n",
    b"ECHO 'a\\nb'\r\n",
    b"ECHO \"a\\\\b\"\r\n",
    b"ECHO \"\\a\\b\\t\\r\\n\\q\"\r\n",
    b"ECHO a\"b\"\r\n",
    b"ECHO a'b'\r\n",
    b"ECHO \"\"\r\n",
    b"ECHO ''\r\n",
    b"ECHO \"\"\"\"\r\n",
    b"ECHO \"a\"b\r\n",
    b"ECHO 'a'b\r\n",
    b"ECHO \"abc\r\n",
    b"ECHO 'abc\r\n",
    b"   ECHO    spaced   \r\n",
    b"ECHO\ttabbed\r\n",
    b"ECHO \"a\"\x0bb\r\n",
    b"ECHO a\x0bb\r\n",
    b"ECHO a\rb\r\n",
    b"ECHO \"trailing\" \r\n",
    b"ECHO \xff\xfe\r\n",
    b"ECHO \"\\xff\"\r\n",
    b"NOSUCH a b\r\n",
    b"ECHO\r\n",
    b"\"ECHO\" quoted-name\r\n",
];

#[test]
fn inline_parsing_matches_redis() {
    if !redis_available("inline_parsing_matches_redis") {
        return;
    }
    let sluice = ServerProcess::sluice(&[]);
    let redis = ServerProcess::redis(&[]);
    let mut mismatches = Vec::new();
    for case in INLINE_CASES {
        let mut replies = Vec::new();
        for server in [&sluice, &redis] {
            let mut client = server.client();
            client.send_raw(case).unwrap();
            replies.push(match client.read_raw() {
                Ok(reply) => escape(&reply),
                Err(e) => format!("error: {e}"),
            });
        }
        if replies[0] != replies[1] {
            mismatches.push(format!(
                "{:?}\n    sluice: {}\n    redis:  {}",
                escape(case),
                replies[0],
                replies[1]
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "inline parsing differs:\n{}",
        mismatches.join("\n")
    );
}
