//! Stream commands: replies and errors as Redis 7.0 gives them, and the effects replicas
//! receive (the chosen ID, exact trims).

use bytes::Bytes;

use crate::cmd::keys::test_support::Harness;
use crate::resp::Reply;

fn bulk(s: &str) -> Reply {
    Reply::Bulk(Bytes::copy_from_slice(s.as_bytes()))
}

fn entry(id: &str, fields: &[&str]) -> Reply {
    Reply::Array(vec![
        bulk(id),
        Reply::Array(fields.iter().map(|f| bulk(f)).collect()),
    ])
}

#[test]
fn xadd_chooses_ids_and_propagates_them() {
    let mut h = Harness::new();
    assert_eq!(h.run("XADD s 1-1 a 1"), bulk("1-1"));
    assert_eq!(h.run("XADD s 1-* b 2"), bulk("1-2"));
    assert_eq!(h.run("XADD s 2 c 3"), bulk("2-0"));
    assert_eq!(
        h.run("XADD s 2-0 d 4"),
        Reply::error(
            "ERR The ID specified in XADD is equal or smaller than the target stream top item"
        )
    );
    assert_eq!(
        h.run("XADD t 0-0 d 4"),
        Reply::error("ERR The ID specified in XADD must be greater than 0-0")
    );
    assert_eq!(
        h.run("XADD s * a"),
        Reply::error("ERR wrong number of arguments for 'xadd' command")
    );
    assert_eq!(
        h.run("XADD s x-1 a 1"),
        Reply::error("ERR Invalid stream ID specified as stream command argument")
    );
    assert_eq!(h.run("XADD nokey NOMKSTREAM * a 1"), Reply::Nil);
    assert_eq!(h.run("EXISTS nokey"), Reply::Integer(0));
    let effects = h.effects_of("XADD s * e 5");
    assert_eq!(effects.len(), 1);
    let Reply::Array(last) = h.run("XREVRANGE s + - COUNT 1") else {
        panic!("XREVRANGE replies an array");
    };
    let Reply::Array(parts) = &last[0] else {
        panic!("an entry");
    };
    let Reply::Bulk(id) = &parts[0] else {
        panic!("an id");
    };
    assert_eq!(
        effects[0],
        format!("0 XADD s {} e 5", String::from_utf8_lossy(id))
    );
    h.run("SET str x");
    assert!(h.run("XADD str * a 1").is_error());
}

#[test]
fn ranges_lengths_and_deletes() {
    let mut h = Harness::new();
    for i in 1..=5 {
        h.run(&format!("XADD s {i}-0 f v{i}"));
    }
    assert_eq!(h.run("XLEN s"), Reply::Integer(5));
    assert_eq!(h.run("XLEN nokey"), Reply::Integer(0));
    assert_eq!(
        h.run("XRANGE s 2 3"),
        Reply::Array(vec![entry("2-0", &["f", "v2"]), entry("3-0", &["f", "v3"])])
    );
    assert_eq!(
        h.run("XRANGE s (2-0 + COUNT 1"),
        Reply::Array(vec![entry("3-0", &["f", "v3"])])
    );
    assert_eq!(
        h.run("XREVRANGE s + - COUNT 2"),
        Reply::Array(vec![entry("5-0", &["f", "v5"]), entry("4-0", &["f", "v4"])])
    );
    assert_eq!(h.run("XRANGE s - + COUNT 0"), Reply::NilArray);
    assert_eq!(
        h.run("XRANGE s - + FOO 1"),
        Reply::error("ERR syntax error")
    );
    assert_eq!(h.run("XDEL s 2-0 9-0"), Reply::Integer(1));
    assert_eq!(h.run("XLEN s"), Reply::Integer(4));
    assert_eq!(
        h.effects_of("XTRIM s MAXLEN 2"),
        vec!["0 XTRIM s MAXLEN = 2"]
    );
    assert_eq!(
        h.run("XRANGE s - +"),
        Reply::Array(vec![entry("4-0", &["f", "v4"]), entry("5-0", &["f", "v5"])])
    );
    // The three entries share one node: an approximate trim removes nothing, and says so.
    assert_eq!(
        h.effects_of("XADD s MAXLEN ~ 1 LIMIT 10 6-0 f v6"),
        vec!["0 XADD s MAXLEN = 3 6-0 f v6"]
    );
    assert_eq!(
        h.effects_of("XTRIM s MAXLEN 1"),
        vec!["0 XTRIM s MAXLEN = 1"]
    );
    assert_eq!(
        h.run("XTRIM s MAXLEN 1 LIMIT 10"),
        Reply::error("ERR syntax error, LIMIT cannot be used without the special ~ option")
    );
    assert_eq!(
        h.run("XTRIM s MAXLEN -1"),
        Reply::error("ERR The MAXLEN argument must be >= 0.")
    );
    // An emptied stream stays, with its last ID.
    h.run("XDEL s 6-0");
    assert_eq!(h.run("EXISTS s"), Reply::Integer(1));
    assert!(h.run("XADD s 5-0 f x").is_error());
}

#[test]
fn xsetid_checks_its_arguments() {
    let mut h = Harness::new();
    assert_eq!(h.run("XSETID nokey 1-1"), Reply::error("ERR no such key"));
    h.run("XADD s 5-0 f v");
    assert_eq!(
        h.run("XSETID s 4-0"),
        Reply::error("ERR The ID specified in XSETID is smaller than the target stream top item")
    );
    assert_eq!(
        h.run("XSETID s 9-0 ENTRIESADDED 0"),
        Reply::error(
            "ERR The entries_added specified in XSETID is smaller than the target stream length"
        )
    );
    assert_eq!(
        h.run("XSETID s 9-0 ENTRIESADDED 7 MAXDELETEDID 3-0"),
        Reply::ok()
    );
    assert_eq!(
        h.run("XADD s 8-0 f v"),
        Reply::error(
            "ERR The ID specified in XADD is equal or smaller than the target stream top item"
        )
    );
    assert_eq!(h.run("XADD s 9-1 f v"), bulk("9-1"));
}

#[test]
fn xread_reads_after_each_id() {
    let mut h = Harness::new();
    h.run("XADD a 1-0 f 1");
    h.run("XADD a 2-0 f 2");
    h.run("XADD b 1-0 g 1");
    assert_eq!(
        h.run("XREAD COUNT 1 STREAMS a b 0 1-0"),
        Reply::Array(vec![Reply::Array(vec![
            bulk("a"),
            Reply::Array(vec![entry("1-0", &["f", "1"])])
        ])])
    );
    assert_eq!(h.run("XREAD STREAMS a $"), Reply::NilArray);
    assert_eq!(
        h.run("XREAD STREAMS a b 0"),
        Reply::error(
            "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified."
        )
    );
    assert_eq!(
        h.run("XREAD BLOCK -1 STREAMS a 0"),
        Reply::error("ERR timeout is negative")
    );
}
