//! Replies and effects of the bitmap commands, as redis-server 7.0.15 gives them.

use bytes::Bytes;

use crate::cmd::keys::test_support::Harness;
use crate::resp::Reply;

fn int(n: i64) -> Reply {
    Reply::Integer(n)
}

#[test]
fn setbit_getbit_and_their_effects() {
    let mut h = Harness::new();
    assert_eq!(h.effects_of("SETBIT k 7 1"), vec!["0 SETBIT k 7 1"]);
    assert_eq!(h.run("GET k"), Reply::Bulk(Bytes::from_static(b"\x01")));
    // Setting a bit to what it is changes nothing and propagates nothing.
    assert!(h.effects_of("SETBIT k 7 1").is_empty());
    assert_eq!(h.run("SETBIT k 7 0"), int(1));
    assert_eq!(h.run("GETBIT k 7"), int(0));
    assert_eq!(h.run("GETBIT k 100"), int(0));
    assert_eq!(h.run("GETBIT nokey 0"), int(0));
    // Growing the string is a change even when the bit stays clear.
    assert_eq!(h.effects_of("SETBIT k 20 0"), vec!["0 SETBIT k 20 0"]);
    assert_eq!(h.run("STRLEN k"), int(3));
    assert_eq!(
        h.run("SETBIT k 4294967296 1"),
        Reply::error("ERR bit offset is not an integer or out of range")
    );
    assert_eq!(
        h.run("SETBIT k 0 2"),
        Reply::error("ERR bit is not an integer or out of range")
    );
    h.run("RPUSH l a");
    assert!(h.run("SETBIT l 0 1").is_error());
}

#[test]
fn bitcount_and_bitpos() {
    let mut h = Harness::new();
    h.run("SET s foobar");
    assert_eq!(h.run("BITCOUNT s"), int(26));
    assert_eq!(h.run("BITCOUNT s 0 0"), int(4));
    assert_eq!(h.run("BITCOUNT s 1 1"), int(6));
    assert_eq!(h.run("BITCOUNT s 5 30 BIT"), int(17));
    assert_eq!(h.run("BITCOUNT s -1 -2"), int(0));
    assert_eq!(h.run("BITCOUNT s 0"), Reply::error("ERR syntax error"));
    assert_eq!(
        h.run("BITCOUNT s 0 1 FOO"),
        Reply::error("ERR syntax error")
    );
    assert_eq!(h.run("BITCOUNT nokey"), int(0));
    h.run("SET p \u{ff}\u{f0}");
    h.run("SETRANGE b 0 x");
    h.run("SET z \u{0}\u{0}");
    assert_eq!(h.run("BITPOS nokey 1"), int(-1));
    assert_eq!(h.run("BITPOS nokey 0"), int(0));
    assert_eq!(h.run("BITPOS z 1"), int(-1));
    assert_eq!(h.run("BITPOS z 0"), int(0));
    assert_eq!(
        h.run("BITPOS z 2"),
        Reply::error("ERR The bit argument must be 1 or 0.")
    );
}

#[test]
fn bitop_writes_or_deletes_the_destination() {
    let mut h = Harness::new();
    h.run("SET a abc");
    h.run("SET b a");
    assert_eq!(h.effects_of("BITOP AND d a b"), vec!["0 BITOP AND d a b"]);
    assert_eq!(h.run("GET d"), Reply::Bulk(Bytes::from_static(b"a\0\0")));
    assert_eq!(h.run("BITOP OR d a nokey"), int(3));
    assert_eq!(h.run("GET d"), Reply::Bulk(Bytes::from_static(b"abc")));
    assert_eq!(h.run("BITOP NOT d b"), int(1));
    assert_eq!(h.run("GET d"), Reply::Bulk(Bytes::from_static(b"\x9e")));
    assert_eq!(
        h.run("BITOP NOT d a b"),
        Reply::error("ERR BITOP NOT must be called with a single source key.")
    );
    assert_eq!(h.run("BITOP NAND d a"), Reply::error("ERR syntax error"));
    // Only missing sources: the destination is deleted.
    assert_eq!(h.effects_of("BITOP XOR d x y"), vec!["0 BITOP XOR d x y"]);
    assert_eq!(h.run("EXISTS d"), int(0));
    assert!(h.effects_of("BITOP XOR d x y").is_empty());
}

#[test]
fn bitfield_reads_writes_and_overflows() {
    let mut h = Harness::new();
    assert_eq!(
        h.run("BITFIELD k SET u8 0 255 GET u8 0 INCRBY u8 0 10"),
        Reply::Array(vec![int(0), int(255), int(9)])
    );
    assert_eq!(
        h.run("BITFIELD k OVERFLOW SAT INCRBY u8 0 300 OVERFLOW FAIL INCRBY u8 0 1"),
        Reply::Array(vec![int(255), Reply::Nil])
    );
    assert_eq!(
        h.run("BITFIELD k SET i8 #1 -1 GET i8 #1 GET u4 8"),
        Reply::Array(vec![int(0), int(-1), int(15)])
    );
    assert_eq!(
        h.run("BITFIELD_RO k GET u8 0"),
        Reply::Array(vec![int(255)])
    );
    assert_eq!(
        h.run("BITFIELD_RO k SET u8 0 1"),
        Reply::error("ERR BITFIELD_RO only supports the GET subcommand")
    );
    assert!(h.run("BITFIELD k GET u64 0").is_error());
    assert!(h.run("BITFIELD k GET i65 0").is_error());
    assert_eq!(
        h.run("BITFIELD k OVERFLOW FOO"),
        Reply::error("ERR Invalid OVERFLOW type specified")
    );
    assert_eq!(h.run("BITFIELD k FOO"), Reply::error("ERR syntax error"));
    assert_eq!(h.run("BITFIELD nokey GET u8 0"), Reply::Array(vec![int(0)]));
    assert_eq!(h.run("EXISTS nokey"), int(0));
    // A write that changes nothing propagates nothing.
    assert!(h.effects_of("BITFIELD k SET u8 0 255").is_empty());
    assert_eq!(
        h.effects_of("BITFIELD k SET u8 0 1"),
        vec!["0 BITFIELD k SET u8 0 1"]
    );
}
