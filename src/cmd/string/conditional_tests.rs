//! Redis 8.4's value conditions and MSETEX, Valkey's DELIFEQ: replies as Redis 8.6.3 and
//! Valkey 9.1.2 give them, effects in forms Redis 7.0 replicas understand.

use bytes::Bytes;

use crate::cmd::keys::test_support::Harness;
use crate::resp::Reply;

fn bulk(s: &str) -> Reply {
    Reply::Bulk(Bytes::copy_from_slice(s.as_bytes()))
}

#[test]
fn set_conditions_compare_the_current_value() {
    let mut h = Harness::new();
    h.run("SET k hello");
    assert_eq!(h.run("DIGEST k"), bulk("9555e8555c62dcfd"));
    assert_eq!(h.run("DIGEST nokey"), Reply::Nil);
    assert_eq!(h.run("SET k world IFEQ nope"), Reply::Nil);
    assert_eq!(
        h.effects_of("SET k world IFEQ hello"),
        vec!["0 SET k world"]
    );
    assert_eq!(h.run("SET k v2 IFNE world GET"), bulk("world"));
    assert_eq!(h.run("GET k"), bulk("world"));
    assert_eq!(h.run("SET k v IFEQ world NX"), Reply::Nil);
    assert_eq!(
        h.effects_of("SET k v IFEQ world XX GET"),
        vec!["0 SET k v XX"]
    );
    assert_eq!(
        h.run("SET k v IFEQ v IFNE x"),
        Reply::error("ERR syntax error")
    );
    assert_eq!(h.run("SET nokey x IFEQ y"), Reply::Nil);
    assert_eq!(h.run("SET nokey x IFNE y"), Reply::ok());
    h.run("HSET h a 1");
    assert_eq!(h.run("SET h x IFEQ y"), Reply::Nil);
    assert!(h.run("SET h x IFNE y").is_error());
    h.run("SET d hello");
    assert_eq!(h.run("SET d x IFDNE 9555E8555C62DCFD"), Reply::Nil);
    assert_eq!(h.run("SET d x IFDEQ 9555e8555c62dcfd"), Reply::ok());
    assert_eq!(
        h.run("SET d y IFDEQ 0"),
        Reply::error("ERR must be exactly 16 hexadecimal characters")
    );
    assert_eq!(
        h.effects_of("SET d y IFEQ x PX 100000")[0]
            .split(' ')
            .take(4)
            .collect::<Vec<_>>(),
        vec!["0", "SET", "d", "y"]
    );
}

#[test]
fn delex_and_delifeq_delete_on_a_match_and_propagate_del() {
    let mut h = Harness::new();
    h.run("SET k hello");
    assert_eq!(h.run("DELEX k IFEQ nope"), Reply::Integer(0));
    assert_eq!(h.run("DELEX k IFNE hello"), Reply::Integer(0));
    assert_eq!(h.effects_of("DELEX k IFEQ hello"), vec!["0 DEL k"]);
    assert_eq!(h.run("DELEX nokey IFEQ x"), Reply::Integer(0));
    h.run("HSET h a 1");
    assert_eq!(
        h.run("DELEX h IFEQ 1"),
        Reply::error("ERR Key should be of string type if conditions are specified")
    );
    assert_eq!(h.effects_of("DELEX h"), vec!["0 DEL h"]);
    assert_eq!(
        h.run("DELEX k IFEQ"),
        Reply::error("ERR wrong number of arguments for 'delex' command")
    );
    h.run("SET k v");
    assert_eq!(h.run("DELEX k FOO x"), Reply::Integer(0));
    assert_eq!(h.run("DELIFEQ k nope"), Reply::Integer(0));
    assert_eq!(h.effects_of("DELIFEQ k v"), vec!["0 DEL k"]);
    assert_eq!(h.run("DELIFEQ k v"), Reply::Integer(0));
    h.run("HSET h a 1");
    assert!(h.run("DELIFEQ h 1").is_error());
}

#[test]
fn msetex_sets_all_or_none_with_one_expiry() {
    let mut h = Harness::new();
    let effects = h.effects_of("MSETEX 2 a 1 b 2 EX 100");
    assert_eq!(effects.len(), 4, "{effects:?}");
    assert_eq!(effects[0], "0 MULTI");
    assert!(effects[1].starts_with("0 SET a 1 PXAT "), "{effects:?}");
    assert!(effects[2].starts_with("0 SET b 2 PXAT "), "{effects:?}");
    assert_eq!(effects[3], "0 EXEC");
    assert_eq!(h.run("TTL a"), Reply::Integer(100));
    assert_eq!(h.run("MSETEX 2 a 1 c 3 NX PX 5000"), Reply::Integer(0));
    assert_eq!(h.run("MSETEX 2 a 1 c 3 XX KEEPTTL"), Reply::Integer(0));
    assert_eq!(h.run("EXISTS c"), Reply::Integer(0));
    assert_eq!(
        h.effects_of("MSETEX 1 a 9 KEEPTTL"),
        vec!["0 SET a 9 KEEPTTL"]
    );
    assert_eq!(h.run("TTL a"), Reply::Integer(100));
    assert_eq!(h.effects_of("MSETEX 1 a 9"), vec!["0 MSET a 9"]);
    assert_eq!(h.run("TTL a"), Reply::Integer(-1));
    let errors = [
        ("MSETEX 2 a 1", "ERR wrong number of key-value pairs"),
        ("MSETEX x a 1", "ERR invalid numkeys value"),
        ("MSETEX -1 a 1", "ERR invalid numkeys value"),
        ("MSETEX 1 a 1 FOO", "ERR syntax error"),
        ("MSETEX 1 a 1 NX XX", "ERR syntax error"),
        ("MSETEX 1 a 1 KEEPTTL EX 10", "ERR syntax error"),
        ("MSETEX 1 a 1 b", "ERR syntax error"),
        (
            "MSETEX 1 a 1 EX 0",
            "ERR invalid expire time in 'msetex' command",
        ),
    ];
    for (line, error) in errors {
        assert_eq!(h.run(line), Reply::error(error), "{line}");
    }
    assert_eq!(h.run("MSETEX 1 a 1 EX 10 EX 20"), Reply::Integer(1));
}
