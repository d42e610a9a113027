//! What GEOADD propagates: the ZADD it stands for.

use crate::cmd::keys::test_support::Harness;

#[test]
fn geoadd_goes_to_replicas_as_zadd() {
    let mut h = Harness::new();
    assert_eq!(
        h.effects_of("GEOADD s CH 13.361389 38.115556 Palermo"),
        vec!["0 ZADD s CH 3479099956230698 Palermo"]
    );
    // Nothing changed, nothing sent; an error neither.
    assert!(h.effects_of("GEOADD s NX 1 1 Palermo").is_empty());
    assert!(h.effects_of("GEOADD s 200 1 x").is_empty());
}
