//! What SORT propagates: STORE as it came (with what it changed counted), nothing otherwise.

use super::test_support::Harness;
use crate::resp::Reply;

#[test]
fn sort_store_propagates_and_plain_sort_does_not() {
    let mut h = Harness::new();
    h.run("RPUSH l 3 1 2");
    assert!(h.effects_of("SORT l").is_empty());
    assert_eq!(h.effects_of("SORT l STORE d"), vec!["0 SORT l STORE d"]);
    assert_eq!(h.run("LLEN d"), Reply::Integer(3));
    // An empty result deletes the destination, which is a change only if it existed.
    assert_eq!(
        h.effects_of("SORT nokey STORE d"),
        vec!["0 SORT nokey STORE d"]
    );
    assert_eq!(h.run("EXISTS d"), Reply::Integer(0));
    assert!(h.effects_of("SORT nokey STORE d").is_empty());
    // The destination loses its expiry, as a SET would.
    h.run("SET d x EX 100");
    h.run("SORT l STORE d");
    assert_eq!(h.expire_at("d"), None);
}
