//! A minimal RESP client and a redis-server process for the tests that load encoder output
//! into a real server. Every wait is bounded: the server must answer PING within 20 s of
//! starting, and every reply within 20 s.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Debian redis-server 7.0.
pub const REDIS_SERVER: &str = "/usr/bin/redis-server";

#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

impl Reply {
    /// The elements of an array reply.
    pub fn items(&self) -> &[Reply] {
        match self {
            Reply::Array(Some(v)) => v,
            other => panic!("not an array: {other:?}"),
        }
    }

    /// The bytes of a bulk reply.
    pub fn bulk(&self) -> &[u8] {
        match self {
            Reply::Bulk(Some(b)) => b,
            other => panic!("not a bulk string: {other:?}"),
        }
    }

    pub fn int(&self) -> i64 {
        match self {
            Reply::Int(v) => *v,
            other => panic!("not an integer: {other:?}"),
        }
    }

    /// The value named `name` in a flat name/value array (XINFO's RESP2 replies); `None`
    /// when the reply has no such name.
    pub fn field(&self, name: &str) -> Option<&Reply> {
        self.items()
            .chunks(2)
            .find(|p| p[0] == Reply::Bulk(Some(name.as_bytes().to_vec())))
            .map(|p| &p[1])
    }
}

pub struct Conn {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Conn {
    pub fn connect(port: u16) -> std::io::Result<Self> {
        let s = TcpStream::connect(("127.0.0.1", port))?;
        s.set_read_timeout(Some(Duration::from_secs(20)))?;
        s.set_write_timeout(Some(Duration::from_secs(20)))?;
        Ok(Self {
            r: BufReader::new(s.try_clone()?),
            w: s,
        })
    }

    pub fn call(&mut self, args: &[&[u8]]) -> Reply {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        self.w.write_all(&out).expect("write");
        self.read()
    }

    fn line(&mut self) -> String {
        let mut l = String::new();
        self.r.read_line(&mut l).expect("read");
        l.trim_end_matches("\r\n").to_owned()
    }

    pub fn read(&mut self) -> Reply {
        let l = self.line();
        let (kind, rest) = l.split_at(1);
        match kind {
            "+" => Reply::Simple(rest.into()),
            "-" => Reply::Error(rest.into()),
            ":" => Reply::Int(rest.parse().expect("int")),
            "$" => {
                let n: i64 = rest.parse().expect("len");
                if n < 0 {
                    return Reply::Bulk(None);
                }
                let mut buf = vec![0u8; usize::try_from(n).unwrap() + 2];
                std::io::Read::read_exact(&mut self.r, &mut buf).expect("bulk");
                buf.truncate(usize::try_from(n).unwrap());
                Reply::Bulk(Some(buf))
            }
            "*" => {
                let n: i64 = rest.parse().expect("len");
                if n < 0 {
                    return Reply::Array(None);
                }
                Reply::Array(Some((0..n).map(|_| self.read()).collect()))
            }
            _ => panic!("bad reply line {l:?}"),
        }
    }

    pub fn bulks(&mut self, args: &[&[u8]]) -> Vec<Vec<u8>> {
        match self.call(args) {
            Reply::Array(Some(v)) => v
                .into_iter()
                .map(|r| match r {
                    Reply::Bulk(Some(b)) => b,
                    other => panic!("{other:?}"),
                })
                .collect(),
            other => panic!("{args:?}: {other:?}"),
        }
    }

    pub fn int(&mut self, args: &[&[u8]]) -> i64 {
        match self.call(args) {
            Reply::Int(v) => v,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    pub fn ok(&mut self, args: &[&[u8]]) {
        match self.call(args) {
            Reply::Simple(_) => {}
            other => panic!("{args:?}: {other:?}"),
        }
    }
}

/// Kills the server when the test ends, however it ends.
pub struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Starts `binary` on a free loopback port, loading `dir/dump.rdb`, with `extra` arguments
/// after the defaults; returns once it answers PING (that is, once the load is done).
pub fn start_binary(binary: &str, dir: &Path, extra: &[&str]) -> (Server, Conn) {
    let port = free_port();
    let log = dir.join("redis.log");
    let child = Command::new(binary)
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .arg("--dir")
        .arg(dir)
        .args([
            "--dbfilename",
            "dump.rdb",
            "--daemonize",
            "no",
            "--databases",
            "16",
        ])
        .arg("--logfile")
        .arg(&log)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn redis-server");
    let mut server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(Some(status)) = server.0.try_wait() {
            panic!(
                "redis-server exited ({status}) while loading:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        if let Ok(mut c) = Conn::connect(port) {
            // -LOADING until the dataset is in.
            if c.call(&[b"PING"]) == Reply::Simple("PONG".into()) {
                return (server, c);
            }
        }
        assert!(
            Instant::now() < deadline,
            "redis-server did not come up:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
