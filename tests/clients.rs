//! Real clients against sluice: the `redis` crate (sync and async), redis-cli and
//! redis-benchmark. Only behaviour is checked, never timing.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

mod common;

use std::process::Command;
use std::time::Duration;

use common::{ServerProcess, TempDir, run_bounded, tool_available};
use redis::Commands;

const TOOL_LIMIT: Duration = Duration::from_secs(120);
const IO_TIMEOUT: Duration = Duration::from_secs(10);

fn connect(server: &ServerProcess) -> redis::Connection {
    let client = redis::Client::open(format!("redis://127.0.0.1:{}/", server.port))
        .expect("redis::Client::open");
    let con = client
        .get_connection_with_timeout(IO_TIMEOUT)
        .expect("connecting with the redis crate");
    con.set_read_timeout(Some(IO_TIMEOUT))
        .expect("read timeout");
    con.set_write_timeout(Some(IO_TIMEOUT))
        .expect("write timeout");
    con
}

#[test]
fn redis_crate_strings_pipeline_and_transaction() {
    let server = ServerProcess::sluice(&[]);
    let mut con = connect(&server);
    let pong: String = redis::cmd("PING").query(&mut con).expect("PING");
    assert_eq!(pong, "PONG");
    let () = con.set("greeting", "hello").expect("SET");
    let got: String = con.get("greeting").expect("GET");
    assert_eq!(got, "hello");
    let missing: Option<String> = con.get("missing").expect("GET missing");
    assert_eq!(missing, None);
    let n: i64 = con.incr("counter", 1).expect("INCR");
    assert_eq!(n, 1);
    let n: i64 = con.incr("counter", 41).expect("INCRBY");
    assert_eq!(n, 42);
    let values: Vec<Option<String>> = con.mget(&["greeting", "missing", "counter"]).expect("MGET");
    assert_eq!(
        values,
        vec![Some("hello".to_string()), None, Some("42".to_string())]
    );
    let err = con
        .incr::<_, _, i64>("greeting", 1)
        .expect_err("INCR of a string");
    assert!(err.to_string().contains("not an integer"), "{err}");

    let (incremented, echoed, fetched): (i64, String, String) = redis::pipe()
        .cmd("SET")
        .arg("p1")
        .arg("one")
        .ignore()
        .cmd("INCR")
        .arg("p2")
        .cmd("ECHO")
        .arg("e")
        .cmd("GET")
        .arg("p1")
        .query(&mut con)
        .expect("pipeline");
    assert_eq!(
        (incremented, echoed.as_str(), fetched.as_str()),
        (1, "e", "one")
    );

    let (x, y): (i64, i64) = redis::pipe()
        .atomic()
        .cmd("INCR")
        .arg("tx")
        .cmd("INCR")
        .arg("tx")
        .query(&mut con)
        .expect("MULTI/EXEC pipeline");
    assert_eq!((x, y), (1, 2));

    // Optimistic locking: WATCH, then EXEC succeeds when nobody touched the key.
    let key = "watched";
    let () = con.set(key, 10).expect("SET watched");
    let (new_value,): (i64,) = redis::transaction(&mut con, &[key], |con, pipe| {
        let current: i64 = con.get(key)?;
        pipe.set(key, current * 2).ignore().get(key).query(con)
    })
    .expect("redis::transaction");
    assert_eq!(new_value, 20);
}

#[test]
fn redis_crate_pubsub_between_two_connections() {
    let server = ServerProcess::sluice(&[]);
    let mut subscriber = connect(&server);
    let mut publisher = connect(&server);
    let mut pubsub = subscriber.as_pubsub();
    pubsub.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
    pubsub.subscribe("news").expect("SUBSCRIBE");
    pubsub.psubscribe("wea*").expect("PSUBSCRIBE");

    let receivers: i64 = publisher.publish("news", "first").expect("PUBLISH");
    assert_eq!(receivers, 1);
    let message = pubsub.get_message().expect("message");
    assert_eq!(message.get_channel_name(), "news");
    assert_eq!(message.get_payload::<String>().expect("payload"), "first");

    let receivers: i64 = publisher.publish("weather", "rain").expect("PUBLISH");
    assert_eq!(receivers, 1);
    let message = pubsub.get_message().expect("pmessage");
    assert_eq!(message.get_channel_name(), "weather");
    assert_eq!(message.get_pattern::<String>().expect("pattern"), "wea*");
    assert_eq!(message.get_payload::<String>().expect("payload"), "rain");

    let nobody: i64 = publisher.publish("elsewhere", "x").expect("PUBLISH");
    assert_eq!(nobody, 0);
    let counts: Vec<(String, i64)> = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg("news")
        .arg("elsewhere")
        .query(&mut publisher)
        .expect("PUBSUB NUMSUB");
    assert_eq!(
        counts,
        vec![("news".to_string(), 1), ("elsewhere".to_string(), 0)]
    );

    pubsub.unsubscribe("news").expect("UNSUBSCRIBE");
    pubsub.punsubscribe("wea*").expect("PUNSUBSCRIBE");
    let receivers: i64 = publisher.publish("news", "late").expect("PUBLISH");
    assert_eq!(receivers, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_crate_async_multiplexed() {
    let server = ServerProcess::sluice(&[]);
    let client = redis::Client::open(format!("redis://127.0.0.1:{}/", server.port))
        .expect("redis::Client::open");
    let work = async {
        let mut con = client
            .get_multiplexed_async_connection()
            .await
            .expect("async connection");
        let mut tasks = Vec::new();
        for i in 0..50 {
            let mut con = con.clone();
            tasks.push(tokio::spawn(async move {
                let () = redis::cmd("SET")
                    .arg(format!("k{i}"))
                    .arg(i)
                    .query_async(&mut con)
                    .await
                    .expect("async SET");
                let got: i64 = redis::cmd("GET")
                    .arg(format!("k{i}"))
                    .query_async(&mut con)
                    .await
                    .expect("async GET");
                assert_eq!(got, i);
            }));
        }
        for task in tasks {
            task.await.expect("task");
        }
        let echoed: String = redis::cmd("ECHO")
            .arg("done")
            .query_async(&mut con)
            .await
            .expect("ECHO");
        assert_eq!(echoed, "done");
    };
    tokio::time::timeout(Duration::from_secs(60), work)
        .await
        .expect("async client work took too long");
}

#[test]
fn redis_cli_ping_and_pipe() {
    let Some(cli) = tool_available("redis-cli", "redis_cli_ping_and_pipe") else {
        return;
    };
    let server = ServerProcess::sluice(&[]);
    let port = server.port.to_string();
    let (code, out, err) = run_bounded(Command::new(&cli).args(["-p", &port, "ping"]), TOOL_LIMIT);
    assert_eq!(code, Some(0), "redis-cli ping failed: {err}");
    assert_eq!(out.trim(), "PONG");
    let (code, out, _) = run_bounded(
        Command::new(&cli).args(["-p", &port, "set", "cli-key", "a b"]),
        TOOL_LIMIT,
    );
    assert_eq!((code, out.trim()), (Some(0), "OK"));
    let (_, out, _) = run_bounded(
        Command::new(&cli).args(["-p", &port, "get", "cli-key"]),
        TOOL_LIMIT,
    );
    assert_eq!(out.trim(), "a b");

    let dir = TempDir::new("redis-cli-pipe");
    let path = dir.path().join("protocol.txt");
    let mut protocol = Vec::new();
    for i in 0..10_000 {
        protocol.extend_from_slice(&common::encode_command(&[
            "SET".to_string(),
            format!("pipe:{i}"),
            format!("value-{i}"),
        ]));
    }
    std::fs::write(&path, protocol).expect("writing the protocol file");
    let stdin = std::fs::File::open(&path).expect("opening the protocol file");
    let (code, out, err) = common::run_bounded_with_stdin(
        Command::new(&cli).args(["-p", &port, "--pipe"]),
        stdin,
        TOOL_LIMIT,
    );
    assert_eq!(code, Some(0), "redis-cli --pipe failed:\n{out}\n{err}");
    assert!(
        out.contains("errors: 0, replies: 10000"),
        "unexpected redis-cli --pipe summary:\n{out}\n{err}"
    );
    let (_, out, _) = run_bounded(
        Command::new(&cli).args(["-p", &port, "get", "pipe:9999"]),
        TOOL_LIMIT,
    );
    assert_eq!(out.trim(), "value-9999");
}

#[test]
fn redis_benchmark_smoke() {
    let Some(benchmark) = tool_available("redis-benchmark", "redis_benchmark_smoke") else {
        return;
    };
    let server = ServerProcess::sluice(&[]);
    let port = server.port.to_string();
    let (code, out, err) = run_bounded(
        Command::new(&benchmark).args([
            "-p",
            &port,
            "-n",
            "2000",
            "-q",
            "-t",
            "set,get,incr,lpush,rpop,sadd,hset,zadd",
            "-P",
            "16",
        ]),
        TOOL_LIMIT,
    );
    assert_eq!(
        code,
        Some(0),
        "redis-benchmark failed:\nstdout:\n{out}\nstderr:\n{err}"
    );
    let all = format!("{out}\n{err}");
    assert!(
        !all.to_ascii_lowercase().contains("error"),
        "redis-benchmark reported errors:\n{all}"
    );
    for test in [
        "SET", "GET", "INCR", "LPUSH", "RPOP", "SADD", "HSET", "ZADD",
    ] {
        assert!(
            all.contains(&format!("{test}: ")),
            "redis-benchmark did not run {test}:\n{all}"
        );
    }
}
