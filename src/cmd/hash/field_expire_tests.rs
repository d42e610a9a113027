//! Hash field expiry: replies and errors as Redis 8.6 gives them, and the effects replicas
//! receive (recorded from a Redis 8.6.3 master's replication stream).

use bytes::Bytes;

use crate::cmd::keys::test_support::Harness;
use crate::resp::Reply;

const FAR: u64 = 4_102_444_800_123;

fn ints(values: &[i64]) -> Reply {
    Reply::Array(values.iter().map(|v| Reply::Integer(*v)).collect())
}

fn bulk(s: &str) -> Reply {
    Reply::Bulk(Bytes::copy_from_slice(s.as_bytes()))
}

#[test]
fn hexpire_reports_each_field_and_propagates_the_absolute_time() {
    let mut h = Harness::new();
    assert_eq!(h.run("HEXPIRE nokey 100 FIELDS 2 a b"), ints(&[-2, -2]));
    h.run("HSET h a 1 b 2 c 3 d 4");
    assert_eq!(
        h.effects_of(&format!("HPEXPIREAT h {FAR} FIELDS 3 a b zz")),
        vec![format!("0 HPEXPIREAT h {FAR} FIELDS 2 a b")]
    );
    assert_eq!(
        h.effects_of(&format!("HPEXPIREAT h {FAR} NX FIELDS 2 a c")),
        vec![format!("0 HPEXPIREAT h {FAR} NX FIELDS 1 c")]
    );
    assert_eq!(
        h.run(&format!("HPEXPIREAT h {} GT FIELDS 2 a c", FAR - 5)),
        ints(&[0, 0])
    );
    assert_eq!(
        h.run(&format!("HPEXPIREAT h {} LT FIELDS 2 c d", FAR - 5)),
        ints(&[1, 1])
    );
    assert_eq!(
        h.run(&format!("HPEXPIREAT h {FAR} XX FIELDS 1 zz")),
        ints(&[-2])
    );
    // A time already past deletes the field, which replicas hear as HDEL.
    assert_eq!(h.effects_of("HEXPIRE h 0 FIELDS 1 b"), vec!["0 HDEL h b"]);
    assert_eq!(h.run("HPEXPIREAT h 1 FIELDS 1 d"), ints(&[2]));
    assert_eq!(
        h.run("HPEXPIRETIME h FIELDS 4 a b c zz"),
        ints(&[FAR as i64, -2, FAR as i64 - 5, -2])
    );
    assert_eq!(
        h.run("HEXPIRETIME h FIELDS 1 a"),
        ints(&[(FAR / 1000) as i64])
    );
    assert_eq!(h.run("HPEXPIRE h 100000 FIELDS 1 a"), ints(&[1]));
    let Reply::Array(ttl) = h.run("HTTL h FIELDS 1 a") else {
        panic!("HTTL replies an array");
    };
    assert_eq!(ttl, vec![Reply::Integer(100)]);
    // Every field gone: the key goes too.
    h.run("HEXPIRE h 0 FIELDS 2 a c");
    assert_eq!(h.run("EXISTS h"), Reply::Integer(0));
}

#[test]
fn field_expiry_arguments_are_checked_as_redis_does() {
    let mut h = Harness::new();
    h.run("HSET h a 1");
    let cases = [
        (
            "HEXPIRE h 100 FIELDS x a",
            "ERR Parameter `numFields` should be greater than 0",
        ),
        (
            "HEXPIRE h 100 FIELDS 0 a",
            "ERR Parameter `numFields` should be greater than 0",
        ),
        (
            "HEXPIRE h 100 FIELDS 3 a b",
            "ERR wrong number of arguments",
        ),
        ("HEXPIRE h 100 FOO FIELDS 1 a", "ERR unknown argument: FOO"),
        ("HEXPIRE h 100 FIELDS 1 a b", "ERR unknown argument: b"),
        (
            "HEXPIRE h -1 FIELDS 1 a",
            "ERR invalid expire time, must be >= 0",
        ),
        (
            "HEXPIRE h abc FIELDS 1 a",
            "ERR value is not an integer or out of range",
        ),
        (
            "HEXPIRE h 100 NX XX FIELDS 1 a",
            "ERR Multiple condition flags specified",
        ),
        (
            "HPEXPIRE h 9999999999999999 FIELDS 1 a",
            "ERR invalid expire time in 'hpexpire' command",
        ),
        (
            "HTTL h FIELDS 3 a b",
            "ERR The `numfields` parameter must match the number of arguments",
        ),
        (
            "HTTL h NX FIELDS 1 a",
            "ERR Mandatory argument FIELDS is missing or not at the right position",
        ),
        (
            "HGETEX h EX 10 PX 10 FIELDS 1 a",
            "ERR Only one of EX, PX, EXAT, PXAT or PERSIST arguments can be specified",
        ),
        (
            "HSETEX h FXX FNX FIELDS 1 a 1",
            "ERR Only one of FXX or FNX arguments can be specified",
        ),
        (
            "HSETEX h EX 10 KEEPTTL FIELDS 1 a 1",
            "ERR Only one of EX, PX, EXAT, PXAT or KEEPTTL arguments can be specified",
        ),
        ("HSETEX h EX 10 FIELDS 1 a", "ERR wrong number of arguments"),
        (
            "HGETEX h PX 9999999999999999 FIELDS 1 a",
            "ERR invalid expire time in 'hgetex' command",
        ),
    ];
    for (line, error) in cases {
        assert_eq!(h.run(line), Reply::error(error), "{line}");
    }
    h.run("SET s x");
    for line in [
        "HEXPIRE s 1 FIELDS 1 a",
        "HTTL s FIELDS 1 a",
        "HPERSIST s FIELDS 1 a",
    ] {
        assert_eq!(
            h.run(line),
            Reply::error("WRONGTYPE Operation against a key holding the wrong kind of value")
        );
    }
    assert_eq!(h.run("HGET h a"), bulk("1"));
}

#[test]
fn writes_keep_or_drop_field_times_as_redis_does() {
    let mut h = Harness::new();
    h.run("HSET h a 1 b 2");
    h.run(&format!("HPEXPIREAT h {FAR} FIELDS 2 a b"));
    // HINCRBY keeps the time, HINCRBYFLOAT too and tells replicas to keep it.
    assert_eq!(h.run("HINCRBY h a 5"), Reply::Integer(6));
    assert_eq!(
        h.effects_of("HINCRBYFLOAT h a 1.5"),
        vec!["0 HSETEX h KEEPTTL FIELDS 1 a 7.5"]
    );
    assert_eq!(h.run("HPEXPIRETIME h FIELDS 1 a"), ints(&[FAR as i64]));
    // HSET drops it.
    h.run("HSET h a 9");
    assert_eq!(h.run("HTTL h FIELDS 1 a"), ints(&[-1]));
    assert_eq!(
        h.effects_of("HPERSIST h FIELDS 3 a b zz"),
        vec!["0 HPERSIST h FIELDS 3 a b zz"]
    );
    assert_eq!(h.run("HPERSIST h FIELDS 2 a zz"), ints(&[-1, -2]));
    assert!(h.effects_of("HPERSIST h FIELDS 1 a").is_empty());
    assert_eq!(h.run("HPERSIST nokey FIELDS 1 a"), ints(&[-2]));
}

#[test]
fn hgetex_hsetex_hgetdel_reply_and_propagate_effects() {
    let mut h = Harness::new();
    h.run("HSET h a 1 c 3");
    assert_eq!(
        h.run(&format!("HGETEX h PXAT {FAR} FIELDS 2 a zz")),
        Reply::Array(vec![bulk("1"), Reply::Nil])
    );
    assert_eq!(h.run("HPEXPIRETIME h FIELDS 1 a"), ints(&[FAR as i64]));
    assert_eq!(
        h.effects_of("HGETEX h PERSIST FIELDS 2 a c"),
        vec!["0 HPERSIST h FIELDS 1 a"]
    );
    assert_eq!(h.effects_of("HGETEX h EX 0 FIELDS 1 c"), vec!["0 HDEL h c"]);
    assert!(h.effects_of("HGETEX h PX 0 FIELDS 1 zz").is_empty());
    assert_eq!(
        h.run("HGETEX nokey EX 10 FIELDS 1 a"),
        Reply::Array(vec![Reply::Nil])
    );

    assert_eq!(
        h.effects_of(&format!("HSETEX h FXX PXAT {FAR} FIELDS 1 a 7")),
        vec![format!("0 HSETEX h FXX PXAT {FAR} FIELDS 1 a 7")]
    );
    assert_eq!(h.run("HSETEX h FNX EX 50 FIELDS 1 a 7"), Reply::Integer(0));
    assert_eq!(
        h.effects_of("HSETEX h KEEPTTL FIELDS 1 a 8"),
        vec!["0 HSETEX h KEEPTTL FIELDS 1 a 8"]
    );
    assert_eq!(h.run("HPEXPIRETIME h FIELDS 1 a"), ints(&[FAR as i64]));
    assert_eq!(h.run("HSETEX h FIELDS 2 q 1 r 2"), Reply::Integer(1));
    assert_eq!(h.run("HTTL h FIELDS 1 q"), ints(&[-1]));
    assert_eq!(
        h.effects_of("HSETEX h PX 0 FIELDS 1 q 1"),
        vec!["0 HDEL h q"]
    );
    assert_eq!(h.run("HSETEX h2 FXX FIELDS 1 a 1"), Reply::Integer(0));
    assert_eq!(h.run("EXISTS h2"), Reply::Integer(0));

    assert_eq!(
        h.effects_of("HGETDEL h FIELDS 2 r zz"),
        vec!["0 HDEL h r zz"]
    );
    assert_eq!(
        h.run("HGETDEL nokey FIELDS 1 a"),
        Reply::Array(vec![Reply::Nil])
    );
    assert_eq!(h.run("HGETDEL h FIELDS 1 a"), Reply::Array(vec![bulk("8")]));
    assert_eq!(h.run("EXISTS h"), Reply::Integer(0));
}

#[test]
fn due_fields_are_deleted_on_access_with_hdel_before_the_command() {
    let mut h = Harness::new();
    h.run("HSET h a 1 b 2");
    // A time in the past set directly on the stored hash, as a loaded snapshot can hold.
    {
        let db = &mut h.state.dbs[0];
        let Some(crate::store::Entry {
            value: crate::store::Value::Hash(hash),
            ..
        }) = db.get_mut(b"h")
        else {
            panic!("h is a hash");
        };
        assert!(std::sync::Arc::make_mut(hash).set_field_expiry(b"a", 5));
        db.note_field_expiry(b"h");
    }
    assert_eq!(
        h.effects_of("HSET h c 3"),
        vec!["0 HDEL h a", "0 HSET h c 3"]
    );
    assert_eq!(h.run("HLEN h"), Reply::Integer(2));
}
