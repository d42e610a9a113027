//! Reading a full sync's payload off the replica's input, without I/O: the three framings
//! (`$<len>`, `$EOF:<mark>`, sluice's compressed frames) behind one interface. The link
//! feeds it what the socket gave; it takes the payload's bytes off the front and returns the
//! RDB bytes in them, and says when the payload is complete. What follows the payload stays
//! in the input: the command stream.

use bytes::{Bytes, BytesMut};
use sluice_rdb::framing::{EOF_MARK_BYTES, PayloadHeader};

use crate::fanout::compressed::{DeframeError, Deframer};

pub enum PayloadReader {
    /// `$<len>`: exactly this many bytes more.
    Length { remaining: u64 },
    /// `$EOF:<mark>`: everything until the mark, which ends the payload. The loader finds
    /// the RDB's end by itself (its EOF opcode and checksum); the mark is checked after it.
    /// `tail` holds the last bytes seen, to notice the mark at the end of a read.
    Eof {
        mark: [u8; EOF_MARK_BYTES],
        tail: Vec<u8>,
    },
    /// Compressed frames, ending with an end frame that carries the mark.
    Compressed(Deframer),
}

/// What one [`PayloadReader::push`] took.
#[derive(Debug, Default)]
pub struct Pushed {
    /// RDB bytes, decompressed, in order.
    pub rdb: Vec<Bytes>,
    /// Bytes taken off the input (what crossed the wire).
    pub wire_bytes: u64,
}

impl PayloadReader {
    pub fn new(header: PayloadHeader) -> PayloadReader {
        match header {
            PayloadHeader::Length(remaining) => PayloadReader::Length { remaining },
            PayloadHeader::Eof(mark) => PayloadReader::Eof {
                mark: *mark.as_bytes(),
                tail: Vec::with_capacity(2 * EOF_MARK_BYTES),
            },
            PayloadHeader::Zstd(mark) => PayloadReader::Compressed(Deframer::new(mark)),
        }
    }

    /// The mark that must follow the RDB, for `$EOF:` framing.
    pub fn eof_mark(&self) -> Option<[u8; EOF_MARK_BYTES]> {
        match self {
            PayloadReader::Eof { mark, .. } => Some(*mark),
            _ => None,
        }
    }

    /// Takes the payload's bytes off the front of `input`.
    pub fn push(&mut self, input: &mut BytesMut) -> Result<Pushed, DeframeError> {
        if input.is_empty() || self.is_complete() {
            return Ok(Pushed::default());
        }
        match self {
            PayloadReader::Length { remaining } => {
                let take = (*remaining).min(input.len() as u64);
                *remaining -= take;
                let chunk = input.split_to(crate::util::num::usize_from(take)).freeze();
                Ok(Pushed {
                    rdb: vec![chunk],
                    wire_bytes: take,
                })
            }
            PayloadReader::Eof { tail, .. } => {
                let chunk = input.split().freeze();
                tail.extend_from_slice(&chunk[chunk.len().saturating_sub(EOF_MARK_BYTES)..]);
                let excess = tail.len().saturating_sub(EOF_MARK_BYTES);
                tail.drain(..excess);
                Ok(Pushed {
                    wire_bytes: chunk.len() as u64,
                    rdb: vec![chunk],
                })
            }
            PayloadReader::Compressed(frames) => {
                // What follows the end frame (the command stream) stays in the input.
                let before = input.len();
                let rdb = frames.push(input)?;
                Ok(Pushed {
                    wire_bytes: (before - input.len()) as u64,
                    rdb,
                })
            }
        }
    }

    /// The payload has been read whole: its length, its end frame, or the mark at the end
    /// of what was read.
    pub fn is_complete(&self) -> bool {
        match self {
            PayloadReader::Length { remaining } => *remaining == 0,
            PayloadReader::Eof { mark, tail } => tail.as_slice() == mark.as_slice(),
            PayloadReader::Compressed(frames) => frames.is_done(),
        }
    }

    /// Whether the loader finishing (the RDB complete) also ends the payload: true for
    /// `$EOF:` framing, whose mark follows the RDB, unlike a compressed payload's end frame
    /// or the rest of a `$<len>`.
    pub fn ends_with_rdb(&self) -> bool {
        matches!(self, PayloadReader::Eof { .. })
    }
}

#[cfg(test)]
mod tests {
    use sluice_rdb::framing::EofMark;

    use super::*;

    fn feed(reader: &mut PayloadReader, input: &mut BytesMut, bytes: &[u8]) -> Pushed {
        input.extend_from_slice(bytes);
        reader.push(input).unwrap()
    }

    fn joined(pushed: &[Pushed]) -> Vec<u8> {
        pushed.iter().flat_map(|p| p.rdb.concat()).collect()
    }

    #[test]
    fn a_length_payload_takes_exactly_its_bytes_and_leaves_the_stream() {
        let mut reader = PayloadReader::new(PayloadHeader::Length(10));
        let mut input = BytesMut::new();
        let first = feed(&mut reader, &mut input, b"0123");
        assert!(!reader.is_complete());
        let second = feed(&mut reader, &mut input, b"456789*1\r\n");
        assert!(reader.is_complete());
        assert_eq!(joined(&[first, second]), b"0123456789");
        assert_eq!(&input[..], b"*1\r\n", "the stream stays in the input");
        assert!(reader.push(&mut input).unwrap().rdb.is_empty());
    }

    #[test]
    fn an_eof_payload_ends_when_its_mark_ends_a_read_even_across_reads() {
        let mark = EofMark::from_random_bytes([7u8; 20]);
        let mut reader = PayloadReader::new(PayloadHeader::Eof(mark));
        assert_eq!(reader.eof_mark(), Some(*mark.as_bytes()));
        assert!(reader.ends_with_rdb());
        let mut input = BytesMut::new();
        let m = mark.as_bytes();
        let a = feed(&mut reader, &mut input, b"rdb bytes ");
        let b = feed(&mut reader, &mut input, &m[..15]);
        assert!(!reader.is_complete());
        let c = feed(&mut reader, &mut input, &m[15..]);
        assert!(reader.is_complete());
        let mut expected = b"rdb bytes ".to_vec();
        expected.extend_from_slice(m);
        assert_eq!(
            joined(&[a, b, c]),
            expected,
            "the mark goes to the loader, which checks it"
        );
    }

    #[test]
    fn a_compressed_payload_returns_the_stream_after_its_end_frame() {
        use crate::fanout::compressed::{FrameKind, end_frame, frame_header};
        let mark = EofMark::from_random_bytes([9u8; 20]);
        let mut reader = PayloadReader::new(PayloadHeader::Zstd(mark));
        let mut wire = Vec::new();
        wire.extend_from_slice(&frame_header(FrameKind::Raw, 5));
        wire.extend_from_slice(b"hello");
        wire.extend_from_slice(&end_frame(&mark));
        wire.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
        let mut input = BytesMut::new();
        let (head, rest) = wire.split_at(7);
        let a = feed(&mut reader, &mut input, head);
        let b = feed(&mut reader, &mut input, rest);
        assert!(reader.is_complete());
        assert_eq!(joined(&[a, b]), b"hello");
        assert_eq!(&input[..], b"*1\r\n$4\r\nPING\r\n");
        assert!(!reader.ends_with_rdb());
    }
}
