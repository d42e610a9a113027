//! Typed errors. Every decoding error carries the absolute byte offset in the input where the
//! problem was found, so a corrupted file or a broken transfer can be located exactly.

use crate::model::StreamId;

/// Why decoding stopped. Errors are sticky: once returned, the decoder keeps returning the same
/// error, because the position of the next item can no longer be trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("not an RDB stream: bad magic at offset {offset}")]
    BadMagic { offset: u64 },

    /// The version after the signature is not one that is read: `REDIS` is followed by 1 to 13,
    /// `VALKEY` by 80. The offset (5 or 6) tells which signature it followed.
    #[error(
        "unsupported RDB version {version} at offset {offset} (REDIS versions 1 to 13 and VALKEY version 80 are read)"
    )]
    UnsupportedVersion { version: u32, offset: u64 },

    /// The input ended before the EOF opcode (and its CRC) was read.
    #[error("RDB stream truncated: input ended at offset {offset} inside an item")]
    Truncated { offset: u64 },

    #[error("CRC-64 mismatch at offset {offset}: stored {stored:#018x}, computed {computed:#018x}")]
    CrcMismatch {
        stored: u64,
        computed: u64,
        offset: u64,
    },

    /// A declared length or a running total is larger than the configured [`crate::DecodeLimits`].
    #[error("{what} of {len} exceeds the limit of {max} at offset {offset}")]
    LimitExceeded {
        what: &'static str,
        len: u64,
        max: u64,
        offset: u64,
    },

    /// A length prefix used a reserved form, or a special string encoding where a plain length
    /// was required.
    #[error("invalid length encoding (first byte {byte:#04x}) at offset {offset}")]
    BadLength { byte: u8, offset: u64 },

    /// A byte that is neither a known opcode nor a known value type.
    #[error("unknown opcode or value type {byte} at offset {offset}")]
    UnknownOpcode { byte: u8, offset: u64 },

    /// A known value type this decoder refuses rather than skipping it silently.
    #[error("unsupported value type {rdb_type} ({name}) at offset {offset}")]
    UnsupportedType {
        rdb_type: u8,
        name: &'static str,
        offset: u64,
    },

    /// Module data (a module value, type 7, or a MODULE_AUX opcode): it can only be parsed by the
    /// module that wrote it.
    #[error("module data of module type '{module}' at offset {offset} cannot be decoded")]
    ModuleData { module: String, offset: u64 },

    /// The function payload of Redis 7.0 release candidates (opcode 246).
    #[error("pre-release function payload (opcode 246) at offset {offset} is not supported")]
    FunctionPreGa { offset: u64 },

    #[error("corrupt LZF string at offset {offset}: {reason}")]
    Lzf { offset: u64, reason: &'static str },

    #[error("corrupt ziplist at offset {offset}: {reason}")]
    Ziplist { offset: u64, reason: &'static str },

    #[error("corrupt listpack at offset {offset}: {reason}")]
    Listpack { offset: u64, reason: &'static str },

    #[error("corrupt intset at offset {offset}: {reason}")]
    Intset { offset: u64, reason: &'static str },

    #[error("corrupt zipmap at offset {offset}: {reason}")]
    Zipmap { offset: u64, reason: &'static str },

    #[error("corrupt quicklist at offset {offset}: {reason}")]
    Quicklist { offset: u64, reason: &'static str },

    #[error("corrupt stream at offset {offset}: {reason}")]
    Stream { offset: u64, reason: &'static str },

    /// A sorted-set score that is not a number (NaN or unparsable text).
    #[error("invalid sorted-set score at offset {offset}")]
    BadScore { offset: u64 },

    /// A hash field expiry time (or a hash's minimum expiry) past 2^48 - 1 ms, or negative:
    /// Redis never writes one and refuses to load it.
    #[error("hash field expiry time {expire_at_ms} at offset {offset} is out of range")]
    FieldExpiry { expire_at_ms: u64, offset: u64 },

    #[error("database index {db} at offset {offset} is out of range")]
    BadDbIndex { db: u64, offset: u64 },
}

impl DecodeError {
    /// The absolute input offset the error refers to.
    pub fn offset(&self) -> u64 {
        match self {
            Self::BadMagic { offset }
            | Self::UnsupportedVersion { offset, .. }
            | Self::Truncated { offset }
            | Self::CrcMismatch { offset, .. }
            | Self::LimitExceeded { offset, .. }
            | Self::BadLength { offset, .. }
            | Self::UnknownOpcode { offset, .. }
            | Self::UnsupportedType { offset, .. }
            | Self::ModuleData { offset, .. }
            | Self::FunctionPreGa { offset }
            | Self::Lzf { offset, .. }
            | Self::Ziplist { offset, .. }
            | Self::Listpack { offset, .. }
            | Self::Intset { offset, .. }
            | Self::Zipmap { offset, .. }
            | Self::Quicklist { offset, .. }
            | Self::Stream { offset, .. }
            | Self::BadScore { offset }
            | Self::FieldExpiry { offset, .. }
            | Self::BadDbIndex { offset, .. } => *offset,
        }
    }
}

/// Why the encoder refused a value. The encoder's output is unusable after an error that
/// happened mid-value: [`EncodeError::LengthMismatch`], and [`EncodeError::FieldExpiry`] when
/// an iterator yielded a different time on its second walk; the others are detected before
/// anything of the value is written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// Redis drops empty collections on load; writing one would lose it silently there.
    #[error("empty {what} cannot be written: Redis skips empty collections on load")]
    EmptyCollection { what: &'static str },

    /// An iterator yielded a different number of items than its `len()` promised.
    #[error("{what}: iterator promised {promised} items but yielded {yielded}")]
    LengthMismatch {
        what: &'static str,
        promised: u64,
        yielded: u64,
    },

    #[error("NaN is not a valid sorted-set score")]
    NanScore,

    #[error("value type {what} is not supported by the encoder")]
    Unsupported { what: &'static str },

    /// The value needs a newer RDB version than the encoder was told to write
    /// ([`crate::EncoderOptions::rdb_version`]): a reader of that version could not load it.
    #[error("{what} needs RDB version {needed} or later; the encoder writes version {version}")]
    VersionTooOld {
        what: &'static str,
        needed: u32,
        version: u32,
    },

    /// [`crate::Encoder::try_new`] was asked for a version it does not write.
    #[error("RDB version {version} is not written: versions 10 to 13 are")]
    UnsupportedVersion { version: u32 },

    /// A hash field expiry outside 1 to 2^48 - 1 ms: Redis reads 0 as "no expiry" and refuses
    /// larger times.
    #[error("hash field expiry time {expire_at_ms} cannot be stored (1 to 2^48-1 ms can)")]
    FieldExpiry { expire_at_ms: u64 },

    /// A stream that Redis would refuse to load, or would load into a state its commands
    /// trip over ([`crate::Encoder::write_stream`]). `id` names the entry or pending entry at
    /// fault, when there is one.
    #[error("stream cannot be written: {defect}{}", id_suffix(.id))]
    InvalidStream {
        defect: StreamDefect,
        id: Option<StreamId>,
    },
}

fn id_suffix(id: &Option<StreamId>) -> String {
    id.map(|id| format!(" (ID {id})")).unwrap_or_default()
}

/// What is wrong with a stream the encoder refused ([`EncodeError::InvalidStream`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StreamDefect {
    /// Entry IDs must be strictly increasing: nodes are delta-encoded from their first entry,
    /// and Redis seeks an ID through the node keys and reads each node in order.
    #[error("entry IDs are not strictly increasing")]
    EntriesOutOfOrder,
    /// Redis generates IDs above `last_id`: an entry above it would be generated again.
    #[error("an entry ID is above the stream's last ID")]
    EntryAboveLastId,
    /// `length` is what XLEN reports and Redis trusts it; it must count the entries.
    #[error("the length differs from the number of entries")]
    LengthMismatch,
    /// Every live entry was added once, so `entries_added` is at least `length`; Redis
    /// estimates groups' read counters from the difference.
    #[error("entries_added is below the length")]
    EntriesAddedBelowLength,
    /// XADD refuses an entry whose fields and values exceed 1 GiB, and a listpack node cannot
    /// exceed 4 GiB.
    #[error("an entry is too large for a stream listpack")]
    EntryTooLarge,
    /// Redis keeps `entries_read` as a signed 64-bit counter, -1 meaning unknown.
    #[error("a group's entries_read is above 2^63 - 1")]
    EntriesReadOutOfRange,
    /// Redis refuses a stream with two groups of the same name.
    #[error("two consumer groups have the same name")]
    DuplicateGroup,
    /// Redis refuses a group with two consumers of the same name.
    #[error("two consumers of a group have the same name")]
    DuplicateConsumer,
    /// Redis refuses a group PEL that lists an ID twice.
    #[error("a group's PEL lists an entry twice")]
    DuplicatePending,
    /// Redis refuses a consumer PEL ID that is not in its group's PEL.
    #[error("a consumer's pending entry is not in its group's PEL")]
    ConsumerPendingNotInGroup,
    /// A pending entry has exactly one owner: Redis shares one record between the group and
    /// the consumer, and a second owner would leave the first with a dangling reference (a
    /// consumer listing an ID twice is refused on load).
    #[error("a pending entry is owned twice")]
    PendingOwnedTwice,
    /// Redis's commands expect every pending entry to have an owner, and its deep
    /// sanitization refuses one without.
    #[error("a pending entry is owned by no consumer")]
    PendingUnowned,
}

/// Errors of the full-sync payload header parser ([`crate::framing::parse_payload_header`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    #[error("expected a `$<len>` or `$EOF:<mark>` payload header, got {line:?}")]
    Unexpected { line: String },

    #[error("payload header line longer than {max_bytes} bytes")]
    LineTooLong { max_bytes: usize },
}
