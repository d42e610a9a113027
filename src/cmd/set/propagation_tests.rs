//! What the set and sorted-set commands hand to replication: effects, not commands, as
//! Redis 7.0 propagates them.

use bytes::Bytes;

use crate::cmd::dispatch::call;
use crate::cmd::{Ctx, lookup};
use crate::config::Config;
use crate::resp::Reply;
use crate::server::{Server, Session, State, unix_time_ms};

struct Harness {
    server: std::sync::Arc<Server>,
    state: State,
    session: Session,
    /// Where the log stood before the last command run.
    log_mark: crate::log::repl_log::LogMark,
}

impl Harness {
    fn new() -> Harness {
        Harness {
            server: Server::new(Config::default()),
            state: State::new(Config::default()),
            session: Session::new(1, true),
            log_mark: crate::log::repl_log::LogMark {
                offset: 0,
                db: crate::log::repl_log::DB_UNKNOWN,
            },
        }
    }

    /// Runs a command; returns its reply and the effects it propagated.
    fn run(&mut self, line: &str) -> (Reply, Vec<String>) {
        let argv: Vec<Bytes> = line
            .split_whitespace()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect();
        let spec = lookup(&argv[0]).unwrap_or_else(|| panic!("unknown command {line}"));
        self.state.log_effects();
        self.log_mark = self.state.repl.log.mark();
        let reply = call(
            &self.server,
            &mut self.state,
            &mut self.session,
            spec,
            &argv,
            false,
        );
        (reply, self.effects())
    }

    fn effects(&mut self) -> Vec<String> {
        self.state.log_effects();
        let since = std::mem::replace(&mut self.log_mark, self.state.repl.log.mark());
        self.state
            .repl
            .log
            .commands_since(since)
            .into_iter()
            .map(|e| {
                e.argv
                    .iter()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }
}

fn bulk_text(reply: &Reply) -> String {
    match reply.bulk_bytes() {
        Some(b) => String::from_utf8_lossy(b).into_owned(),
        None => panic!("not a bulk: {reply:?}"),
    }
}

#[test]
fn spop_propagates_srem_or_del() {
    let mut h = Harness::new();
    h.run("SADD s a b c d e");
    let (reply, effects) = h.run("SPOP s");
    assert_eq!(effects, [format!("SREM s {}", bulk_text(&reply))]);
    let (reply, effects) = h.run("SPOP s 2");
    let Reply::Set(popped) = reply else {
        panic!("SPOP with count answers a set")
    };
    let expected: Vec<String> = popped
        .iter()
        .map(|m| format!("SREM s {}", bulk_text(m)))
        .collect();
    assert_eq!(effects, expected);
    let (_, effects) = h.run("SPOP s 10");
    assert_eq!(effects, ["DEL s"]);
    let (_, effects) = h.run("SPOP s 10");
    assert!(effects.is_empty());
    h.run("SADD one x");
    let (_, effects) = h.run("SPOP one");
    assert_eq!(effects, ["SREM one x"]);
}

#[test]
fn pops_propagate_as_zpop() {
    let mut h = Harness::new();
    h.run("ZADD z 1 a 2 b 3 c 4 d");
    assert_eq!(h.run("ZPOPMIN z").1, ["ZPOPMIN z"]);
    assert_eq!(h.run("ZMPOP 1 z MAX COUNT 1").1, ["ZPOPMAX z 1"]);
    assert_eq!(h.run("BZPOPMIN z 0").1, ["ZPOPMIN z"]);
    assert_eq!(h.run("BZMPOP 0 2 nokey z MIN COUNT 9").1, ["ZPOPMIN z 1"]);
    assert!(h.run("ZMPOP 1 z MIN").1.is_empty());
    assert!(h.run("ZPOPMIN z").1.is_empty());
}

#[test]
fn served_blocked_pop_propagates_its_effect() {
    let mut h = Harness::new();
    let (reply, effects) = h.run("BZPOPMAX z 0");
    assert_eq!(reply, Reply::NilArray);
    assert!(effects.is_empty());
    let request = h
        .session
        .pending_block
        .take()
        .unwrap_or_else(|| panic!("BZPOPMAX on a missing key blocks"));
    h.run("ZADD z 1 a 2 b");
    let mut session = Session::new(2, true);
    let mut ctx = Ctx::new(&mut h.state, &mut session, &h.server, unix_time_ms());
    ctx.nested = true;
    let serve = crate::cmd::dispatch::resumer(request.resume).expect("a pop resumes by keys");
    let served = serve(&mut ctx, &request.args);
    let also: Vec<Vec<Bytes>> = ctx.also.iter().map(|e| e.argv.clone()).collect();
    assert!(matches!(served, Some(Reply::Array(ref items)) if items.len() == 3));
    assert_eq!(
        also,
        [vec![
            Bytes::from_static(b"ZPOPMAX"),
            Bytes::from_static(b"z")
        ]]
    );
}

#[test]
fn writes_without_effect_are_not_propagated() {
    let mut h = Harness::new();
    h.run("ZADD z 1 a");
    assert!(h.run("ZADD z 1 a").1.is_empty());
    assert!(h.run("ZADD z XX 1 b").1.is_empty());
    assert!(h.run("SREM nokey a").1.is_empty());
    assert_eq!(h.run("ZINCRBY z 1 a").1, ["ZINCRBY z 1 a"]);
    h.run("SADD dst x");
    assert_eq!(h.run("SINTERSTORE dst nokey").1, ["SINTERSTORE dst nokey"]);
    assert!(h.run("SINTERSTORE dst nokey").1.is_empty());
    assert_eq!(h.run("ZUNIONSTORE zd 1 z").1, ["ZUNIONSTORE zd 1 z"]);
    assert_eq!(h.run("SMOVE nokey dst a").1.len(), 0);
}
