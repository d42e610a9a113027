//! What the keyspace commands propagate and how they keep WATCH and the dirty counter.

use super::test_support::Harness;
use crate::resp::Reply;

#[test]
fn relative_expires_propagate_as_absolute_pexpireat() {
    let mut h = Harness::new();
    h.run("SET k v");
    let effects = h.effects_of("EXPIRE k 100 nx");
    let at = h.expire_at("k").expect("expiry set");
    assert_eq!(effects, vec![format!("0 PEXPIREAT k {at} nx")]);
    let effects = h.effects_of("pexpire k 200000");
    let at = h.expire_at("k").expect("expiry set");
    assert_eq!(effects, vec![format!("0 PEXPIREAT k {at}")]);
    assert_eq!(
        h.effects_of("EXPIREAT k 4102444800"),
        vec!["0 PEXPIREAT k 4102444800000"]
    );
    assert_eq!(
        h.effects_of("pexpireat k 4102444800001 GT"),
        vec!["0 pexpireat k 4102444800001 GT"]
    );
    // Refused by a flag or absent key: nothing changes, nothing propagates.
    assert!(h.effects_of("EXPIRE k 10 NX").is_empty());
    assert!(h.effects_of("EXPIRE missing 10").is_empty());
}

#[test]
fn past_expiry_deletes_and_propagates_del() {
    let mut h = Harness::new();
    h.run("SET k v");
    assert_eq!(h.effects_of("EXPIRE k -1"), vec!["0 DEL k"]);
    assert_eq!(h.run("EXISTS k"), Reply::Integer(0));
    h.run("SET k v");
    assert_eq!(h.effects_of("PEXPIREAT k 1"), vec!["0 DEL k"]);
}

#[test]
fn lazy_expiry_propagates_del_before_the_command() {
    let mut h = Harness::new();
    h.run("SET k v PXAT 1");
    assert_eq!(h.effects_of("GET k"), vec!["0 DEL k"]);
    h.run("SET k v PXAT 1");
    assert_eq!(h.effects_of("SET k w"), vec!["0 DEL k", "0 SET k w"]);
}

#[test]
fn persist_and_deletes() {
    let mut h = Harness::new();
    h.run("SET k v EX 100");
    assert_eq!(h.effects_of("PERSIST k"), vec!["0 PERSIST k"]);
    assert!(h.effects_of("PERSIST k").is_empty());
    assert!(h.effects_of("DEL missing").is_empty());
    h.run("MSET a 1 b 2");
    assert_eq!(
        h.effects_of("UNLINK a b missing"),
        vec!["0 UNLINK a b missing"]
    );
}

#[test]
fn flushes_always_propagate() {
    let mut h = Harness::new();
    assert_eq!(h.effects_of("FLUSHALL"), vec!["0 FLUSHALL"]);
    assert_eq!(h.effects_of("FLUSHDB ASYNC"), vec!["0 FLUSHDB ASYNC"]);
    assert!(h.effects_of("FLUSHDB foo").is_empty());
}

#[test]
fn dirty_counter_counts_keys() {
    let mut h = Harness::new();
    h.run("MSET a 1 b 2 c 3");
    let before = h.state.dirty;
    h.run("RENAME a z");
    assert_eq!(h.state.dirty, before + 1);
    h.run("FLUSHALL");
    assert_eq!(h.state.dirty, before + 4);
}

#[test]
fn flush_swap_move_copy_touch_watches() {
    let mut h = Harness::new();
    h.run("SET a 1");
    h.state.watches.watch(7, 0, bytes::Bytes::from_static(b"a"));
    h.state.watches.watch(8, 1, bytes::Bytes::from_static(b"b"));
    h.state.watches.watch(9, 2, bytes::Bytes::from_static(b"c"));
    h.run("FLUSHDB");
    assert!(h.state.watches.is_dirty(7));
    assert!(!h.state.watches.is_dirty(8));
    // b exists only in db 2: swapping 1 and 2 changes it for the watcher of db 1.
    h.run("SELECT 2");
    h.run("SET b 1");
    h.run("SWAPDB 1 2");
    assert!(h.state.watches.is_dirty(8));
    h.run("SELECT 0");
    h.run("SET c 1");
    h.run("MOVE c 2");
    assert!(h.state.watches.is_dirty(9));
}

#[test]
fn copies_are_independent() {
    let mut h = Harness::new();
    h.run("SET s abc");
    h.run("COPY s t");
    h.run("APPEND t d");
    assert_eq!(h.run("GET s"), Reply::bulk_str("abc"));
    assert_eq!(h.run("GET t"), Reply::bulk_str("abcd"));
}

#[test]
fn scan_visits_every_key_once() {
    let mut h = Harness::new();
    for i in 0..3000 {
        h.run(&format!("SET key:{i} v"));
    }
    let mut seen = std::collections::HashSet::new();
    let mut cursor = String::from("0");
    let mut calls = 0;
    loop {
        calls += 1;
        let Reply::Array(parts) = h.run(&format!("SCAN {cursor} COUNT 50")) else {
            panic!("array expected");
        };
        let [Reply::Bulk(next), Reply::Array(keys)] = parts.as_slice() else {
            panic!("cursor and keys expected");
        };
        for key in keys {
            let Reply::Bulk(k) = key else {
                panic!("bulk key")
            };
            assert!(seen.insert(k.clone()), "key returned twice");
        }
        cursor = String::from_utf8_lossy(next).into_owned();
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 3000);
    assert!(calls > 10, "COUNT bounds each call");
}
