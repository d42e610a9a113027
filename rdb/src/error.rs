//! Typed errors. Every decoding error carries the absolute byte offset in the input where the
//! problem was found, so a corrupted file or a broken transfer can be located exactly.

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
}

/// Errors of the full-sync payload header parser ([`crate::framing::parse_payload_header`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    #[error("expected a `$<len>` or `$EOF:<mark>` payload header, got {line:?}")]
    Unexpected { line: String },

    #[error("payload header line longer than {max_bytes} bytes")]
    LineTooLong { max_bytes: usize },
}
