//! The one owner of what enters the replication log. Everything a write hands to replicas
//! comes through here, and where the commands came from ([`Source`]) decides what the log
//! takes of them:
//! - our clients' writes on a master: their effects (relative expiries made absolute,
//!   blocking pops made plain, an expired key's deletion before the command that found it),
//!   with EXEC wrapping a transaction's;
//! - our master's stream on a replica: its exact bytes at their offsets ([`State::proxy`]),
//!   never effects computed here, so that our replicas see the stream our master sent;
//! - our own log replayed at start-up: nothing, it is in the log already;
//! - the server itself: the PINGs and GETACKs a master sends its replicas
//!   ([`State::propagate_own`]).
//!
//! A replica's own writes (a writable replica's clients, pops it serves) stay local, as in
//! Redis.

use bytes::Bytes;

use super::State;
use crate::log::Effect;

/// Where the commands a session runs come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Source {
    /// A client of ours.
    #[default]
    Client,
    /// Our master's command stream.
    MasterLink,
    /// Our durable log, replayed at start-up.
    Replay,
}

impl Source {
    /// Commands of a master's history (its stream, or our copy of it being replayed): they
    /// are applied whatever our own limits and refusals say, and expire nothing here.
    pub fn from_master(self) -> bool {
        self != Source::Client
    }
}

/// What one command that ran produced for the log.
#[derive(Debug)]
pub struct CommandEffects<'a> {
    pub db: usize,
    /// The command as the client sent it.
    pub argv: &'a [Bytes],
    /// Its bytes as received, when they are the canonical encoding of `argv`: logged as they
    /// are, without encoding `argv` again.
    pub frame: Option<Bytes>,
    /// The command changed data and is propagated itself (as `rewritten`, if set).
    pub propagate_own: bool,
    pub rewritten: Option<Vec<Bytes>>,
    /// Effects it propagates instead of or beside itself (a served pop's LPOP, ...).
    pub also: Vec<Effect>,
    /// It runs inside EXEC: its effects are gathered for the transaction's block.
    pub nested: bool,
}

impl State {
    /// Queues an effect for the log ahead of the running command's own: an expired key's
    /// deletion, found by a command or by the active expiry cycle.
    pub fn queue_effect(&mut self, effect: Effect) {
        self.effects.push(effect);
    }

    /// How many effects are queued (where a transaction's begin).
    pub fn queued_effects(&self) -> usize {
        self.effects.len()
    }

    /// Hands queued effects to the log.
    pub fn log_effects(&mut self) {
        if self.effects.is_empty() {
            return;
        }
        if self.repl.is_replica() {
            // A replica's log is its master's stream byte for byte; its own effects stay
            // local.
            self.effects.clear();
            return;
        }
        self.repl.log.append_effects(self.effects.iter());
        self.effects.clear();
    }

    /// The effects of one command `source` ran.
    pub fn propagate_command(&mut self, source: Source, command: CommandEffects<'_>) {
        if source.from_master() {
            // The log takes our master's own bytes (`proxy`): effects here would only be
            // gathered to be dropped, an argv copy per applied write.
            return;
        }
        let CommandEffects {
            db,
            argv,
            frame,
            propagate_own,
            rewritten,
            also,
            nested,
        } = command;
        if nested {
            // EXEC wraps what its commands produce: gathered, not logged yet.
            if propagate_own {
                self.effects.push(Effect {
                    db,
                    argv: rewritten.unwrap_or_else(|| argv.to_vec()),
                });
            }
            self.effects.extend(also);
            return;
        }
        if !propagate_own && also.is_empty() && self.effects.is_empty() {
            return;
        }
        // Deletions of keys the command found expired were queued during it and go first;
        // the command's own effect goes straight into the log without copying argv.
        self.log_effects();
        if propagate_own && !self.repl.is_replica() {
            match (rewritten.as_deref(), frame) {
                (Some(effect), _) => self.repl.log.append_argv(db, effect),
                (None, Some(frame)) => self.repl.log.append_encoded(db, &frame),
                (None, None) => self.repl.log.append_argv(db, argv),
            }
        }
        self.effects.extend(also);
        self.log_effects();
    }

    /// Wraps the effects gathered since `first` (a transaction's) in MULTI … EXEC, so that
    /// replicas apply them atomically too. `start_db` and `end_db` are the selected db
    /// before and after the transaction.
    pub fn wrap_transaction(&mut self, first: usize, start_db: usize, end_db: usize) {
        if self.effects.len() <= first {
            return;
        }
        self.effects.insert(
            first,
            Effect {
                db: start_db,
                argv: vec![Bytes::from_static(b"MULTI")],
            },
        );
        self.effects.push(Effect {
            db: end_db,
            argv: vec![Bytes::from_static(b"EXEC")],
        });
    }

    /// Forgets the effects queued after the first `kept` (a script's writes that
    /// `redis.set_repl` keeps from replicas).
    pub fn drop_effects_after(&mut self, kept: usize) {
        self.effects.truncate(kept);
    }

    /// Wraps the effects gathered since `first` (a script's) in MULTI … EXEC when there are
    /// several, as Redis 7.0 does: one effect is atomic by itself. MULTI and EXEC take the
    /// dbs of the first and last effects, so that no SELECT comes between.
    pub fn wrap_if_several(&mut self, first: usize) {
        let (Some(start), Some(end)) = (self.effects.get(first), self.effects.last()) else {
            return;
        };
        if self.effects.len() < first + 2 {
            return;
        }
        let (start_db, end_db) = (start.db, end.db);
        self.wrap_transaction(first, start_db, end_db);
    }

    /// The end of one request of `source`: what is still queued reaches the log, or, for a
    /// master's commands, is dropped (their bytes are logged by [`State::proxy`]).
    pub fn finish_request(&mut self, source: Source) {
        if source.from_master() {
            self.effects.clear();
        } else {
            self.log_effects();
        }
    }

    /// Our master's stream, exactly as received: a replica's log is its master's stream at
    /// the same offsets. `db_after` is the db selected at its end, if known.
    pub fn proxy(&mut self, raw: &[u8], db_after: Option<u32>) {
        self.repl.log.append_raw(raw, db_after);
    }

    /// The server's own entries of the stream (PING, REPLCONF GETACK), after anything
    /// queued; they select no db.
    pub fn propagate_own(&mut self, argv: &[&[u8]]) {
        self.log_effects();
        self.repl.log.append_dbless(argv);
    }
}
