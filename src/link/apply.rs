//! Applying our master's command stream: parse it (outside the lock), execute each command as
//! the master link, and append the master's exact bytes to our own log so that replicas of
//! ours see the same stream at the same offsets.
//!
//! The replica offset is our log's end: the master's offset at the full sync plus the bytes
//! of every command processed since. A MULTI block is held back until its EXEC, so that a
//! link cut inside a transaction leaves the offset before the MULTI (the master resends it),
//! as Redis does.

use bytes::{Bytes, BytesMut};
use thiserror::Error;

use crate::cmd::dispatch;
use crate::log::repl_log::encode_command;
use crate::resp::Reply;
use crate::resp::parse::{ParseLimits, ProtocolError, RequestParser};
use crate::server::propagate::Source;
use crate::server::{Server, Session, State};

/// Commands executed per lock acquisition at most.
pub const BATCH_COMMANDS_MAX: usize = 1024;

/// Errors logged before further ones of the same link are only counted.
const ERRORS_LOGGED_MAX: u64 = 10;

/// One request of the master's stream with its exact bytes.
#[derive(Debug, Clone)]
pub struct Request {
    pub argv: Vec<Bytes>,
    pub raw: Bytes,
}

#[derive(Debug, Error, PartialEq)]
pub enum ApplyError {
    #[error("protocol error in the master's stream: {0}")]
    Protocol(#[from] ProtocolError),
    #[error(
        "request of {consumed} bytes from the master is not in canonical RESP form; its exact bytes cannot be kept"
    )]
    NotCanonical { consumed: usize },
    /// A command this server does not implement: applying the rest would diverge.
    #[error(
        "the master sent '{command}', which sluice cannot apply ({reply}); the link is stopped, the command is never skipped"
    )]
    Unimplemented { command: String, reply: String },
    #[error("the master's '{command}' failed here ({reply}); the link is stopped")]
    Fatal { command: String, reply: String },
    /// REPLICAOF changed the configuration: this link's commands must not be applied.
    #[error("replication configuration changed")]
    Stale,
}

/// What a batch did that the link must act on.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    pub commands: usize,
    /// `REPLCONF GETACK` was received: answer with these offsets, in order.
    pub acks: Vec<u64>,
}

/// The master link's execution state, kept across batches and reconnections of one link.
pub struct StreamApplier {
    parser: RequestParser,
    pub session: Session,
    /// Whether `session.db` is what the master's stream has selected (unknown after a full
    /// sync without `repl-stream-db`, until the master's first SELECT).
    db_known: bool,
    /// Bytes of a MULTI block not closed yet.
    transaction: BytesMut,
    scratch: BytesMut,
    errors: u64,
}

impl StreamApplier {
    /// `db` is the db the master's stream has selected at our current offset, if known.
    pub fn new(client_id: u64, db: Option<u32>) -> StreamApplier {
        let mut session = Session::new(client_id, true);
        session.source = Source::MasterLink;
        session.db = db.map_or(0, |d| d as usize);
        StreamApplier {
            parser: RequestParser::default(),
            session,
            db_known: db.is_some(),
            transaction: BytesMut::new(),
            scratch: BytesMut::new(),
            errors: 0,
        }
    }

    /// An applier for start-up replay of our own log: it executes like a master link but
    /// appends nothing to the log.
    pub fn for_replay(db: Option<u32>) -> StreamApplier {
        let mut applier = StreamApplier::new(0, db);
        applier.session.source = Source::Replay;
        applier
    }

    /// The db the stream has selected after what was applied, if known.
    pub fn stream_db(&self) -> Option<u32> {
        self.db_known
            .then(|| crate::log::db_number(self.session.db))
    }

    /// Replay: executes requests under the caller's lock without touching the log. Returns
    /// how many executed; on an error, those before the failing one stay applied.
    pub fn execute_replay(
        &mut self,
        server: &Server,
        state: &mut State,
        requests: &[Request],
    ) -> Result<usize, (usize, ApplyError)> {
        let mut outcome = BatchOutcome::default();
        for (done, request) in requests.iter().enumerate() {
            self.execute_one(server, state, request, &mut outcome)
                .map_err(|e| (done, e))?;
        }
        Ok(requests.len())
    }

    /// Errors the master's commands produced here so far.
    pub fn error_count(&self) -> u64 {
        self.errors
    }

    /// Takes complete requests off the front of `input`, at most `max` of them.
    pub fn parse_batch(
        &mut self,
        input: &mut BytesMut,
        max: usize,
    ) -> Result<Vec<Request>, ApplyError> {
        // The master is trusted for sizes; it only forwards what it accepted itself.
        let limits = ParseLimits {
            bulk_len_max: u32::MAX as usize,
            authenticated: true,
            ..ParseLimits::default()
        };
        let mut parsed = Vec::new();
        // Every request's exact bytes go into one buffer, sliced once the batch is parsed:
        // one allocation per batch instead of one per command.
        self.scratch.clear();
        while parsed.len() < max && !input.is_empty() {
            let start = self.scratch.len();
            if input[0] != b'*'
                && let Some(end) = input.iter().position(|&b| b == b'\n')
            {
                self.scratch.extend_from_slice(&input[..=end]);
            }
            let inline = self.scratch.len() > start;
            let before = input.len();
            let Some(argv) = self.parser.parse(input, &limits)? else {
                self.scratch.truncate(start);
                break;
            };
            let consumed = before - input.len();
            if !inline {
                encode_command(&mut self.scratch, &argv);
            }
            if self.scratch.len() - start != consumed {
                return Err(ApplyError::NotCanonical { consumed });
            }
            parsed.push((argv, start..self.scratch.len()));
        }
        let raw = self.scratch.split().freeze();
        Ok(parsed
            .into_iter()
            .map(|(argv, range)| Request {
                argv,
                raw: raw.slice(range),
            })
            .collect())
    }

    /// Executes a batch under the lock the caller holds, appends what was applied to our
    /// log and seals it. On an error the commands before the failing one stay applied.
    pub fn execute_batch(
        &mut self,
        server: &Server,
        state: &mut State,
        epoch: u64,
        requests: &[Request],
    ) -> Result<BatchOutcome, ApplyError> {
        if state.repl.master_epoch != epoch || state.repl.master.is_none() {
            return Err(ApplyError::Stale);
        }
        let mut outcome = BatchOutcome::default();
        let mut result = Ok(());
        // As for a client's pipelined batch: one clock read per command, and the batch's
        // keys looked up together first so that their cache misses overlap.
        state.batch_clock = Some(std::time::Instant::now());
        if let Some(keyspace) = state.dbs.get(self.session.db) {
            keyspace.warm(
                requests
                    .iter()
                    .filter_map(|request| request.argv.get(1).map(|key| key.as_ref())),
            );
        }
        for request in requests {
            if let Err(e) = self.execute_one(server, state, request, &mut outcome) {
                result = Err(e);
                break;
            }
            outcome.commands += 1;
        }
        state.batch_clock = None;
        server.seal_log(state);
        crate::server::clients::sync_session(state, &self.session, self.session.last_cmd);
        result.map(|()| outcome)
    }

    fn execute_one(
        &mut self,
        server: &Server,
        state: &mut State,
        request: &Request,
        outcome: &mut BatchOutcome,
    ) -> Result<(), ApplyError> {
        let argv = &request.argv;
        if argv.is_empty() {
            // A blank line or an empty multibulk: nothing to run, but its bytes count.
            self.record(state, &request.raw);
            return Ok(());
        }
        if is_getack(argv) {
            // Redis answers with the offset before the GETACK itself.
            outcome.acks.push(state.repl.log.end_offset());
            self.record(state, &request.raw);
            return Ok(());
        }
        let reply = dispatch::execute(server, state, &mut self.session, argv);
        // A master sends the non-blocking forms of blocking commands; never wait here.
        if self.session.pending_block.take().is_some() {
            state.blocking.unblock(self.session.id);
        }
        if let Some(text) = reply.as_ref().and_then(first_error) {
            self.on_error(argv, &text)?;
        } else if argv[0].eq_ignore_ascii_case(b"select") {
            self.db_known = true;
        }
        self.record(state, &request.raw);
        Ok(())
    }

    fn on_error(&mut self, argv: &[Bytes], text: &str) -> Result<(), ApplyError> {
        let command = String::from_utf8_lossy(&argv[0]).into_owned();
        let is_unimplemented = text.starts_with("ERR unknown command")
            || text.starts_with("ERR unknown subcommand")
            || text.starts_with("EXECABORT");
        if is_unimplemented {
            return Err(ApplyError::Unimplemented {
                command: describe(argv),
                reply: text.to_string(),
            });
        }
        if argv[0].eq_ignore_ascii_case(b"select") {
            // Every write after it would land in the wrong database.
            return Err(ApplyError::Fatal {
                command: describe(argv),
                reply: text.to_string(),
            });
        }
        self.errors += 1;
        if self.errors <= ERRORS_LOGGED_MAX || self.errors.is_power_of_two() {
            tracing::warn!(
                errors = self.errors,
                "== CRITICAL == this replica got an error applying its master's '{command}': {text}"
            );
        }
        Ok(())
    }

    /// Appends a processed request to our log, holding MULTI blocks back until they close.
    fn record(&mut self, state: &mut State, raw: &[u8]) {
        if self.session.source == Source::Replay {
            // Our own log being replayed: the bytes are in it already.
            return;
        }
        let db = self
            .db_known
            .then(|| crate::log::db_number(self.session.db));
        if self.session.multi.is_some() {
            self.transaction.extend_from_slice(raw);
        } else if !self.transaction.is_empty() {
            self.transaction.extend_from_slice(raw);
            state.proxy(&self.transaction, db);
            self.transaction.clear();
        } else {
            state.proxy(raw, db);
        }
    }

    /// Bytes of an unfinished MULTI block (not counted in the offset yet).
    pub fn pending_transaction_bytes(&self) -> usize {
        self.transaction.len()
    }
}

fn is_getack(argv: &[Bytes]) -> bool {
    argv.len() >= 2
        && argv[0].eq_ignore_ascii_case(b"replconf")
        && argv[1].eq_ignore_ascii_case(b"getack")
}

/// The error of a reply, or of the first failed command inside an EXEC's array.
fn first_error(reply: &Reply) -> Option<String> {
    match reply {
        Reply::Error(text) => Some(text.to_string()),
        Reply::Array(items) => items.iter().find_map(|item| match item {
            Reply::Error(text) if text.starts_with("ERR unknown") => Some(text.to_string()),
            _ => None,
        }),
        _ => None,
    }
}

/// A command for messages: its name and first arguments, cut short.
fn describe(argv: &[Bytes]) -> String {
    let mut text = String::new();
    for arg in argv.iter().take(3) {
        if !text.is_empty() {
            text.push(' ');
        }
        let cut = &arg[..arg.len().min(64)];
        text.push_str(&String::from_utf8_lossy(cut));
    }
    if argv.len() > 3 {
        text.push_str(" ...");
    }
    text
}

/// `REPLCONF ACK <offset>` as sent to the master.
pub fn ack_command(offset: u64) -> Vec<u8> {
    let mut out = BytesMut::new();
    let mut digits = itoa::Buffer::new();
    encode_command(
        &mut out,
        &[&b"REPLCONF"[..], b"ACK", digits.format(offset).as_bytes()],
    );
    out.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::server::replication::MasterLink;

    fn server() -> std::sync::Arc<Server> {
        let server = Server::new(Config::default());
        {
            let mut state = server.state.lock();
            state.repl.master = Some(MasterLink::default());
            state.expire_deletes = false;
            state.repl.log.reset(1000);
        }
        server
    }

    fn run(
        server: &Server,
        applier: &mut StreamApplier,
        bytes: &[u8],
    ) -> Result<BatchOutcome, ApplyError> {
        let mut input = BytesMut::from(bytes);
        let requests = applier.parse_batch(&mut input, usize::MAX)?;
        assert!(input.is_empty(), "unparsed: {input:?}");
        let mut state = server.state.lock();
        applier.execute_batch(server, &mut state, 0, &requests)
    }

    #[test]
    fn commands_apply_and_their_bytes_extend_the_log() {
        let server = server();
        let mut applier = StreamApplier::new(99, None);
        let stream = b"*2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*1\r\n$4\r\nPING\r\n";
        let outcome = run(&server, &mut applier, stream).unwrap();
        assert_eq!(outcome.commands, 3);
        let state = server.state.lock();
        assert!(state.dbs[2].get(b"k").is_some());
        assert_eq!(state.repl.log.end_offset(), 1000 + stream.len() as u64);
        assert_eq!(state.repl.log.stream_db(), Some(2));
        let logged: Vec<u8> = state
            .repl
            .log
            .read(1000, usize::MAX)
            .unwrap()
            .iter()
            .flat_map(|b| b.iter().copied())
            .collect();
        assert_eq!(logged, stream);
    }

    #[test]
    fn getack_answers_the_offset_before_it() {
        let server = server();
        let mut applier = StreamApplier::new(99, Some(0));
        let set = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n".to_vec();
        let getack = b"*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n".to_vec();
        let outcome = run(
            &server,
            &mut applier,
            &[set.clone(), getack.clone()].concat(),
        )
        .unwrap();
        assert_eq!(outcome.acks, vec![1000 + set.len() as u64]);
        assert_eq!(
            server.state.lock().repl.log.end_offset(),
            1000 + (set.len() + getack.len()) as u64
        );
    }

    #[test]
    fn a_transaction_counts_only_once_complete() {
        let server = server();
        let mut applier = StreamApplier::new(99, Some(0));
        let multi = b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n";
        run(&server, &mut applier, multi).unwrap();
        assert_eq!(server.state.lock().repl.log.end_offset(), 1000);
        assert!(server.state.lock().dbs[0].get(b"a").is_none());
        let exec = b"*1\r\n$4\r\nEXEC\r\n";
        run(&server, &mut applier, exec).unwrap();
        let state = server.state.lock();
        assert!(state.dbs[0].get(b"a").is_some());
        assert_eq!(
            state.repl.log.end_offset(),
            1000 + (multi.len() + exec.len()) as u64
        );
    }

    #[test]
    fn an_unknown_command_stops_without_counting_it() {
        let server = server();
        let mut applier = StreamApplier::new(99, Some(0));
        let set = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n".to_vec();
        let unknown = b"*2\r\n$7\r\nNOSUCHX\r\n$1\r\nk\r\n".to_vec();
        let err = run(&server, &mut applier, &[set.clone(), unknown].concat()).unwrap_err();
        assert!(matches!(err, ApplyError::Unimplemented { .. }), "{err:?}");
        assert!(err.to_string().contains("NOSUCHX"), "{err}");
        assert_eq!(
            server.state.lock().repl.log.end_offset(),
            1000 + set.len() as u64
        );
    }

    #[test]
    fn inline_requests_keep_their_exact_bytes() {
        let server = server();
        let mut applier = StreamApplier::new(99, Some(0));
        let stream = b"SET  k \"v w\"\r\n\n";
        run(&server, &mut applier, stream).unwrap();
        let state = server.state.lock();
        assert!(
            matches!(&state.dbs[0].get(b"k").unwrap().value, crate::store::Value::Str(v) if v.as_ref() == b"v w")
        );
        assert_eq!(state.repl.log.end_offset(), 1000 + stream.len() as u64);
    }

    #[test]
    fn non_canonical_lengths_are_refused() {
        let mut applier = StreamApplier::new(99, Some(0));
        let mut input = BytesMut::from(&b"*1\r\n$04\r\nPING\r\n"[..]);
        assert_eq!(
            applier.parse_batch(&mut input, 10).unwrap_err(),
            ApplyError::NotCanonical { consumed: 15 }
        );
    }

    #[test]
    fn a_changed_epoch_applies_nothing() {
        let server = server();
        server.state.lock().repl.master_epoch = 7;
        let mut applier = StreamApplier::new(99, Some(0));
        let err = run(&server, &mut applier, b"*1\r\n$4\r\nPING\r\n").unwrap_err();
        assert_eq!(err, ApplyError::Stale);
    }
}
