//! What the hash commands reply and propagate.

use bytes::Bytes;

use crate::cmd::keys::test_support::Harness;
use crate::resp::Reply;

fn bulk(s: &str) -> Reply {
    Reply::Bulk(Bytes::copy_from_slice(s.as_bytes()))
}

#[test]
fn hincrbyfloat_propagates_the_result_as_hset() {
    let mut h = Harness::new();
    h.run("HSET h f 0.1");
    assert_eq!(h.effects_of("HINCRBYFLOAT h f 0.2"), vec!["0 HSET h f 0.3"]);
    assert_eq!(h.run("HGET h f"), bulk("0.3"));
    assert_eq!(h.run("HINCRBYFLOAT h g 1.0e3"), bulk("1000"));
}

#[test]
fn refused_increments_leave_no_key_behind() {
    let mut h = Harness::new();
    assert!(h.run("HINCRBY h f x").is_error());
    assert!(h.run("HINCRBYFLOAT h f inf").is_error());
    assert_eq!(h.run("EXISTS h"), Reply::Integer(0));
    h.run("HSET h big 9223372036854775807 s abc");
    assert_eq!(
        h.run("HINCRBY h big 1"),
        Reply::error("ERR increment or decrement would overflow")
    );
    assert_eq!(
        h.run("HINCRBY h s 1"),
        Reply::error("ERR hash value is not an integer")
    );
    assert_eq!(
        h.run("HINCRBYFLOAT h s 1"),
        Reply::error("ERR hash value is not a float")
    );
    assert!(h.effects_of("HINCRBY h s 1").is_empty());
}

#[test]
fn writes_that_change_nothing_are_not_propagated() {
    let mut h = Harness::new();
    assert_eq!(h.effects_of("HSET h a 1"), vec!["0 HSET h a 1"]);
    assert!(h.effects_of("HSETNX h a 2").is_empty());
    assert!(h.effects_of("HDEL h zz").is_empty());
    assert_eq!(h.effects_of("HDEL h a zz"), vec!["0 HDEL h a zz"]);
    assert_eq!(h.run("EXISTS h"), Reply::Integer(0));
}

#[test]
fn large_hashes_scan_in_steps_that_cover_every_field() {
    let mut h = Harness::new();
    let total = 5000;
    for chunk in (0..total).collect::<Vec<_>>().chunks(500) {
        let pairs: Vec<String> = chunk.iter().map(|i| format!("f{i} v{i}")).collect();
        h.run(&format!("HSET big {}", pairs.join(" ")));
    }
    let mut seen = std::collections::HashSet::new();
    let mut cursor = "0".to_string();
    let mut steps = 0;
    loop {
        let Reply::Array(parts) = h.run(&format!("HSCAN big {cursor} COUNT 100")) else {
            panic!("HSCAN replies an array");
        };
        let [Reply::Bulk(next), Reply::Array(items)] = parts.as_slice() else {
            panic!("HSCAN replies [cursor, items]");
        };
        for pair in items.chunks(2) {
            if let Reply::Bulk(field) = &pair[0] {
                seen.insert(field.clone());
            }
        }
        steps += 1;
        cursor = String::from_utf8_lossy(next).into_owned();
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), total);
    assert!(steps > 1);
}
