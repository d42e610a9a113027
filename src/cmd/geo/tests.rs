//! What the geo commands propagate, and how they write distances.

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

/// The STORE searches go to replicas as they came; one that stores nothing and deletes
/// nothing sends nothing.
#[test]
fn stores_go_to_replicas_as_they_came() {
    let mut h = Harness::new();
    h.effects_of("GEOADD s 13.361389 38.115556 Palermo");
    assert_eq!(
        h.effects_of("GEORADIUS s 13 38 100 km STORE d"),
        vec!["0 GEORADIUS s 13 38 100 km STORE d"]
    );
    assert_eq!(
        h.effects_of("GEOSEARCHSTORE d s FROMLONLAT 13 38 BYRADIUS 100 km STOREDIST"),
        vec!["0 GEOSEARCHSTORE d s FROMLONLAT 13 38 BYRADIUS 100 km STOREDIST"]
    );
    assert!(h.effects_of("GEORADIUS s 13 38 100 km").is_empty());
    assert!(
        h.effects_of("GEOSEARCHSTORE none s FROMLONLAT 0 0 BYRADIUS 1 m")
            .is_empty()
    );
}

/// Distances are rounded as Redis's `fixedpoint_d2string` rounds them: the scaled double
/// to the even integer, not the decimal expansion of the double.
#[test]
fn distances_round_as_redis_does() {
    use super::commands::fixed4;
    assert_eq!(fixed4(0.0), "0.0000");
    assert_eq!(fixed4(166274.1516), "166274.1516");
    assert_eq!(fixed4(0.07), "0.0700");
    // 0.00025 is a little above the halfway point, but times 10^4 it is exactly 2.5.
    assert_eq!(fixed4(0.00025), "0.0002");
    assert_eq!(format!("{:.4}", 0.00025), "0.0003");
    assert_eq!(fixed4(-1.5), "-1.5000");
}
