//! One record of the replication log: the RESP bytes of whole commands (never half a command,
//! never half a MULTI…EXEC block), with where they start, the db selected before them, the
//! history (replid) they belong to, and a CRC so a damaged record is detected, not replayed.

use bytes::{BufMut, Bytes, BytesMut};
use thiserror::Error;

use sluice_rdb::crc::crc64;

use super::ids::ReplId;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Log offset before the first payload byte (Redis's master_repl_offset at that point).
    pub start_offset: u64,
    /// Db selected in the stream before the payload's first byte; `u32::MAX` when unknown
    /// (the payload then starts with a SELECT).
    pub db: u32,
    pub replid: ReplId,
    pub crc: u64,
    pub payload: Bytes,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum RecordError {
    #[error("record at offset {offset}: truncated ({len} bytes)")]
    Truncated { offset: u64, len: usize },
    #[error("record at offset {offset}: CRC mismatch (stored {stored:#x}, computed {computed:#x})")]
    Crc {
        offset: u64,
        stored: u64,
        computed: u64,
    },
    #[error("record: replid is not 40 hexadecimal characters")]
    BadReplid,
    /// The bytes around the record failed a check that covers more than the record (a
    /// chunk's CRC); the records before it passed their own.
    #[error("damaged: {0}")]
    Damaged(String),
}

/// Fixed part of the encoded form: start offset, db, crc, payload length, replid.
const HEADER_BYTES: usize = 8 + 4 + 8 + 4 + 40;

impl Record {
    pub fn new(start_offset: u64, db: u32, replid: ReplId, payload: Bytes) -> Record {
        let crc = crc64(&payload);
        Record {
            start_offset,
            db,
            replid,
            crc,
            payload,
        }
    }

    /// Bytes the record takes encoded: its header, then its payload.
    pub fn encoded_bytes(&self) -> usize {
        HEADER_BYTES + self.payload.len()
    }

    pub fn end_offset(&self) -> u64 {
        self.start_offset + self.payload.len() as u64
    }

    pub fn verify(&self) -> Result<(), RecordError> {
        let computed = crc64(&self.payload);
        if computed != self.crc {
            return Err(RecordError::Crc {
                offset: self.start_offset,
                stored: self.crc,
                computed,
            });
        }
        Ok(())
    }

    /// Binary form for durable storage.
    pub fn encode(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(HEADER_BYTES + self.payload.len());
        self.encode_into(&mut out);
        out.freeze()
    }

    /// [`Record::encode`] appended to `out` (a chunk being built: one copy of the payload).
    pub fn encode_into(&self, out: &mut BytesMut) {
        out.reserve(HEADER_BYTES + self.payload.len());
        out.put_u64_le(self.start_offset);
        out.put_u32_le(self.db);
        out.put_u64_le(self.crc);
        // A payload past u32::MAX bytes makes a chunk that the segment store refuses (its
        // chunks hold 1 GiB at most), so a clamped length never reaches the disk.
        out.put_u32_le(u32::try_from(self.payload.len()).unwrap_or(u32::MAX));
        out.put_slice(self.replid.as_bytes());
        out.put_slice(&self.payload);
    }

    /// Length of the encoded record at the start of `bytes`, from its header.
    pub fn encoded_len(bytes: &[u8]) -> Result<usize, RecordError> {
        let header = bytes.get(..HEADER_BYTES).ok_or(RecordError::Truncated {
            offset: 0,
            len: bytes.len(),
        })?;
        let len = u32::from_le_bytes([header[20], header[21], header[22], header[23]]);
        Ok(HEADER_BYTES + len as usize)
    }

    /// Parses [`Record::encode`]'s form and checks the CRC (check after reading, as it was
    /// computed before writing).
    pub fn decode(bytes: &Bytes) -> Result<Record, RecordError> {
        let truncated = |offset| RecordError::Truncated {
            offset,
            len: bytes.len(),
        };
        if bytes.len() < HEADER_BYTES {
            return Err(truncated(0));
        }
        let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap_or([0; 8]));
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap_or([0; 4]));
        let start_offset = u64_at(0);
        let db = u32_at(8);
        let crc = u64_at(12);
        let len = u32_at(20) as usize;
        if bytes.len() != HEADER_BYTES + len {
            return Err(truncated(start_offset));
        }
        let replid = ReplId::parse(&bytes[24..64]).ok_or(RecordError::BadReplid)?;
        let record = Record {
            start_offset,
            db,
            replid,
            crc,
            payload: bytes.slice(HEADER_BYTES..),
        };
        record.verify()?;
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Record {
        Record::new(
            100,
            3,
            ReplId::parse_str(&"f".repeat(40)).unwrap(),
            Bytes::from_static(b"*1\r\n$4\r\nPING\r\n"),
        )
    }

    #[test]
    fn round_trip_and_crc() {
        let r = sample();
        assert_eq!(r.end_offset(), 114);
        let encoded = r.encode();
        assert_eq!(Record::decode(&encoded).unwrap(), r);
        let mut damaged = encoded.to_vec();
        let last = damaged.len() - 1;
        damaged[last] ^= 1;
        assert!(matches!(
            Record::decode(&Bytes::from(damaged)),
            Err(RecordError::Crc { .. })
        ));
        assert!(matches!(
            Record::decode(&encoded.slice(..30)),
            Err(RecordError::Truncated { .. })
        ));
    }
}
