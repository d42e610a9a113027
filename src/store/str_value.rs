//! A string value as the keyspace holds it. Values of up to 30 bytes
//! ([`INLINE_BYTES_MAX`](crate::util::inline_bytes::INLINE_BYTES_MAX); counters, flags, short
//! tokens: most string values) live inside the entry, in the hash table's slot: a GET reads
//! them without a second cache miss, and a SET that overwrites one neither allocates nor
//! frees (see tuning/README.md, "Command throughput"). Longer values are shared `Bytes`, so
//! that snapshots and replies in flight hold them by reference count.

use std::fmt;
use std::ops::Deref;

use bytes::Bytes;

use crate::util::inline_bytes::InlineBytes;

/// `Inline` fits in the 32 bytes of a `Bytes`, so that `Value` does not grow (asserted where
/// it is defined).
#[derive(Clone)]
pub enum StrValue {
    Inline(InlineBytes),
    Shared(Bytes),
}

impl StrValue {
    /// A value holding a copy of `data`.
    pub fn copy_from(data: &[u8]) -> StrValue {
        match InlineBytes::new(data) {
            Some(inline) => StrValue::Inline(inline),
            None => StrValue::Shared(Bytes::copy_from_slice(data)),
        }
    }

    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            StrValue::Inline(inline) => inline.as_bytes(),
            StrValue::Shared(bytes) => bytes,
        }
    }

    /// The value as `Bytes`: a reference count for a shared value, a copy of an inline one.
    pub fn to_bytes(&self) -> Bytes {
        match self {
            StrValue::Inline(inline) => Bytes::copy_from_slice(inline.as_bytes()),
            StrValue::Shared(bytes) => bytes.clone(),
        }
    }
}

impl Default for StrValue {
    fn default() -> StrValue {
        StrValue::copy_from(&[])
    }
}

/// Short values are copied inline; longer ones are kept as they are (the caller decides
/// whether they may share a larger buffer, see `snapshot::load::detach`).
impl From<Bytes> for StrValue {
    fn from(data: Bytes) -> StrValue {
        match InlineBytes::new(&data) {
            Some(inline) => StrValue::Inline(inline),
            None => StrValue::Shared(data),
        }
    }
}

impl From<&[u8]> for StrValue {
    fn from(data: &[u8]) -> StrValue {
        StrValue::copy_from(data)
    }
}

impl From<&str> for StrValue {
    fn from(data: &str) -> StrValue {
        StrValue::copy_from(data.as_bytes())
    }
}

impl Deref for StrValue {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsRef<[u8]> for StrValue {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq for StrValue {
    fn eq(&self, other: &StrValue) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for StrValue {}

impl fmt::Debug for StrValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&Bytes::copy_from_slice(self.as_bytes()), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::inline_bytes::INLINE_BYTES_MAX;

    #[test]
    fn short_values_are_inline_and_long_ones_shared() {
        assert!(matches!(
            StrValue::copy_from(b""),
            StrValue::Inline(i) if i.as_bytes().is_empty()
        ));
        let at_limit = vec![b'v'; INLINE_BYTES_MAX];
        assert!(matches!(
            StrValue::copy_from(&at_limit),
            StrValue::Inline(_)
        ));
        let over = vec![b'v'; INLINE_BYTES_MAX + 1];
        assert!(matches!(StrValue::copy_from(&over), StrValue::Shared(_)));
        assert!(matches!(
            StrValue::from(Bytes::from(over.clone())),
            StrValue::Shared(_)
        ));
        assert!(matches!(
            StrValue::from(Bytes::from(at_limit.clone())),
            StrValue::Inline(_)
        ));
        for data in [&b""[..], b"1", &at_limit, &over] {
            let value = StrValue::copy_from(data);
            assert_eq!(value.as_bytes(), data);
            assert_eq!(value.to_bytes(), data);
            assert_eq!(value.len(), data.len());
        }
    }

    #[test]
    fn a_long_value_keeps_its_buffer() {
        let data = Bytes::from(vec![b'x'; 100]);
        let value = StrValue::from(data.clone());
        assert_eq!(value.to_bytes().as_ptr(), data.as_ptr());
    }

    #[test]
    fn equality_is_of_the_bytes() {
        let long = vec![b'a'; 40];
        assert_eq!(
            StrValue::copy_from(&long),
            StrValue::from(Bytes::from(long))
        );
        assert_ne!(StrValue::copy_from(b"a"), StrValue::copy_from(b"b"));
    }
}
