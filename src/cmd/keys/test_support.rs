//! Runs commands through the dispatcher against an in-memory server and returns what they
//! propagate, for the effect tests of the string and keyspace families.

use std::sync::Arc;

use bytes::Bytes;

use crate::cmd::{dispatch, lookup};
use crate::config::Config;
use crate::resp::Reply;
use crate::server::{Server, Session, State};

pub struct Harness {
    pub server: Arc<Server>,
    pub state: State,
    pub session: Session,
}

fn words(line: &str) -> Vec<Bytes> {
    line.split(' ')
        .map(|w| Bytes::copy_from_slice(w.as_bytes()))
        .collect()
}

impl Harness {
    pub fn new() -> Harness {
        Harness {
            server: Server::new(Config::default()),
            state: State::new(Config::default()),
            session: Session::new(1, true),
        }
    }

    /// Runs one command line (words split on spaces) and returns its reply.
    pub fn run(&mut self, line: &str) -> Reply {
        self.run_argv(words(line))
    }

    /// Runs one command given as its arguments (for binary ones).
    pub fn run_argv(&mut self, argv: Vec<Bytes>) -> Reply {
        let spec = lookup(&argv[0]).expect("known command");
        dispatch::call(
            &self.server,
            &mut self.state,
            &mut self.session,
            spec,
            &argv,
            false,
        )
    }

    /// Runs a command and returns the effects it propagated, each as a space-joined line
    /// prefixed with its db index.
    pub fn effects_of(&mut self, line: &str) -> Vec<String> {
        self.effects_of_argv(words(line))
    }

    /// [`Harness::effects_of`] for a command given as its arguments.
    pub fn effects_of_argv(&mut self, argv: Vec<Bytes>) -> Vec<String> {
        self.state.log_effects();
        let start = self.state.repl.log.mark();
        self.run_argv(argv);
        self.state.log_effects();
        self.state
            .repl
            .log
            .commands_since(start)
            .into_iter()
            .map(|e| {
                let words: Vec<String> = e
                    .argv
                    .iter()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect();
                format!("{} {}", e.db, words.join(" "))
            })
            .collect()
    }

    /// The absolute expiry of `key` in the current db.
    pub fn expire_at(&self, key: &str) -> Option<u64> {
        self.state.dbs[self.session.db]
            .get(key.as_bytes())
            .and_then(|e| e.expire_at_ms)
    }
}
