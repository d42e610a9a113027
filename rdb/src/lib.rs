//! RDB codec for sluice: reads every RDB that Redis 2.x to 7.4 and Valkey 8 write (versions 1
//! to 12), writes RDB version 10 that Redis 7.0, 7.2, 7.4 and Valkey 8 load. Pure format code:
//! bytes in, items out, and back; no I/O, no clock, no randomness.
//!
//! Loading: [`Decoder`] takes input chunks of any size via [`Decoder::push`] and yields
//! [`Item`]s from [`Decoder::next_item`]; [`Decoder::finish`] tells a complete RDB from a cut
//! one. Saving: [`Encoder`] takes AUX fields, databases and entries and hands out
//! fixed-size [`bytes::Bytes`] chunks. [`framing`] has the replication payload headers.

// Bytes come from sockets and files: nothing indexes them unchecked.
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

mod blob;
pub mod crc;
mod decode;
mod encode;
mod error;
pub mod framing;
pub mod lzf;
mod model;
mod reader;
mod stream;

pub use decode::{DecodeLimits, Decoder, decode_all};
pub use encode::{Encoder, EncoderOptions, SnapshotAux};
pub use error::{DecodeError, EncodeError, FramingError};
pub use model::{
    CrcStatus, Item, KeyEntry, RDB_VERSION_READ_MAX, RDB_VERSION_WRITTEN, RdbValue, StreamConsumer,
    StreamEntry, StreamGroup, StreamId, StreamPending, StreamValue, opcode, rdb_type,
};
