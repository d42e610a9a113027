//! What the string commands propagate: effects, not commands (Redis 7.0 rules).

use crate::cmd::keys::test_support::Harness;
use crate::resp::Reply;

#[test]
fn set_with_relative_expiry_becomes_pxat() {
    let mut h = Harness::new();
    let effects = h.effects_of("SET k v EX 100 NX GET");
    let at = h.expire_at("k").expect("expiry set");
    assert_eq!(effects, vec![format!("0 SET k v PXAT {at}")]);
    let effects = h.effects_of("setex k 100 v");
    let at = h.expire_at("k").expect("expiry set");
    assert_eq!(effects, vec![format!("0 SET k v PXAT {at}")]);
    let effects = h.effects_of("PSETEX k 100000 w");
    let at = h.expire_at("k").expect("expiry set");
    assert_eq!(effects, vec![format!("0 SET k w PXAT {at}")]);
    assert_eq!(
        h.effects_of("set k v exat 4102444800"),
        vec!["0 SET k v PXAT 4102444800000"]
    );
}

#[test]
fn set_get_drops_the_get_argument() {
    let mut h = Harness::new();
    assert_eq!(h.effects_of("set get get GET get"), vec!["0 set get get"]);
    h.run("SET k 0");
    assert_eq!(
        h.effects_of("set k 1 GET xx keepttl"),
        vec!["0 set k 1 xx keepttl"]
    );
    // Not set: nothing to propagate.
    assert!(h.effects_of("SET k 1 NX GET").is_empty());
}

#[test]
fn read_and_modify_commands() {
    let mut h = Harness::new();
    assert_eq!(h.effects_of("getset k v"), vec!["0 SET k v"]);
    assert_eq!(h.effects_of("GETDEL k"), vec!["0 DEL k"]);
    assert!(h.effects_of("GETDEL k").is_empty());
    h.run("SET k v");
    assert!(h.effects_of("GETEX k").is_empty());
    let effects = h.effects_of("GETEX k EX 100");
    let at = h.expire_at("k").expect("expiry set");
    assert_eq!(effects, vec![format!("0 PEXPIREAT k {at}")]);
    assert_eq!(h.effects_of("GETEX k PERSIST"), vec!["0 PERSIST k"]);
    assert!(h.effects_of("GETEX k PERSIST").is_empty());
    assert_eq!(h.effects_of("GETEX k EXAT 1"), vec!["0 DEL k"]);
}

#[test]
fn incrbyfloat_propagates_the_result() {
    let mut h = Harness::new();
    h.run("SET f 0.1 EX 100");
    assert_eq!(h.run("INCRBYFLOAT f 0.2"), Reply::bulk_str("0.3"));
    assert!(h.expire_at("f").is_some(), "TTL kept");
    assert_eq!(h.effects_of("INCRBYFLOAT f 1"), vec!["0 SET f 1.3 KEEPTTL"]);
}

#[test]
fn counters_keep_ttl_and_empty_writes_do_not_propagate() {
    let mut h = Harness::new();
    h.run("SET c 1 EX 100");
    assert_eq!(h.effects_of("INCR c"), vec!["0 INCR c"]);
    assert!(h.expire_at("c").is_some());
    assert!(h.effects_of("SETRANGE missing 0 ").is_empty());
    assert!(h.effects_of("MSETNX c 1 d 2").is_empty());
}

#[test]
fn append_reuses_a_unique_buffer() {
    let mut h = Harness::new();
    h.run("SET a x");
    for _ in 0..1000 {
        h.run("APPEND a yz");
    }
    assert_eq!(h.run("STRLEN a"), Reply::Integer(2001));
    assert_eq!(h.run("GETRANGE a 0 4"), Reply::bulk_str("xyzyz"));
}

/// A write propagated unchanged is logged as the client sent it, but only when that is the
/// canonical encoding Redis would produce: padded length headers are encoded afresh.
#[test]
fn a_write_is_logged_as_received_only_in_canonical_form() {
    use crate::cmd::dispatch;
    use crate::resp::parse::{ParseLimits, RequestParser};
    use bytes::BytesMut;

    let mut h = Harness::new();
    // The first write also selects db 0 in the stream.
    h.run("SET warm up");
    h.state.repl.log.seal();
    let canonical: &[u8] = b"*3\r\n$3\r\nset\r\n$1\r\nk\r\n$5\r\nvalue\r\n";
    let padded: &[u8] = b"*3\r\n$3\r\nset\r\n$01\r\nk\r\n$5\r\nvalue\r\n";
    for wire in [canonical, padded] {
        let mut parser = RequestParser::default();
        let mut args = Vec::new();
        let mut buf = BytesMut::from(wire);
        let parsed = parser.parse_into(&mut buf, &ParseLimits::default(), &mut args);
        assert_eq!(parsed, Ok(Some(3)));
        let frame = parser.take_frame();
        let reply =
            dispatch::execute_request(&h.server, &mut h.state, &mut h.session, &args, frame);
        assert_eq!(reply, Some(Reply::ok()));
        let record = h.state.repl.log.seal().expect("the SET was logged");
        assert_eq!(&record.payload[..], canonical);
    }
}
