//! sluice's compressed full-sync framing, for replicas that announce `REPLCONF capa zstd`
//! (stock Redis never does, and always gets plain RDB):
//!
//! ```text
//! $ZSTD:<40-char mark>\r\n
//! frame*            kind:u8  len:u32 little-endian  payload[len]
//!                   kind 0: RDB bytes as they are
//!                   kind 1: one zstd frame that decompresses to RDB bytes
//!                   kind 2: the end; payload is the 40-char mark of the header
//! ```
//!
//! Each RDB chunk is one frame, compressed or not, chosen per replica, so a fast link gets
//! the chunk as it is while a slow one gets it compressed; each chunk is compressed at most
//! once whatever the number of replicas. The RDB inside (its CRC included) is unchanged:
//! offsets and CRCs count the uncompressed bytes. Pure: no I/O here.

use bytes::{Buf, Bytes, BytesMut};
use thiserror::Error;

use sluice_rdb::framing::{EOF_MARK_BYTES, EofMark};

pub const FRAME_HEADER_BYTES: usize = 5;
/// Frames and what one decompresses to are capped before allocation: an RDB chunk is 1 MiB.
pub const FRAME_BYTES_MAX: usize = 64 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    Raw = 0,
    Zstd = 1,
    End = 2,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum DeframeError {
    #[error("unknown frame kind {0} in the compressed full sync")]
    UnknownKind(u8),
    #[error("frame of {len} bytes in the compressed full sync is over the limit")]
    TooLarge { len: usize },
    #[error("zstd frame does not decompress: {0}")]
    Decompress(String),
    #[error("the compressed full sync ends with a mark that is not its header's")]
    BadMark,
}

pub fn header(mark: &EofMark) -> Bytes {
    let mut out = BytesMut::with_capacity(6 + EOF_MARK_BYTES + 2);
    out.extend_from_slice(b"$ZSTD:");
    out.extend_from_slice(mark.as_bytes());
    out.extend_from_slice(b"\r\n");
    out.freeze()
}

pub fn frame_header(kind: FrameKind, len: usize) -> Bytes {
    let mut out = BytesMut::with_capacity(FRAME_HEADER_BYTES);
    out.extend_from_slice(&[kind as u8]);
    // Frames carry at most FRAME_BYTES_MAX bytes.
    debug_assert!(len <= FRAME_BYTES_MAX, "frame of {len} bytes");
    out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_le_bytes());
    out.freeze()
}

/// The end frame: header and mark.
pub fn end_frame(mark: &EofMark) -> Bytes {
    let mut out = BytesMut::from(&frame_header(FrameKind::End, EOF_MARK_BYTES)[..]);
    out.extend_from_slice(mark.as_bytes());
    out.freeze()
}

/// Compresses one chunk; None when compression would not make it smaller.
pub fn compress(raw: &[u8], level: i32) -> Option<Bytes> {
    let compressed = zstd::bulk::compress(raw, level).ok()?;
    (compressed.len() < raw.len()).then(|| Bytes::from(compressed))
}

/// Turns the framed stream back into RDB bytes, whatever sizes it arrives in. It works on
/// the caller's input buffer: a raw frame's bytes are split off it as they arrive, never
/// copied (on a fast link nearly every frame is raw, and copying 1 GB into a growing buffer
/// cost the replica more CPU than decoding it, most of it faulting in fresh pages).
#[derive(Debug)]
pub struct Deframer {
    mark: EofMark,
    /// Bytes of the current raw frame not yet taken.
    raw_remaining: usize,
    done: bool,
}

impl Deframer {
    pub fn new(mark: EofMark) -> Deframer {
        Deframer {
            mark,
            raw_remaining: 0,
            done: false,
        }
    }

    /// The end frame arrived (with the right mark).
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Takes what it can off the front of `input` and returns the RDB bytes in it. An
    /// incomplete header or compressed frame stays in `input` for the next call, and so does
    /// whatever follows the end frame (the command stream).
    pub fn push(&mut self, input: &mut BytesMut) -> Result<Vec<Bytes>, DeframeError> {
        let mut out = Vec::new();
        while !self.done {
            if self.raw_remaining > 0 {
                if input.is_empty() {
                    break;
                }
                let take = self.raw_remaining.min(input.len());
                self.raw_remaining -= take;
                out.push(input.split_to(take).freeze());
                continue;
            }
            let Some(header) = input.get(..FRAME_HEADER_BYTES) else {
                break;
            };
            let kind = header[0];
            let len = u32::from_le_bytes([header[1], header[2], header[3], header[4]]) as usize;
            if len > FRAME_BYTES_MAX {
                return Err(DeframeError::TooLarge { len });
            }
            if kind == FrameKind::Raw as u8 {
                input.advance(FRAME_HEADER_BYTES);
                self.raw_remaining = len;
                continue;
            }
            if kind != FrameKind::Zstd as u8 && kind != FrameKind::End as u8 {
                return Err(DeframeError::UnknownKind(kind));
            }
            if input.len() < FRAME_HEADER_BYTES + len {
                break;
            }
            input.advance(FRAME_HEADER_BYTES);
            let payload = input.split_to(len).freeze();
            if kind == FrameKind::Zstd as u8 {
                let size = zstd::zstd_safe::get_frame_content_size(&payload)
                    .ok()
                    .flatten()
                    .unwrap_or(FRAME_BYTES_MAX as u64);
                if size > FRAME_BYTES_MAX as u64 {
                    return Err(DeframeError::TooLarge {
                        len: crate::util::num::usize_from(size),
                    });
                }
                let raw = zstd::bulk::decompress(&payload, crate::util::num::usize_from(size))
                    .map_err(|e| DeframeError::Decompress(e.to_string()))?;
                out.push(Bytes::from(raw));
            } else {
                if payload.as_ref() != self.mark.as_bytes() {
                    return Err(DeframeError::BadMark);
                }
                self.done = true;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark() -> EofMark {
        EofMark::from_random_bytes([7; 20])
    }

    fn framed(chunks: &[(&[u8], bool)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (raw, compress_it) in chunks {
            match compress_it.then(|| compress(raw, 1)).flatten() {
                Some(z) => {
                    out.extend_from_slice(&frame_header(FrameKind::Zstd, z.len()));
                    out.extend_from_slice(&z);
                }
                None => {
                    out.extend_from_slice(&frame_header(FrameKind::Raw, raw.len()));
                    out.extend_from_slice(raw);
                }
            }
        }
        out.extend_from_slice(&end_frame(&mark()));
        out
    }

    #[test]
    fn frames_round_trip_in_any_split() {
        let text = b"alpha bravo charlie ".repeat(500);
        let stream = framed(&[(&text, true), (b"raw part", false), (&text, true)]);
        let expected: Vec<u8> = [&text[..], b"raw part", &text[..]].concat();
        for step in [1, 3, 7, 100, stream.len()] {
            let mut deframer = Deframer::new(mark());
            let mut out = Vec::new();
            let mut input = BytesMut::new();
            for piece in stream.chunks(step) {
                input.extend_from_slice(piece);
                for b in deframer.push(&mut input).unwrap() {
                    out.extend_from_slice(&b);
                }
            }
            assert!(deframer.is_done());
            assert!(input.is_empty());
            assert_eq!(out, expected, "split every {step} bytes");
        }
        // Compression pays on text.
        assert!(stream.len() < expected.len() / 4);
    }

    fn push_all(deframer: &mut Deframer, data: &[u8]) -> Result<Vec<Bytes>, DeframeError> {
        deframer.push(&mut BytesMut::from(data))
    }

    #[test]
    fn what_follows_the_end_frame_stays_in_the_input() {
        let mut stream = framed(&[(b"raw part", false)]);
        stream.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
        let mut input = BytesMut::from(&stream[..]);
        let mut deframer = Deframer::new(mark());
        assert_eq!(deframer.push(&mut input).unwrap().concat(), b"raw part");
        assert!(deframer.is_done());
        assert_eq!(&input[..], b"*1\r\n$4\r\nPING\r\n");
    }

    #[test]
    fn damage_is_an_error_not_data() {
        let text = b"alpha bravo charlie ".repeat(500);
        let stream = framed(&[(&text, true)]);
        let mut damaged = stream.clone();
        damaged[FRAME_HEADER_BYTES + 10] ^= 0xff;
        let result = push_all(&mut Deframer::new(mark()), &damaged);
        assert!(
            matches!(result, Err(DeframeError::Decompress(_)))
                || result.is_ok_and(|out| {
                    out.iter().map(|b| b.len()).sum::<usize>() != text.len() || out.concat() != text
                }),
            "a flipped byte must not decode to the same data silently"
        );
        let mut bad_kind = stream.clone();
        bad_kind[0] = 9;
        assert_eq!(
            push_all(&mut Deframer::new(mark()), &bad_kind),
            Err(DeframeError::UnknownKind(9))
        );
        let mut huge = frame_header(FrameKind::Raw, 0).to_vec();
        huge[1..5].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            push_all(&mut Deframer::new(mark()), &huge),
            Err(DeframeError::TooLarge { .. })
        ));
        let other = EofMark::from_random_bytes([8; 20]);
        assert_eq!(
            push_all(&mut Deframer::new(other), &stream).map(|_| ()),
            Err(DeframeError::BadMark)
        );
    }

    #[test]
    fn incompressible_chunks_stay_raw() {
        let random: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13).to_le_bytes()[0])
            .collect();
        assert!(
            compress(&random, 1).is_none() || compress(&random, 1).unwrap().len() < random.len()
        );
    }
}
