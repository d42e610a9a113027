//! RDB codec for sluice. Pure format code: bytes in, items out, and back; no I/O, no clock, no
//! randomness.
//!
//! Reads the RDBs of Redis 2.x to 8.6 (`REDIS0001` to `REDIS0013`), hash field expiry (types 22
//! to 25) and streams with idempotent-producer state (type 26, whose IDMP part is dropped)
//! included, and those of Valkey 7.2 to 9.1 (`REDIS0011`, and `VALKEY080` as far as it stores
//! the types of RDB 11: Valkey's own types, such as its hash with field expiry, are refused
//! by name). Module data is refused too. Writes RDB version 10 by default, which Redis 7.0 to
//! 8.x and Valkey 8 and 9 load, or 11 to 13 on request; hashes with field expiry (type 24)
//! need 12 or more, which Redis 7.4 and later load. Streams are written as Redis writes them
//! at each version: type 19 at RDB 10, type 21 from 11.
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
pub use encode::{Encoder, EncoderOptions, SnapshotAux, listpack_size};
pub use error::{DecodeError, EncodeError, FramingError, StreamDefect};
pub use model::{
    CrcStatus, FIELD_EXPIRE_AT_MS_MAX, HashFieldEntry, Item, KeyEntry, RDB_VERSION_READ_MAX,
    RDB_VERSION_WRITTEN, RdbSignature, RdbValue, StreamConsumer, StreamEntry, StreamGroup,
    StreamId, StreamPending, StreamValue, VALKEY_RDB_VERSION_READ, opcode, rdb_type,
};
