//! Up to [`INLINE_BYTES_MAX`] bytes held in place, with their length: what fits in the 32
//! bytes of a `Bytes` beside an enum's tag. Short keys, short string values and short bulk
//! replies use it to avoid a separate allocation (and the cache miss of following it).

use std::fmt;

/// The most bytes an [`InlineBytes`] holds.
pub const INLINE_BYTES_MAX: usize = 30;

#[derive(Clone, Copy)]
pub struct InlineBytes {
    /// ≤ [`INLINE_BYTES_MAX`]; the bytes past it are zero.
    len: u8,
    bytes: [u8; INLINE_BYTES_MAX],
}

impl InlineBytes {
    /// A copy of `data`; None when it is longer than [`INLINE_BYTES_MAX`].
    #[inline]
    pub fn new(data: &[u8]) -> Option<InlineBytes> {
        let len = u8::try_from(data.len())
            .ok()
            .filter(|_| data.len() <= INLINE_BYTES_MAX)?;
        let mut bytes = [0u8; INLINE_BYTES_MAX];
        bytes.get_mut(..data.len())?.copy_from_slice(data);
        Some(InlineBytes { len, bytes })
    }

    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or_default()
    }
}

impl fmt::Debug for InlineBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&bytes::Bytes::copy_from_slice(self.as_bytes()), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_up_to_its_limit() {
        for len in [0, 1, INLINE_BYTES_MAX] {
            let data = vec![b'x'; len];
            assert_eq!(
                InlineBytes::new(&data).map(|b| b.as_bytes().to_vec()),
                Some(data)
            );
        }
        assert!(InlineBytes::new(&[b'x'; INLINE_BYTES_MAX + 1]).is_none());
    }
}
