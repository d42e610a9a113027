//! What the list commands reply and propagate (effects, not commands, as Redis 7.0 does),
//! and how blocked clients are served.

use bytes::Bytes;

use crate::cmd::dispatch::{call, serve_blocked};
use crate::cmd::keys::test_support::Harness;
use crate::cmd::lookup;
use crate::resp::Reply;
use crate::server::Session;

fn bulk(s: &str) -> Reply {
    Reply::Bulk(Bytes::copy_from_slice(s.as_bytes()))
}

fn argv(line: &str) -> Vec<Bytes> {
    line.split(' ')
        .map(|w| Bytes::copy_from_slice(w.as_bytes()))
        .collect()
}

/// Runs `line` for another client `session`; a command that blocks is registered as the
/// connection would register it.
fn run_as(h: &mut Harness, session: &mut Session, line: &str) -> Reply {
    let args = argv(line);
    let spec = lookup(&args[0]).expect("known command");
    let reply = call(&h.server, &mut h.state, session, spec, &args, false);
    if let Some(request) = session.pending_block.take() {
        h.state.blocking.block(session.id, session.db, request);
    }
    reply
}

#[test]
fn pops_with_count_follow_redis_7_rules() {
    let mut h = Harness::new();
    assert_eq!(h.run("LPOP l 0"), Reply::NilArray);
    assert_eq!(h.run("LPOP l"), Reply::Nil);
    h.run("RPUSH l a b c");
    assert_eq!(h.run("LPOP l 0"), Reply::Array(vec![]));
    assert!(h.run("LPOP l -1").is_error());
    assert_eq!(h.run("RPOP l 2"), Reply::Array(vec![bulk("c"), bulk("b")]));
    assert_eq!(h.run("LPOP l 5"), Reply::Array(vec![bulk("a")]));
    assert_eq!(h.run("EXISTS l"), Reply::Integer(0));
}

#[test]
fn plain_writes_propagate_as_received_only_when_they_change_something() {
    let mut h = Harness::new();
    assert_eq!(h.effects_of("RPUSH l a b c"), vec!["0 RPUSH l a b c"]);
    assert!(h.effects_of("LPUSHX nokey a").is_empty());
    assert!(h.effects_of("RPOP l 0").is_empty());
    assert!(h.effects_of("LREM l 0 zz").is_empty());
    assert!(h.effects_of("LINSERT l BEFORE zz x").is_empty());
    assert!(h.effects_of("LTRIM l 0 -1").is_empty());
    assert_eq!(h.effects_of("LTRIM l 1 -1"), vec!["0 LTRIM l 1 -1"]);
    assert_eq!(h.effects_of("LPOP l 5"), vec!["0 LPOP l 5"]);
}

#[test]
fn multi_pops_and_blocking_forms_propagate_their_non_blocking_effect() {
    let mut h = Harness::new();
    h.run("RPUSH l a b c d e");
    assert_eq!(
        h.effects_of("LMPOP 2 nokey l RIGHT COUNT 10"),
        vec!["0 RPOP l 5"]
    );
    h.run("RPUSH l a b c d e");
    assert_eq!(h.effects_of("BLMPOP 0 1 l left"), vec!["0 LPOP l 1"]);
    assert_eq!(h.effects_of("BLPOP nokey l 0"), vec!["0 LPOP l"]);
    assert_eq!(h.effects_of("BRPOP l 0"), vec!["0 RPOP l"]);
    assert_eq!(
        h.effects_of("BLMOVE l m LeFt right 0"),
        vec!["0 LMOVE l m LeFt right"]
    );
    assert_eq!(h.effects_of("BRPOPLPUSH m l 0"), vec!["0 RPOPLPUSH m l"]);
    assert_eq!(
        h.effects_of("LMOVE l m left left"),
        vec!["0 LMOVE l m left left"]
    );
    assert!(h.effects_of("LMPOP 1 nokey left").is_empty());
}

#[test]
fn lmove_onto_itself_keeps_the_key_and_its_ttl() {
    let mut h = Harness::new();
    h.run("RPUSH l a");
    h.run("EXPIRE l 100");
    assert_eq!(h.run("LMOVE l l LEFT RIGHT"), bulk("a"));
    assert!(h.expire_at("l").is_some());
    assert_eq!(h.run("LRANGE l 0 -1"), Reply::Array(vec![bulk("a")]));
}

#[test]
fn blocked_pop_is_served_by_a_later_push_and_propagated_as_lpop() {
    let mut h = Harness::new();
    let mut waiter = Session::new(7, true);
    assert_eq!(run_as(&mut h, &mut waiter, "BLPOP k 0"), Reply::NilArray);
    assert!(h.state.blocking.is_blocked(7));
    h.state.log_effects();
    let mark = h.state.repl.log.mark();
    h.run("RPUSH k v w");
    serve_blocked(&h.server, &mut h.state);
    assert!(!h.state.blocking.is_blocked(7));
    h.state.log_effects();
    let effects: Vec<String> = h
        .state
        .repl
        .log
        .commands_since(mark)
        .into_iter()
        .map(|e| {
            e.argv
                .iter()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    assert_eq!(effects, vec!["RPUSH k v w", "LPOP k"]);
    assert_eq!(h.run("LRANGE k 0 -1"), Reply::Array(vec![bulk("w")]));
}

#[test]
fn served_blmove_chains_to_clients_blocked_on_its_destination() {
    let mut h = Harness::new();
    let mut first = Session::new(7, true);
    let mut second = Session::new(8, true);
    run_as(&mut h, &mut first, "BLMOVE a b LEFT RIGHT 0");
    run_as(&mut h, &mut second, "BLPOP b 0");
    h.state.log_effects();
    let mark = h.state.repl.log.mark();
    h.run("RPUSH a x");
    serve_blocked(&h.server, &mut h.state);
    assert!(h.state.blocking.is_empty());
    h.state.log_effects();
    let effects: Vec<Vec<Bytes>> = h
        .state
        .repl
        .log
        .commands_since(mark)
        .into_iter()
        .map(|e| e.argv)
        .collect();
    assert_eq!(
        effects,
        vec![
            argv("RPUSH a x"),
            argv("LMOVE a b left right"),
            argv("LPOP b")
        ]
    );
    assert_eq!(h.run("EXISTS a b"), Reply::Integer(0));
}

#[test]
fn blocking_commands_inside_multi_answer_at_once() {
    let mut h = Harness::new();
    let args = argv("BLMOVE nokey d LEFT LEFT 0");
    let spec = lookup(&args[0]).expect("known command");
    let reply = call(&h.server, &mut h.state, &mut h.session, spec, &args, true);
    assert_eq!(reply, Reply::Nil);
    let args = argv("BLPOP nokey 0");
    let spec = lookup(&args[0]).expect("known command");
    let reply = call(&h.server, &mut h.state, &mut h.session, spec, &args, true);
    assert_eq!(reply, Reply::NilArray);
    assert!(h.session.pending_block.is_none());
}

#[test]
fn timeouts_are_parsed_like_redis() {
    let mut h = Harness::new();
    for (timeout, error) in [
        ("-1", "ERR timeout is negative"),
        ("inf", "ERR timeout is negative"),
        ("1e100", "ERR timeout is negative"),
        ("abc", "ERR timeout is not a float or out of range"),
        ("nan", "ERR timeout is not a float or out of range"),
    ] {
        assert_eq!(
            h.run(&format!("BLPOP k {timeout}")),
            Reply::error(error),
            "{timeout}"
        );
    }
}
