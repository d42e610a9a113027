//! A key as the keyspace holds it. Keys of up to 30 bytes
//! ([`INLINE_BYTES_MAX`](crate::util::inline_bytes::INLINE_BYTES_MAX); nearly every key real
//! applications use) live inside the hash table's slot, so a lookup compares them without
//! following a pointer: with keys on the heap, that second cache miss per lookup was a
//! quarter of GET's CPU time (see tuning/README.md, "Command throughput"). Longer keys are
//! shared slices, so that copying a segment's table for a snapshot stays a reference count
//! per key.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

use bytes::Bytes;

use crate::util::inline_bytes::InlineBytes;

#[derive(Clone)]
pub enum Key {
    Inline(InlineBytes),
    Heap(Arc<[u8]>),
}

// The table's slots hold a key and an entry; the key must not grow them.
const _: () = assert!(std::mem::size_of::<Key>() == 32);

impl Key {
    pub fn new(key: &[u8]) -> Key {
        match InlineBytes::new(key) {
            Some(inline) => Key::Inline(inline),
            None => Key::Heap(Arc::from(key)),
        }
    }

    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Key::Inline(inline) => inline.as_bytes(),
            Key::Heap(bytes) => bytes,
        }
    }

    /// A copy as `Bytes`, for replies and for the replication stream.
    pub fn to_bytes(&self) -> Bytes {
        Bytes::copy_from_slice(self.as_bytes())
    }
}

impl Deref for Key {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsRef<[u8]> for Key {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Borrow<[u8]> for Key {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

// Hash and equality are those of the bytes, as `Borrow<[u8]>` requires: the table is probed
// with `&[u8]` keys.
impl Hash for Key {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl PartialEq for Key {
    #[inline]
    fn eq(&self, other: &Key) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Key {}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Key) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Key) -> std::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&Bytes::copy_from_slice(self.as_bytes()), f)
    }
}

impl From<&[u8]> for Key {
    fn from(key: &[u8]) -> Key {
        Key::new(key)
    }
}

impl From<&Bytes> for Key {
    fn from(key: &Bytes) -> Key {
        Key::new(key)
    }
}

impl From<Bytes> for Key {
    fn from(key: Bytes) -> Key {
        Key::new(&key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::inline_bytes::INLINE_BYTES_MAX;
    use std::hash::BuildHasher;

    #[test]
    fn short_keys_are_inline_and_long_ones_shared() {
        assert!(matches!(Key::new(b""), Key::Inline(i) if i.as_bytes().is_empty()));
        let at_limit = vec![b'k'; INLINE_BYTES_MAX];
        assert!(matches!(Key::new(&at_limit), Key::Inline(_)));
        let over = vec![b'k'; INLINE_BYTES_MAX + 1];
        assert!(matches!(Key::new(&over), Key::Heap(_)));
        for bytes in [&b""[..], b"key:000000012345", &at_limit, &over] {
            assert_eq!(Key::new(bytes).as_bytes(), bytes);
        }
    }

    #[test]
    fn hashes_and_compares_as_its_bytes() {
        let state = foldhash::fast::FixedState::with_seed(7);
        for bytes in [&b"a"[..], &[b'x'; 100][..]] {
            let key = Key::new(bytes);
            assert_eq!(state.hash_one(&key), state.hash_one(bytes));
            assert_eq!(key, Key::new(bytes));
        }
        assert_ne!(Key::new(b"a"), Key::new(b"a\0"));
        assert!(Key::new(b"a") < Key::new(b"b"));
    }
}
