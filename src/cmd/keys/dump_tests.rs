//! DUMP and RESTORE: replies and errors as redis-server 7.0.15 gives them, and what RESTORE
//! propagates.

use bytes::Bytes;

use super::test_support::Harness;
use crate::resp::Reply;

/// `DUMP` of the string "hello" on redis-server 7.0.15.
const HELLO: &[u8] = b"\x00\x05hello\x0a\x00cr\xdfve4 \x0a";

fn argv(words: &[&[u8]]) -> Vec<Bytes> {
    words.iter().map(|w| Bytes::copy_from_slice(w)).collect()
}

fn payload_of(h: &mut Harness, key: &str) -> Bytes {
    match h.run(&format!("DUMP {key}")) {
        Reply::Bulk(b) => b,
        other => panic!("DUMP {key}: {other:?}"),
    }
}

#[test]
fn dump_gives_redis_payloads_and_nil_for_no_key() {
    let mut h = Harness::new();
    assert_eq!(h.run("DUMP nokey"), Reply::Nil);
    h.run("SET s hello");
    assert_eq!(&payload_of(&mut h, "s")[..], HELLO);
    h.run("RPUSH l a b c");
    h.run("HSET h f v");
    h.run("ZADD z 1 a 2 b");
    h.run("SADD set 1 2 3");
    h.run("XADD x 1-1 f v");
    for key in ["l", "h", "z", "set", "x"] {
        let payload = payload_of(&mut h, key);
        let copy = format!("{key}-copy");
        let reply = h.run_argv(argv(&[b"RESTORE", copy.as_bytes(), b"0", &payload]));
        assert_eq!(reply, Reply::ok(), "{key}");
        assert_eq!(payload_of(&mut h, &copy), payload, "{key}");
    }
}

#[test]
fn restore_refuses_what_redis_refuses() {
    let mut h = Harness::new();
    let restore = |h: &mut Harness, rest: &[&[u8]]| {
        let mut a: Vec<&[u8]> = vec![b"RESTORE", b"k"];
        a.extend_from_slice(rest);
        h.run_argv(argv(&a))
    };
    assert_eq!(restore(&mut h, &[b"0", HELLO]), Reply::ok());
    assert_eq!(
        restore(&mut h, &[b"0", HELLO]),
        Reply::error("BUSYKEY Target key name already exists.")
    );
    assert_eq!(
        restore(&mut h, &[b"-1", HELLO, b"REPLACE"]),
        Reply::error("ERR Invalid TTL value, must be >= 0")
    );
    assert_eq!(
        restore(&mut h, &[b"x", HELLO, b"REPLACE"]),
        Reply::error("ERR value is not an integer or out of range")
    );
    assert_eq!(
        restore(&mut h, &[b"0", HELLO, b"REPLACE", b"FOO"]),
        Reply::error("ERR syntax error")
    );
    assert_eq!(
        restore(&mut h, &[b"0", HELLO, b"REPLACE", b"IDLETIME", b"-1"]),
        Reply::error("ERR Invalid IDLETIME value, must be >= 0")
    );
    assert_eq!(
        restore(&mut h, &[b"0", HELLO, b"REPLACE", b"FREQ", b"256"]),
        Reply::error("ERR Invalid FREQ value, must be >= 0 and <= 255")
    );
    // IDLETIME and FREQ exclude each other: the second is a syntax error.
    assert_eq!(
        restore(
            &mut h,
            &[b"0", HELLO, b"REPLACE", b"IDLETIME", b"1", b"FREQ", b"1"]
        ),
        Reply::error("ERR syntax error")
    );
    let mut damaged = HELLO.to_vec();
    damaged[2] = b'j';
    assert_eq!(
        restore(&mut h, &[b"0", &damaged, b"REPLACE"]),
        Reply::error("ERR DUMP payload version or checksum are wrong")
    );
    assert_eq!(h.run("GET k"), Reply::Bulk(Bytes::from_static(b"hello")));
}

#[test]
fn restore_propagates_an_absolute_ttl_and_del_for_a_past_one() {
    let mut h = Harness::new();
    let hello = Bytes::from_static(HELLO);
    let effects = h.effects_of_argv(vec![
        Bytes::from_static(b"RESTORE"),
        Bytes::from_static(b"k"),
        Bytes::from_static(b"100000"),
        hello.clone(),
    ]);
    let at = h.expire_at("k").expect("an expiry");
    let payload = String::from_utf8_lossy(HELLO).into_owned();
    assert_eq!(effects, vec![format!("0 RESTORE k {at} {payload} ABSTTL")]);
    // Without a TTL, or with an absolute one, the command goes as it came.
    let effects = h.effects_of_argv(argv(&[b"RESTORE", b"k", b"0", HELLO, b"REPLACE"]));
    assert_eq!(effects, vec![format!("0 RESTORE k 0 {payload} REPLACE")]);
    assert_eq!(h.expire_at("k"), None);
    // A time already past: an existing key replaced is deleted, nothing else is made.
    let effects = h.effects_of_argv(argv(&[
        b"RESTORE", b"k", b"1", HELLO, b"REPLACE", b"ABSTTL",
    ]));
    assert_eq!(effects, vec!["0 DEL k".to_string()]);
    assert_eq!(h.run("EXISTS k"), Reply::Integer(0));
    let effects = h.effects_of_argv(argv(&[b"RESTORE", b"k", b"1", HELLO, b"ABSTTL"]));
    assert!(effects.is_empty(), "{effects:?}");
    assert_eq!(h.run("EXISTS k"), Reply::Integer(0));
}
