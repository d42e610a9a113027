//! CRC-64 as Redis computes it over RDB files ("Jones": reflected, polynomial
//! 0xad93d23594c935a9, init 0, no final xor). crc-fast calls it `Crc64Redis` and computes it
//! with carry-less multiplication over whole buffers.

use crc_fast::{CrcAlgorithm, Digest};

/// Streaming CRC-64/REDIS.
#[derive(Clone)]
pub struct Crc64 {
    digest: Digest,
}

impl Crc64 {
    pub fn new() -> Self {
        Self {
            digest: Digest::new(CrcAlgorithm::Crc64Redis),
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        if !data.is_empty() {
            self.digest.update(data);
        }
    }

    pub fn value(&self) -> u64 {
        self.digest.finalize()
    }
}

impl Default for Crc64 {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Crc64 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Crc64({:#018x})", self.value())
    }
}

/// CRC-64/REDIS of one buffer.
pub fn crc64(data: &[u8]) -> u64 {
    crc_fast::checksum(CrcAlgorithm::Crc64Redis, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_value() {
        assert_eq!(crc64(b"123456789"), 0xe9c6d914c4b8d9ca);
        let mut c = Crc64::new();
        c.update(b"1234");
        c.update(b"");
        c.update(b"56789");
        assert_eq!(c.value(), 0xe9c6d914c4b8d9ca);
    }
}
