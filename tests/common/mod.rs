//! Helpers shared by the integration tests: free ports, sluice and redis-server child
//! processes that die with the test, and a small raw RESP client.
//!
//! Everything here bounds its waits: servers must answer PING within [`START_TIMEOUT`],
//! reads time out after [`READ_TIMEOUT`] unless a test chooses otherwise.

#![allow(dead_code)]

pub mod acked;
pub mod compare;
pub mod dataset;
pub mod journal;
pub mod sentinel;
pub mod tools;
pub mod writes;

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub const START_TIMEOUT: Duration = Duration::from_secs(10);
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);
const START_ATTEMPTS: usize = 5;

/// Where the reference server is installed (Debian's redis-server 7.0.15 in CI).
pub const REDIS_SERVER: &str = "/usr/bin/redis-server";

/// Asks the kernel for a free loopback port. Another process may take it before the child
/// binds it; [`ServerProcess`] retries with a new port when that happens.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
    listener
        .local_addr()
        .expect("local_addr of a bound socket")
        .port()
}

/// A fresh, empty directory under the system temp dir, removed on drop.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = std::env::temp_dir().join(format!(
            "sluice-test-{label}-{}-{n}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path).expect("creating a temp dir");
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Whether tests that need the reference server can run: installs it first where the test
/// run can ([`tools::ensure_installed`]), and fails loudly otherwise, unless
/// `SLUICE_SKIP_REDIS=1` asks to skip such tests (then a notice is printed).
pub fn redis_available(test: &str) -> bool {
    reference_available(test, Path::new(REDIS_SERVER))
}

pub(crate) fn reference_available(test: &str, program: &Path) -> bool {
    if std::env::var("SLUICE_SKIP_REDIS").is_ok_and(|v| v == "1") && !program.exists() {
        eprintln!(
            "NOTICE: {test} skipped: {} is not installed (SLUICE_SKIP_REDIS=1)",
            program.display()
        );
        return false;
    }
    if let Err(why) = tools::ensure_installed() {
        panic!("{test}: {why} (or set SLUICE_SKIP_REDIS=1 to skip the tests that need it)");
    }
    assert!(
        program.exists(),
        "{test}: {} is still missing",
        program.display()
    );
    true
}

/// Newer releases than Debian's, for interop tests: Redis 8.6.3 and Valkey 9.1.2, built
/// from their release tarballs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    Redis86,
    Valkey91,
}

/// The anchor's server binary, looked up under `$SLUICE_ANCHORS_DIR` (default: `anchors`
/// in the checkout's parent directory, where the development machines keep them). `None`,
/// after a notice naming the test, when it is not there: such tests skip.
pub fn anchor(which: Anchor, test: &str) -> Option<PathBuf> {
    let root = std::env::var_os("SLUICE_ANCHORS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/anchors"));
    let path = match which {
        Anchor::Redis86 => root.join("redis-8.6.3/bin/redis-server"),
        Anchor::Valkey91 => root.join("valkey-9.1.2/bin/valkey-server"),
    };
    if path.exists() {
        Some(path)
    } else {
        eprintln!(
            "NOTICE: {test} SKIPPED: anchor {which:?} not found at {} (set SLUICE_ANCHORS_DIR)",
            path.display()
        );
        None
    }
}

/// Like [`redis_available`] for a tool from redis-tools (redis-cli, redis-benchmark).
pub fn tool_available(tool: &str, test: &str) -> Option<PathBuf> {
    let path = Path::new("/usr/bin").join(tool);
    reference_available(test, &path).then_some(path)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sluice,
    Redis,
}

/// A server child process on its own port and temp dir; killed and reaped on drop.
pub struct ServerProcess {
    pub kind: Kind,
    pub port: u16,
    child: Child,
    dir: TempDir,
    log: PathBuf,
    /// What started it, to start it again on the same port and dir.
    extra: Vec<String>,
    config: Option<PathBuf>,
    /// The Redis-like binary when it is not Debian's redis-server (an anchor release).
    program: Option<PathBuf>,
}

impl ServerProcess {
    /// `sluice --port P --save '' --bind 127.0.0.1 <extra>`.
    pub fn sluice(extra: &[&str]) -> ServerProcess {
        Self::start(Kind::Sluice, extra, None)
    }

    /// `sluice <config> --port P --bind 127.0.0.1 <extra>` (no `--save`: the file decides).
    pub fn sluice_with_config(config: &Path, extra: &[&str]) -> ServerProcess {
        Self::start(Kind::Sluice, extra, Some(config))
    }

    /// `redis-server --port P --save '' --appendonly no --daemonize no --bind 127.0.0.1`.
    pub fn redis(extra: &[&str]) -> ServerProcess {
        Self::start(Kind::Redis, extra, None)
    }

    /// An anchor release's server (see [`anchor`]) started as [`ServerProcess::redis`] is.
    pub fn anchor(program: &Path, extra: &[&str]) -> ServerProcess {
        Self::start_program(Kind::Redis, extra, None, Some(program))
    }

    fn start(kind: Kind, extra: &[&str], config: Option<&Path>) -> ServerProcess {
        if kind == Kind::Redis
            && let Err(why) = tools::ensure_installed()
        {
            panic!("{why}");
        }
        Self::start_program(kind, extra, config, None)
    }

    fn start_program(
        kind: Kind,
        extra: &[&str],
        config: Option<&Path>,
        program: Option<&Path>,
    ) -> ServerProcess {
        let mut last_error = String::new();
        for _ in 0..START_ATTEMPTS {
            match Self::try_start(kind, extra, config, program) {
                Ok(server) => return server,
                Err(e) => last_error = e,
            }
        }
        panic!("could not start {kind:?} after {START_ATTEMPTS} attempts: {last_error}");
    }

    fn try_start(
        kind: Kind,
        extra: &[&str],
        config: Option<&Path>,
        program: Option<&Path>,
    ) -> Result<ServerProcess, String> {
        let port = free_port();
        let dir = TempDir::new(match kind {
            Kind::Sluice => "sluice",
            Kind::Redis => "redis",
        });
        let log = dir.path().join("server.log");
        let child = Self::spawn(kind, program, port, dir.path(), &log, extra, config)?;
        let mut server = ServerProcess {
            kind,
            port,
            child,
            dir,
            log,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            config: config.map(Path::to_path_buf),
            program: program.map(Path::to_path_buf),
        };
        server.wait_ready(false)?;
        Ok(server)
    }

    fn spawn<A: AsRef<std::ffi::OsStr>>(
        kind: Kind,
        program: Option<&Path>,
        port: u16,
        dir: &Path,
        log: &Path,
        extra: &[A],
        config: Option<&Path>,
    ) -> Result<Child, String> {
        // Appended to: a restarted server's log follows its previous life's.
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| e.to_string())?;
        let log_err = log_file.try_clone().map_err(|e| e.to_string())?;
        let port_text = port.to_string();
        let mut command = match kind {
            Kind::Sluice => {
                let mut c = Command::new(env!("CARGO_BIN_EXE_sluice"));
                match config {
                    // The file's own `save` lines are under test there.
                    Some(config) => {
                        c.arg(config)
                            .args(["--port", &port_text, "--bind", "127.0.0.1"]);
                    }
                    None => {
                        c.args(["--port", &port_text, "--save", "", "--bind", "127.0.0.1"]);
                    }
                }
                c
            }
            Kind::Redis => {
                let mut c = Command::new(program.unwrap_or(Path::new(REDIS_SERVER)));
                c.args([
                    "--port",
                    &port_text,
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--daemonize",
                    "no",
                    "--bind",
                    "127.0.0.1",
                ]);
                c
            }
        };
        command
            .args(extra)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_err);
        command
            .spawn()
            .map_err(|e| format!("spawning {kind:?}: {e}"))
    }

    /// SIGKILL, and waits for the process to be gone.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SHUTDOWN (with its final save if configured), and waits for the exit.
    pub fn shutdown(&mut self) {
        if let Ok(mut client) = Client::try_connect(self.port) {
            let _ = client.send(&["SHUTDOWN"]);
        }
        assert!(
            self.exited_within(START_TIMEOUT * 3),
            "{:?} on port {} did not exit after SHUTDOWN; log:\n{}",
            self.kind,
            self.port,
            self.log_text()
        );
    }

    /// Starts the server again with the same arguments, port and dir (after kill9 or
    /// shutdown), waiting until it answers PING.
    pub fn restart(&mut self) {
        self.restart_with(&[]);
    }

    /// [`ServerProcess::restart`] with more arguments appended.
    pub fn restart_with(&mut self, more: &[&str]) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut args = self.extra.clone();
        args.extend(more.iter().map(|s| s.to_string()));
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            // The port may be in TIME_WAIT for a moment after the kill.
            let spawned = Self::spawn(
                self.kind,
                self.program.as_deref(),
                self.port,
                self.dir.path(),
                &self.log,
                &args,
                self.config.as_deref(),
            );
            match spawned {
                Ok(child) => self.child = child,
                Err(e) => panic!("restarting {:?}: {e}", self.kind),
            }
            match self.wait_ready(true) {
                Ok(()) => return,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => panic!("restarting {:?} on port {}: {e}", self.kind, self.port),
            }
        }
    }

    /// Waits until the server answers PING (a NOAUTH error counts as alive, and a LOADING
    /// one with `accept_loading`).
    fn wait_ready(&mut self, accept_loading: bool) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "{:?} on port {} exited during start-up ({status}); log:\n{}",
                    self.kind,
                    self.port,
                    self.log_text()
                ));
            }
            if let Ok(mut client) = Client::try_connect(self.port) {
                client.set_timeout(Duration::from_millis(500));
                // -LOADING: alive, still loading its data (a restart replaying its log).
                if let Ok(reply) = client.cmd_raw_io(&["PING"])
                    && (reply.starts_with(b"+PONG")
                        || reply.starts_with(b"-NOAUTH")
                        || (accept_loading && reply.starts_with(b"-LOADING")))
                {
                    return self.confirm_identity(&mut client);
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!(
            "{:?} on port {} did not answer PING within {START_TIMEOUT:?}; log:\n{}",
            self.kind,
            self.port,
            self.log_text()
        ))
    }

    /// Free ports are picked before the server binds, so another test's server can take the
    /// port first: the server that answered must be our own child, or the start is retried.
    fn confirm_identity(&mut self, client: &mut Client) -> Result<(), String> {
        let info = client.cmd_raw_io(&["INFO", "server"]).unwrap_or_default();
        let text = String::from_utf8_lossy(&info);
        let pid = text
            .lines()
            .find_map(|l| l.strip_prefix("process_id:"))
            .and_then(|v| v.trim().parse::<u32>().ok());
        let ours = match pid {
            Some(pid) => pid == self.child.id(),
            // Behind requirepass INFO answers NOAUTH; then a live child is the best evidence.
            None => matches!(self.child.try_wait(), Ok(None)),
        };
        if ours {
            Ok(())
        } else {
            Err(format!("port {} is served by another process", self.port))
        }
    }

    pub fn client(&self) -> Client {
        Client::connect(self.port)
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the server wrote to stdout and stderr so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether the process has exited; waits at most `within` for it to do so.
    pub fn exited_within(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a command to completion with a time bound; on timeout the child is killed and the
/// test fails. Returns (exit code, stdout, stderr).
pub fn run_bounded(command: &mut Command, limit: Duration) -> (Option<i32>, String, String) {
    run_bounded_with_stdin(command, Stdio::null(), limit)
}

/// [`run_bounded`] with the given standard input (a file, for example).
pub fn run_bounded_with_stdin(
    command: &mut Command,
    stdin: impl Into<Stdio>,
    limit: Duration,
) -> (Option<i32>, String, String) {
    let mut child = command
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {command:?}: {e}"));
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(mut out) = stdout {
            let _ = out.read_to_string(&mut s);
        }
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(mut err) = stderr {
            let _ = err.read_to_string(&mut s);
        }
        s
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let out = out_reader.join().unwrap_or_default();
    let err = err_reader.join().unwrap_or_default();
    match status {
        Some(s) => (s.code(), out, err),
        None => {
            panic!("{command:?} did not finish within {limit:?}; stdout:\n{out}\nstderr:\n{err}")
        }
    }
}

// ---------------------------------------------------------------------------------------
// RESP values
// ---------------------------------------------------------------------------------------

/// One decoded RESP2/RESP3 reply. Text-like payloads keep their exact bytes so that a value
/// re-encodes to the bytes it was read from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Resp {
    Simple(Vec<u8>),
    Error(Vec<u8>),
    Integer(i64),
    Bulk(Vec<u8>),
    /// `$-1`
    NullBulk,
    /// `*-1`
    NullArray,
    Array(Vec<Resp>),
    /// `_`
    Null,
    /// `,<text>`
    Double(Vec<u8>),
    Bool(bool),
    /// `!<len>`
    BlobError(Vec<u8>),
    /// `=<len>`; the payload includes the `txt:` prefix.
    Verbatim(Vec<u8>),
    /// `(<digits>`
    BigNumber(Vec<u8>),
    Map(Vec<(Resp, Resp)>),
    Set(Vec<Resp>),
    Push(Vec<Resp>),
    /// `|` attributes and the reply they annotate.
    Attribute(Vec<(Resp, Resp)>, Box<Resp>),
}

impl Resp {
    pub fn bulk(text: &str) -> Resp {
        Resp::Bulk(text.as_bytes().to_vec())
    }

    pub fn simple(text: &str) -> Resp {
        Resp::Simple(text.as_bytes().to_vec())
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Resp::Error(_) | Resp::BlobError(_))
    }

    /// The text of a simple string, bulk, verbatim (without its `txt:`) or error.
    pub fn text(&self) -> Option<String> {
        match self {
            Resp::Simple(b) | Resp::Error(b) | Resp::Bulk(b) | Resp::BlobError(b) => {
                Some(String::from_utf8_lossy(b).into_owned())
            }
            Resp::Verbatim(b) => {
                Some(String::from_utf8_lossy(b.get(4..).unwrap_or(b)).into_owned())
            }
            _ => None,
        }
    }

    pub fn int(&self) -> Option<i64> {
        match self {
            Resp::Integer(v) => Some(*v),
            _ => None,
        }
    }

    /// Elements of an array, set or push (or a map flattened).
    pub fn items(&self) -> Option<Vec<Resp>> {
        match self {
            Resp::Array(v) | Resp::Set(v) | Resp::Push(v) => Some(v.clone()),
            Resp::Map(pairs) => Some(
                pairs
                    .iter()
                    .flat_map(|(k, v)| [k.clone(), v.clone()])
                    .collect(),
            ),
            _ => None,
        }
    }

    /// One-letter RESP type marker (`$`, `*`, `%`, ...), used by shape comparisons.
    pub fn type_marker(&self) -> &'static str {
        match self {
            Resp::Simple(_) => "+",
            Resp::Error(_) => "-",
            Resp::Integer(_) => ":",
            Resp::Bulk(_) => "$",
            Resp::NullBulk => "$-1",
            Resp::NullArray => "*-1",
            Resp::Array(_) => "*",
            Resp::Null => "_",
            Resp::Double(_) => ",",
            Resp::Bool(_) => "#",
            Resp::BlobError(_) => "!",
            Resp::Verbatim(_) => "=",
            Resp::BigNumber(_) => "(",
            Resp::Map(_) => "%",
            Resp::Set(_) => "~",
            Resp::Push(_) => ">",
            Resp::Attribute(..) => "|",
        }
    }

    /// Number of elements of an aggregate (pairs for a map), None for scalars.
    pub fn len(&self) -> Option<usize> {
        match self {
            Resp::Array(v) | Resp::Set(v) | Resp::Push(v) => Some(v.len()),
            Resp::Map(v) => Some(v.len()),
            Resp::Attribute(_, inner) => inner.len(),
            _ => None,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        fn line(out: &mut Vec<u8>, marker: u8, body: &[u8]) {
            out.push(marker);
            out.extend_from_slice(body);
            out.extend_from_slice(b"\r\n");
        }
        fn blob(out: &mut Vec<u8>, marker: u8, body: &[u8]) {
            line(out, marker, body.len().to_string().as_bytes());
            out.extend_from_slice(body);
            out.extend_from_slice(b"\r\n");
        }
        fn items(out: &mut Vec<u8>, marker: u8, items: &[Resp]) {
            line(out, marker, items.len().to_string().as_bytes());
            for item in items {
                item.encode_into(out);
            }
        }
        fn pairs(out: &mut Vec<u8>, marker: u8, pairs: &[(Resp, Resp)]) {
            line(out, marker, pairs.len().to_string().as_bytes());
            for (k, v) in pairs {
                k.encode_into(out);
                v.encode_into(out);
            }
        }
        match self {
            Resp::Simple(s) => line(out, b'+', s),
            Resp::Error(s) => line(out, b'-', s),
            Resp::Integer(v) => line(out, b':', v.to_string().as_bytes()),
            Resp::Bulk(b) => blob(out, b'$', b),
            Resp::NullBulk => out.extend_from_slice(b"$-1\r\n"),
            Resp::NullArray => out.extend_from_slice(b"*-1\r\n"),
            Resp::Array(v) => items(out, b'*', v),
            Resp::Null => out.extend_from_slice(b"_\r\n"),
            Resp::Double(t) => line(out, b',', t),
            Resp::Bool(v) => out.extend_from_slice(if *v { b"#t\r\n" } else { b"#f\r\n" }),
            Resp::BlobError(b) => blob(out, b'!', b),
            Resp::Verbatim(b) => blob(out, b'=', b),
            Resp::BigNumber(t) => line(out, b'(', t),
            Resp::Map(p) => pairs(out, b'%', p),
            Resp::Set(v) => items(out, b'~', v),
            Resp::Push(v) => items(out, b'>', v),
            Resp::Attribute(p, inner) => {
                pairs(out, b'|', p);
                inner.encode_into(out);
            }
        }
    }
}

/// Parses one complete reply from the front of `buf`: `Ok(None)` when more bytes are needed,
/// otherwise the value and how many bytes it took.
pub fn parse_reply(buf: &[u8]) -> Result<Option<(Resp, usize)>, String> {
    let mut pos = 0;
    match parse_at(buf, &mut pos)? {
        Some(value) => Ok(Some((value, pos))),
        None => Ok(None),
    }
}

fn read_line<'a>(buf: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let start = *pos;
    let rel = buf.get(start..)?.windows(2).position(|w| w == b"\r\n")?;
    *pos = start + rel + 2;
    Some(&buf[start..start + rel])
}

fn parse_int(text: &[u8]) -> Result<i64, String> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad integer {:?}", escape(text)))
}

fn parse_at(buf: &[u8], pos: &mut usize) -> Result<Option<Resp>, String> {
    let Some(&marker) = buf.get(*pos) else {
        return Ok(None);
    };
    *pos += 1;
    let Some(line) = read_line(buf, pos) else {
        return Ok(None);
    };
    let line = line.to_vec();
    let blob = |pos: &mut usize| -> Result<Option<Vec<u8>>, String> {
        let len = parse_int(&line)?;
        let len = usize::try_from(len).map_err(|_| format!("bad length {len}"))?;
        let start = *pos;
        if buf.len() < start + len + 2 {
            return Ok(None);
        }
        if &buf[start + len..start + len + 2] != b"\r\n" {
            return Err("blob not followed by CRLF".into());
        }
        *pos = start + len + 2;
        Ok(Some(buf[start..start + len].to_vec()))
    };
    let value = match marker {
        b'+' => Resp::Simple(line),
        b'-' => Resp::Error(line),
        b':' => Resp::Integer(parse_int(&line)?),
        b'_' => Resp::Null,
        b',' => Resp::Double(line),
        b'(' => Resp::BigNumber(line),
        b'#' => match line.as_slice() {
            b"t" => Resp::Bool(true),
            b"f" => Resp::Bool(false),
            other => return Err(format!("bad boolean {:?}", escape(other))),
        },
        b'$' if line == b"-1" => Resp::NullBulk,
        b'$' => match blob(pos)? {
            Some(b) => Resp::Bulk(b),
            None => return Ok(None),
        },
        b'!' => match blob(pos)? {
            Some(b) => Resp::BlobError(b),
            None => return Ok(None),
        },
        b'=' => match blob(pos)? {
            Some(b) => Resp::Verbatim(b),
            None => return Ok(None),
        },
        b'*' if line == b"-1" => Resp::NullArray,
        b'*' | b'~' | b'>' => {
            let n = parse_int(&line)?;
            let mut items = Vec::new();
            for _ in 0..n {
                match parse_at(buf, pos)? {
                    Some(v) => items.push(v),
                    None => return Ok(None),
                }
            }
            match marker {
                b'*' => Resp::Array(items),
                b'~' => Resp::Set(items),
                _ => Resp::Push(items),
            }
        }
        b'%' | b'|' => {
            let n = parse_int(&line)?;
            let mut pairs = Vec::new();
            for _ in 0..n {
                let Some(k) = parse_at(buf, pos)? else {
                    return Ok(None);
                };
                let Some(v) = parse_at(buf, pos)? else {
                    return Ok(None);
                };
                pairs.push((k, v));
            }
            if marker == b'%' {
                Resp::Map(pairs)
            } else {
                let Some(inner) = parse_at(buf, pos)? else {
                    return Ok(None);
                };
                Resp::Attribute(pairs, Box::new(inner))
            }
        }
        other => {
            return Err(format!("unknown RESP type byte {:?}", escape(&[other])));
        }
    };
    Ok(Some(value))
}

/// A command for a failure message; built only then, since escaping every argument of
/// every command (100 KB MSETs included) was a quarter of some tests' CPU time.
fn printable<A: AsRef<[u8]>>(args: &[A]) -> String {
    let escaped: Vec<String> = args.iter().map(|a| escape(a.as_ref())).collect();
    format!("{escaped:?}")
}

/// Shows bytes the way redis-cli's `--no-raw` would: printable ASCII as is, the rest escaped.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    for &b in bytes {
        match b {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

/// Encodes argv as a RESP multibulk request.
pub fn encode_command<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        let arg = arg.as_ref();
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

// ---------------------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------------------

/// A blocking RESP client that reads exactly one reply at a time.
pub struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
    timeout: Duration,
}

impl Client {
    pub fn try_connect(port: u16) -> io::Result<Client> {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(READ_TIMEOUT))?;
        stream.set_write_timeout(Some(READ_TIMEOUT))?;
        Ok(Client {
            stream,
            buf: Vec::new(),
            timeout: READ_TIMEOUT,
        })
    }

    pub fn connect(port: u16) -> Client {
        Client::try_connect(port).unwrap_or_else(|e| panic!("connecting to 127.0.0.1:{port}: {e}"))
    }

    /// Read timeout for each wait on the socket.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
        let _ = self.stream.set_read_timeout(Some(timeout));
    }

    pub fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    pub fn send<A: AsRef<[u8]>>(&mut self, args: &[A]) -> io::Result<()> {
        self.stream.write_all(&encode_command(args))
    }

    /// Reads one complete reply and returns its exact bytes.
    pub fn read_raw(&mut self) -> io::Result<Vec<u8>> {
        loop {
            match parse_reply(&self.buf) {
                Ok(Some((_, used))) => {
                    let raw = self.buf[..used].to_vec();
                    self.buf.drain(..used);
                    return Ok(raw);
                }
                Ok(None) => {}
                Err(e) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{e} in {:?}", escape(&self.buf)),
                    ));
                }
            }
            self.fill()?;
        }
    }

    /// Reads one complete reply, decoded.
    pub fn read(&mut self) -> io::Result<Resp> {
        let raw = self.read_raw()?;
        match parse_reply(&raw) {
            Ok(Some((value, _))) => Ok(value),
            _ => Err(io::Error::new(io::ErrorKind::InvalidData, "reply vanished")),
        }
    }

    fn fill(&mut self) -> io::Result<()> {
        let mut chunk = [0u8; 64 * 1024];
        let n = self.stream.read(&mut chunk)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("connection closed; unparsed: {:?}", escape(&self.buf)),
            ));
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    pub fn cmd_raw_io<A: AsRef<[u8]>>(&mut self, args: &[A]) -> io::Result<Vec<u8>> {
        self.send(args)?;
        self.read_raw()
    }

    /// Sends a command and returns the reply's bytes; panics on I/O errors.
    pub fn cmd_raw<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Vec<u8> {
        self.cmd_raw_io(args)
            .unwrap_or_else(|e| panic!("command {}: {e}", printable(args)))
    }

    /// Sends a command and returns the decoded reply; panics on I/O errors.
    pub fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Resp {
        self.send(args)
            .and_then(|_| self.read())
            .unwrap_or_else(|e| panic!("command {}: {e}", printable(args)))
    }

    /// Sends a command, reads the reply and returns its text (simple, bulk or error).
    pub fn cmd_text<A: AsRef<[u8]>>(&mut self, args: &[A]) -> String {
        let reply = self.cmd(args);
        reply
            .text()
            .unwrap_or_else(|| String::from_utf8_lossy(&reply.encode()).into_owned())
    }

    /// Everything that arrives within `wait` (buffered bytes included), without parsing.
    pub fn drain(&mut self, wait: Duration) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.buf);
        let deadline = Instant::now() + wait;
        let mut chunk = [0u8; 64 * 1024];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let _ = self.stream.set_read_timeout(Some(left));
            match self.stream.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&chunk[..n]),
                Err(_) => break,
            }
        }
        let _ = self.stream.set_read_timeout(Some(self.timeout));
        out
    }

    /// True if the server closed the connection within `wait` (bytes before the close are
    /// discarded).
    pub fn closed_within(&mut self, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        let mut chunk = [0u8; 64 * 1024];
        let closed = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break false;
            }
            let _ = self.stream.set_read_timeout(Some(left));
            match self.stream.read(&mut chunk) {
                Ok(0) => break true,
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break true,
                Err(_) => break false,
            }
        };
        let _ = self.stream.set_read_timeout(Some(self.timeout));
        closed
    }

    /// A second handle on the socket, e.g. for a writer thread.
    pub fn try_clone_stream(&self) -> TcpStream {
        self.stream.try_clone().expect("cloning a TcpStream")
    }

    pub fn shutdown_write(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }
}

/// Value of one `field:value` line of an INFO reply.
pub fn info_field(info: &str, field: &str) -> Option<String> {
    info.lines().find_map(|line| {
        line.strip_prefix(field)
            .and_then(|rest| rest.strip_prefix(':'))
            .map(|v| v.trim().to_string())
    })
}

/// A command's words as bytes, for [`pipeline`].
pub fn cmd(words: &[&str]) -> Vec<Vec<u8>> {
    words.iter().map(|w| w.as_bytes().to_vec()).collect()
}

/// Sends commands in batches of 500 and reads every reply; fails on an error reply.
pub fn pipeline<A: AsRef<[u8]>>(client: &mut Client, commands: &[Vec<A>]) {
    for batch in commands.chunks(500) {
        let mut bytes = Vec::new();
        for command in batch {
            bytes.extend_from_slice(&encode_command(command));
        }
        client.send_raw(&bytes).expect("sending a pipeline");
        for command in batch {
            let reply = client.read().expect("reading a pipelined reply");
            assert!(
                !reply.is_error(),
                "{:?} failed: {:?}",
                String::from_utf8_lossy(command.first().map_or(&b""[..], |c| c.as_ref())),
                reply
            );
        }
    }
}

/// Sends a signal (`-STOP`, `-CONT`, `-9`) to a process. For `-STOP`, returns once the
/// process is stopped: the signal is only queued when `kill` returns, and a test that acts
/// next (kills the process's connections) must not race a process still running.
pub fn signal(pid: u32, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("running kill");
    assert!(status.success(), "kill {sig} {pid}");
    if sig == "-STOP" {
        let stat = format!("/proc/{pid}/stat");
        let deadline = Instant::now() + Duration::from_secs(10);
        // The state follows the command name, which is in parentheses.
        let stopped = || {
            std::fs::read_to_string(&stat).is_ok_and(|text| {
                text.rsplit_once(") ")
                    .is_some_and(|(_, rest)| rest.starts_with('T') || rest.starts_with('t'))
            })
        };
        while !stopped() {
            assert!(
                Instant::now() < deadline,
                "process {pid} did not stop within 10 s of SIGSTOP"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// Sends SIGCONT on drop, so that a failing test never leaves a stopped process behind.
pub struct Resume(pub u32);

impl Drop for Resume {
    fn drop(&mut self) {
        // The process may be gone already (killed on purpose).
        let _ = Command::new("kill")
            .args(["-CONT", &self.0.to_string()])
            .status();
    }
}
