//! The sketch format against bytes redis-server 7.0.15 wrote, and what the commands
//! propagate.

use bytes::BytesMut;

use super::sketch::{self, Encoding};
use crate::cmd::keys::test_support::Harness;

#[test]
fn an_empty_sketch_is_one_xzero() {
    let empty = sketch::new_sparse();
    assert_eq!(empty.len(), 18);
    assert_eq!(&empty[16..], &[0x7f, 0xff]);
    assert_eq!(sketch::encoding_of(&empty), Some(Encoding::Sparse));
    assert_eq!(sketch::cardinality(&empty), Ok(0));
}

/// `PFADD h a b c` on redis-server 7.0.15, then PFCOUNT: the same opcodes, and a cached
/// count of 3 in the header.
#[test]
fn three_elements_as_redis_writes_them() {
    let mut value = BytesMut::from(&sketch::new_sparse()[..]);
    for element in [&b"a"[..], b"b", b"c"] {
        assert_eq!(sketch::add(&mut value, element, 3000), Ok(true));
    }
    sketch::mark_cardinality_stale(&mut value);
    let mut expected = b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80".to_vec();
    expected.extend_from_slice(b"\x60\xf3\x80\x50\xb1\x84\x4b\xfb\x80\x42\x5a");
    assert_eq!(&value[..], &expected[..]);
    assert_eq!(
        sketch::describe_sparse(&value),
        "Z:8436 v:1,1 Z:4274 v:2,1 Z:3068 v:1,1 Z:603"
    );
    assert_eq!(sketch::cached_cardinality(&value), None);
    assert_eq!(sketch::cardinality(&value), Ok(3));
    sketch::set_cached_cardinality(&mut value, 3);
    assert_eq!(sketch::cached_cardinality(&value), Some(3));
    // Adding an element already counted changes nothing.
    assert_eq!(sketch::add(&mut value, b"a", 3000), Ok(false));
}

/// Past the sparse limit, or with a run too long for a VAL, the sketch turns dense and
/// keeps its registers.
#[test]
fn promotion_keeps_the_registers() {
    let mut value = BytesMut::from(&sketch::new_sparse()[..]);
    let mut added = 0u32;
    while sketch::encoding_of(&value) == Some(Encoding::Sparse) {
        sketch::add(&mut value, &added.to_le_bytes(), 200).unwrap_or_default();
        added += 1;
        assert!(value.len() <= 200 || sketch::encoding_of(&value) == Some(Encoding::Dense));
    }
    assert_eq!(value.len(), sketch::DENSE_BYTES);
    let mut again = BytesMut::from(&sketch::new_sparse()[..]);
    for i in 0..added {
        sketch::add(&mut again, &i.to_le_bytes(), 1 << 20).unwrap_or_default();
    }
    assert_eq!(sketch::make_dense(&mut again), Ok(true));
    assert_eq!(
        sketch::dense_registers(&value),
        sketch::dense_registers(&again)
    );
}

/// A sparse sketch whose runs do not cover every register is refused, not counted.
#[test]
fn damaged_sparse_sketches_are_refused() {
    let mut short = sketch::new_sparse();
    short.truncate(17);
    short.push(0x00);
    assert_eq!(sketch::encoding_of(&short), Some(Encoding::Sparse));
    assert!(sketch::cardinality(&short).is_err());
    let mut max = Box::new([0u8; sketch::REGISTERS]);
    assert!(sketch::merge_into(&mut max, &short).is_err());
    let mut value = BytesMut::from(&short[..]);
    assert!(sketch::make_dense(&mut value).is_err());
    assert!(sketch::encoding_of(b"HYLL\x00short").is_none());
    assert!(sketch::encoding_of(b"NOPE\x01\0\0\0\0\0\0\0\0\0\0\0\x7f\xff").is_none());
}

/// PFADD goes to replicas as it came when it changed something; a PFCOUNT that refreshed
/// the cached count goes too (the string's bytes changed), one answered from the cache
/// does not.
#[test]
fn what_replicas_get() {
    let mut h = Harness::new();
    assert_eq!(h.effects_of("PFADD h a b"), vec!["0 PFADD h a b"]);
    assert!(h.effects_of("PFADD h a").is_empty());
    assert_eq!(h.effects_of("PFCOUNT h"), vec!["0 PFCOUNT h"]);
    assert!(h.effects_of("PFCOUNT h").is_empty());
    assert!(h.effects_of("PFCOUNT h h2").is_empty());
    assert_eq!(h.effects_of("PFMERGE d h"), vec!["0 PFMERGE d h"]);
    assert_eq!(
        h.effects_of("PFDEBUG TODENSE d"),
        vec!["0 PFDEBUG TODENSE d"]
    );
    assert!(h.effects_of("PFDEBUG TODENSE d").is_empty());
}
