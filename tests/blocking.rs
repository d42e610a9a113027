//! Blocking list commands over real connections: a `sluice` child on a free loopback port,
//! raw RESP over `std::net::TcpStream`. Every read has a timeout and the child is killed
//! when a test ends, however it ends.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Longest wait for any reply that should come.
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a blocked client is watched to make sure it stays silent.
const SILENCE: Duration = Duration::from_millis(200);
/// Time for the server to register a client as blocked before the next step.
const SETTLE: Duration = Duration::from_millis(150);
const START_TIMEOUT: Duration = Duration::from_secs(20);
const START_ATTEMPTS: usize = 5;

/// A sluice child; killed and reaped on drop, its working directory removed.
struct Server {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Server {
    fn start() -> Server {
        let mut last_error = String::new();
        for attempt in 0..START_ATTEMPTS {
            match Server::try_start(attempt) {
                Ok(server) => return server,
                Err(e) => last_error = e,
            }
        }
        panic!("sluice did not start after {START_ATTEMPTS} attempts: {last_error}");
    }

    fn try_start(attempt: usize) -> Result<Server, String> {
        // The port is free now; another process may take it before the child binds it,
        // in which case the child exits and another port is tried.
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("finding a free port: {e}"))?
            .port();
        let dir = std::env::temp_dir().join(format!(
            "sluice-blocking-{}-{port}-{attempt}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {dir:?}: {e}"))?;
        let child = Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args([
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--bind",
                "127.0.0.1",
            ])
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("spawning sluice: {e}"))?;
        let mut server = Server { child, port, dir };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!("sluice exited during start-up: {status}"));
            }
            if let Ok(mut conn) = Conn::try_open(port)
                && conn.command(&["PING"]).is_ok_and(|r| r == b"+PONG\r\n")
            {
                return Ok(server);
            }
            if Instant::now() > deadline {
                return Err(format!("no PONG on port {port} within {START_TIMEOUT:?}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn connect(&self) -> Conn {
        Conn::try_open(self.port).expect("connecting to sluice")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

struct Conn {
    stream: TcpStream,
}

fn encode(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
    }
    out
}

impl Conn {
    fn try_open(port: u16) -> std::io::Result<Conn> {
        let stream = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), REPLY_TIMEOUT)?;
        stream.set_read_timeout(Some(REPLY_TIMEOUT))?;
        stream.set_write_timeout(Some(REPLY_TIMEOUT))?;
        stream.set_nodelay(true)?;
        Ok(Conn { stream })
    }

    fn send(&mut self, args: &[&str]) {
        self.stream
            .write_all(&encode(args))
            .expect("writing a command");
    }

    /// Reads exactly one reply: enough for the shapes these tests expect (simple lines,
    /// bulks, nulls and arrays of those).
    fn read_reply(&mut self) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut pending = 1usize;
        while pending > 0 {
            pending -= 1;
            let line = self.read_line()?;
            out.extend_from_slice(&line);
            let count: i64 = std::str::from_utf8(&line[1..line.len() - 2])
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            match line[0] {
                b'$' if count >= 0 => {
                    let mut body = vec![0u8; usize::try_from(count).unwrap() + 2];
                    self.stream.read_exact(&mut body)?;
                    out.extend_from_slice(&body);
                }
                b'*' | b'~' | b'>' if count > 0 => pending += usize::try_from(count).unwrap(),
                b'%' if count > 0 => pending += 2 * usize::try_from(count).unwrap(),
                _ => {}
            }
        }
        Ok(out)
    }

    fn read_line(&mut self) -> std::io::Result<Vec<u8>> {
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        while !line.ends_with(b"\r\n") {
            self.stream.read_exact(&mut byte)?;
            line.push(byte[0]);
        }
        Ok(line)
    }

    fn command(&mut self, args: &[&str]) -> std::io::Result<Vec<u8>> {
        self.stream.write_all(&encode(args))?;
        self.read_reply()
    }

    /// Sends a command and checks its reply byte for byte.
    fn expect(&mut self, args: &[&str], reply: &str) {
        let got = self.command(args).expect("reading a reply");
        assert_eq!(String::from_utf8_lossy(&got), reply, "reply to {args:?}");
    }

    /// Checks the next reply (of a command sent earlier).
    fn expect_reply(&mut self, reply: &str) {
        let got = self.read_reply().expect("reading a reply");
        assert_eq!(String::from_utf8_lossy(&got), reply);
    }

    /// Checks that nothing arrives for a while (the client is still blocked).
    fn expect_silence(&mut self) {
        self.stream
            .set_read_timeout(Some(SILENCE))
            .expect("setting a timeout");
        let mut byte = [0u8; 1];
        match self.stream.read(&mut byte) {
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Ok(0) => panic!("connection closed while blocked"),
            Ok(_) => panic!("unexpected reply byte {:?} while blocked", byte[0] as char),
            Err(e) => panic!("read error while blocked: {e}"),
        }
        self.stream
            .set_read_timeout(Some(REPLY_TIMEOUT))
            .expect("setting a timeout");
    }
}

#[test]
fn blpop_is_served_by_a_later_push_from_another_connection() {
    let server = Server::start();
    let mut waiter = server.connect();
    let mut pusher = server.connect();
    // A command pipelined behind the blocked one runs once it is served.
    waiter.send(&["BLPOP", "k", "0"]);
    waiter.send(&["PING"]);
    waiter.expect_silence();
    pusher.expect(&["RPUSH", "k", "v", "w"], ":2\r\n");
    waiter.expect_reply("*2\r\n$1\r\nk\r\n$1\r\nv\r\n");
    waiter.expect_reply("+PONG\r\n");
    pusher.expect(&["LRANGE", "k", "0", "-1"], "*1\r\n$1\r\nw\r\n");
}

#[test]
fn blocked_clients_are_served_first_come_first_served() {
    let server = Server::start();
    let mut first = server.connect();
    let mut second = server.connect();
    let mut pusher = server.connect();
    first.send(&["BRPOP", "k", "0"]);
    std::thread::sleep(SETTLE);
    second.send(&["BRPOP", "k", "0"]);
    std::thread::sleep(SETTLE);
    pusher.expect(&["LPUSH", "k", "a"], ":1\r\n");
    first.expect_reply("*2\r\n$1\r\nk\r\n$1\r\na\r\n");
    second.expect_silence();
    pusher.expect(&["LPUSH", "k", "b"], ":1\r\n");
    second.expect_reply("*2\r\n$1\r\nk\r\n$1\r\nb\r\n");
    // Two elements at once serve both waiters, in arrival order.
    first.send(&["BLPOP", "k", "0"]);
    std::thread::sleep(SETTLE);
    second.send(&["BLPOP", "k", "0"]);
    std::thread::sleep(SETTLE);
    pusher.expect(&["RPUSH", "k", "x", "y"], ":2\r\n");
    first.expect_reply("*2\r\n$1\r\nk\r\n$1\r\nx\r\n");
    second.expect_reply("*2\r\n$1\r\nk\r\n$1\r\ny\r\n");
    pusher.expect(&["EXISTS", "k"], ":0\r\n");
}

#[test]
fn timeouts_answer_a_null_array_and_the_connection_goes_on() {
    let server = Server::start();
    let mut conn = server.connect();
    let started = Instant::now();
    conn.expect(&["BLPOP", "k", "0.1"], "*-1\r\n");
    conn.expect(&["BLMOVE", "k", "d", "LEFT", "RIGHT", "0.1"], "*-1\r\n");
    conn.expect(&["BLMPOP", "0.1", "1", "k", "LEFT"], "*-1\r\n");
    assert!(started.elapsed() >= Duration::from_millis(300));
    conn.expect(&["PING"], "+PONG\r\n");
    conn.command(&["HELLO", "3"]).expect("HELLO 3");
    conn.expect(&["BRPOPLPUSH", "k", "d", "0.1"], "_\r\n");
}

#[test]
fn blmove_pushes_serve_clients_blocked_on_the_destination() {
    let server = Server::start();
    let mut mover = server.connect();
    let mut popper = server.connect();
    let mut pusher = server.connect();
    mover.send(&["BLMOVE", "a", "b", "LEFT", "RIGHT", "0"]);
    std::thread::sleep(SETTLE);
    popper.send(&["BLPOP", "b", "0"]);
    std::thread::sleep(SETTLE);
    pusher.expect(&["RPUSH", "a", "x"], ":1\r\n");
    mover.expect_reply("$1\r\nx\r\n");
    popper.expect_reply("*2\r\n$1\r\nb\r\n$1\r\nx\r\n");
    pusher.expect(&["EXISTS", "a", "b"], ":0\r\n");
}

#[test]
fn a_client_that_disconnects_while_blocked_takes_nothing() {
    let server = Server::start();
    let mut pusher = server.connect();
    {
        let mut gone = server.connect();
        gone.send(&["BLPOP", "k", "0"]);
        gone.expect_silence();
    }
    std::thread::sleep(SETTLE);
    let mut waiter = server.connect();
    waiter.send(&["BLPOP", "k", "0"]);
    std::thread::sleep(SETTLE);
    pusher.expect(&["RPUSH", "k", "v"], ":1\r\n");
    waiter.expect_reply("*2\r\n$1\r\nk\r\n$1\r\nv\r\n");
    {
        let mut gone = server.connect();
        gone.send(&["BLPOP", "k2", "0"]);
        gone.expect_silence();
    }
    std::thread::sleep(SETTLE);
    pusher.expect(&["RPUSH", "k2", "v"], ":1\r\n");
    pusher.expect(&["LRANGE", "k2", "0", "-1"], "*1\r\n$1\r\nv\r\n");
}

#[test]
fn blocking_commands_inside_multi_answer_at_once() {
    let server = Server::start();
    let mut conn = server.connect();
    conn.expect(&["MULTI"], "+OK\r\n");
    conn.expect(&["BLPOP", "k", "0"], "+QUEUED\r\n");
    conn.expect(&["BLMOVE", "k", "d", "LEFT", "LEFT", "0"], "+QUEUED\r\n");
    conn.expect(&["EXEC"], "*2\r\n*-1\r\n$-1\r\n");
    conn.expect(&["PING"], "+PONG\r\n");
}

#[test]
fn stream_readers_wait_on_their_own_ids_and_learn_of_a_vanished_group() {
    let server = Server::start();
    let mut ahead = server.connect();
    let mut behind = server.connect();
    let mut writer = server.connect();
    writer.expect(&["XADD", "s", "5-0", "f", "v"], "$3\r\n5-0\r\n");
    // The first waiter reads after an ID the next entry does not pass; the second is served
    // although it blocked later.
    ahead.send(&["XREAD", "BLOCK", "0", "STREAMS", "s", "100-0"]);
    std::thread::sleep(SETTLE);
    behind.send(&["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
    std::thread::sleep(SETTLE);
    writer.expect(&["XADD", "s", "6-0", "g", "w"], "$3\r\n6-0\r\n");
    behind.expect_reply(
        "*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n6-0\r\n*2\r\n$1\r\ng\r\n$1\r\nw\r\n",
    );
    ahead.expect_silence();
    writer.expect(&["XADD", "s", "101-0", "h", "x"], "$5\r\n101-0\r\n");
    ahead.expect_reply(
        "*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$5\r\n101-0\r\n*2\r\n$1\r\nh\r\n$1\r\nx\r\n",
    );
    // A group reader learns that its key (and group) went away.
    writer.expect(&["XGROUP", "CREATE", "s", "g", "$"], "+OK\r\n");
    ahead.send(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c",
        "BLOCK",
        "0",
        "STREAMS",
        "s",
        ">",
    ]);
    std::thread::sleep(SETTLE);
    writer.expect(&["DEL", "s"], ":1\r\n");
    ahead.expect_reply(
        "-NOGROUP the consumer group this client was blocked on no longer exists\r\n",
    );
}
