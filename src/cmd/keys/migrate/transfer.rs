//! MIGRATE's conversation with the target: AUTH and SELECT when needed, one RESTORE per
//! key, one reply line each, every step bounded by the command's timeout. Blocking I/O: the
//! connection runs it off the async runtime, outside the server lock (inside EXEC, under
//! the lock, as Redis blocks for it).

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use bytes::BytesMut;

use crate::log::repl_log::encode_command;
use crate::server::migrate::{MigrateJob, TargetSocket, TargetSockets, TransferOutcome};

/// A reply line longer than this is not a reply to RESTORE (Redis reads into 1 KiB).
const REPLY_LINE_BYTES_MAX: usize = 64 * 1024;

pub const CONNECT_ERROR: &str = "IOERR error or timeout connecting to the client";

#[derive(Debug)]
enum SocketError {
    Writing(std::io::Error),
    Reading(std::io::Error),
}

impl SocketError {
    fn timed_out(&self) -> bool {
        let (SocketError::Writing(e) | SocketError::Reading(e)) = self;
        matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock)
    }

    fn reply(&self) -> String {
        let doing = match self {
            SocketError::Writing(_) => "writing",
            SocketError::Reading(_) => "reading",
        };
        format!("IOERR error or timeout {doing} to target instance")
    }
}

/// Runs the job against its target. A socket that fails before the first RESTORE is
/// answered (a cached socket the target has since closed, typically) is replaced and the
/// job tried once more, unless the failure was a timeout, as Redis does.
pub fn transfer(sockets: &TargetSockets, job: &MigrateJob) -> TransferOutcome {
    let target = format!("{}:{}", job.host, job.port);
    let mut may_retry = true;
    loop {
        let mut socket = match sockets.take(&target) {
            Some(socket) => socket,
            None => match connect(&job.host, job.port, job.timeout) {
                Ok(socket) => socket,
                // Redis connects without blocking and finds a refusal only when it writes.
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
                    if may_retry {
                        may_retry = false;
                        continue;
                    }
                    return TransferOutcome {
                        restored: Vec::new(),
                        error: Some(SocketError::Writing(e).reply()),
                    };
                }
                Err(e) => {
                    tracing::debug!(%target, "MIGRATE could not connect: {e}");
                    return TransferOutcome {
                        restored: Vec::new(),
                        error: Some(CONNECT_ERROR.to_string()),
                    };
                }
            },
        };
        match attempt(&mut socket, job) {
            Attempt::Answered(outcome) => {
                if outcome.error.is_none() {
                    socket.selected_db = Some(job.target_db);
                } else {
                    // After an error the target's database is not known any more.
                    socket.selected_db = None;
                }
                sockets.put(target, socket);
                return outcome;
            }
            Attempt::Failed { outcome, error } => {
                // The socket is dropped: the next MIGRATE connects afresh.
                if outcome.restored.is_empty()
                    && outcome.error.is_none()
                    && may_retry
                    && !error.timed_out()
                {
                    may_retry = false;
                    continue;
                }
                let error_reply = outcome.error.unwrap_or_else(|| error.reply());
                return TransferOutcome {
                    restored: outcome.restored,
                    error: Some(error_reply),
                };
            }
        }
    }
}

enum Attempt {
    /// Every reply was read.
    Answered(TransferOutcome),
    /// The socket failed; `outcome` holds what the replies read before said.
    Failed {
        outcome: TransferOutcome,
        error: SocketError,
    },
}

fn attempt(socket: &mut TargetSocket, job: &MigrateJob) -> Attempt {
    let select = socket.selected_db != Some(job.target_db);
    let mut request = BytesMut::new();
    if let Some((username, password)) = &job.auth {
        match username {
            Some(username) => encode_command(&mut request, &[&b"AUTH"[..], username, password]),
            None => encode_command(&mut request, &[&b"AUTH"[..], password]),
        }
    }
    if select {
        let db = job.target_db.to_string();
        encode_command(&mut request, &[&b"SELECT"[..], db.as_bytes()]);
    }
    request.extend_from_slice(&job.restores);
    let failed = |outcome: TransferOutcome, error: SocketError| Attempt::Failed { outcome, error };
    // A cached socket carries the timeouts of the MIGRATE that opened it.
    let timeouts = socket
        .stream
        .set_read_timeout(Some(job.timeout))
        .and_then(|()| socket.stream.set_write_timeout(Some(job.timeout)));
    if let Err(e) = timeouts.and_then(|()| socket.stream.write_all(&request)) {
        return failed(TransferOutcome::default(), SocketError::Writing(e));
    }
    let mut setup_error = None;
    for expected in [job.auth.is_some(), select] {
        if !expected {
            continue;
        }
        match read_line(socket) {
            Ok(line) => {
                if setup_error.is_none() {
                    setup_error = error_text(&line);
                }
            }
            Err(e) => return failed(TransferOutcome::default(), SocketError::Reading(e)),
        }
    }
    let mut outcome = TransferOutcome::default();
    for index in 0..job.keys.len() {
        let line = match read_line(socket) {
            Ok(line) => line,
            Err(e) => return failed(outcome, SocketError::Reading(e)),
        };
        // A failed AUTH or SELECT fails every RESTORE after it; the first error is the
        // one the client hears.
        match setup_error.clone().or_else(|| error_text(&line)) {
            Some(text) => {
                if outcome.error.is_none() {
                    outcome.error = Some(format!("ERR Target instance replied with error: {text}"));
                }
            }
            None => outcome.restored.push(index),
        }
    }
    Attempt::Answered(outcome)
}

/// The text of an error reply line (without its `-`), None for any other reply.
fn error_text(line: &[u8]) -> Option<String> {
    line.strip_prefix(b"-")
        .map(|text| String::from_utf8_lossy(text).into_owned())
}

fn connect(host: &str, port: u16, timeout: Duration) -> std::io::Result<TargetSocket> {
    let mut last_error = None;
    for addr in (host, port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => {
                stream.set_nodelay(true)?;
                return Ok(TargetSocket::new(stream));
            }
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error
        .unwrap_or_else(|| std::io::Error::new(ErrorKind::NotFound, "no address for the host")))
}

/// Reads one reply line (without its CRLF); what follows stays buffered for the next.
fn read_line(socket: &mut TargetSocket) -> std::io::Result<Vec<u8>> {
    let mut scanned = 0;
    loop {
        if let Some(at) = socket.unread[scanned..].iter().position(|&b| b == b'\n') {
            let end = scanned + at;
            let mut line: Vec<u8> = socket.unread.drain(..=end).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return Ok(line);
        }
        scanned = socket.unread.len();
        if scanned > REPLY_LINE_BYTES_MAX {
            return Err(std::io::Error::new(
                ErrorKind::InvalidData,
                "reply line from the target is too long",
            ));
        }
        let mut chunk = [0u8; 4096];
        let read = socket.stream.read(&mut chunk)?;
        if read == 0 {
            return Err(std::io::Error::new(
                ErrorKind::UnexpectedEof,
                "the target closed the connection",
            ));
        }
        socket.unread.extend_from_slice(&chunk[..read]);
    }
}
