//! The data model shared by the decoder and the encoder, and the format's constants.

use bytes::Bytes;

/// Highest RDB version the decoder reads after the `REDIS` signature (Redis 7.4 and 8.0 write
/// 12, Redis 8.6 writes 13).
pub const RDB_VERSION_READ_MAX: u32 = 13;
/// The one version the decoder reads after the `VALKEY` signature (`VALKEY080`, written by
/// Valkey 9.0 and 9.1). Valkey numbers its own formats from 80 so as not to collide with Redis's
/// 12 to 79; format 80 stores the core types as RDB 11 does.
pub const VALKEY_RDB_VERSION_READ: u32 = 80;
/// Version the encoder writes by default: 10 is the newest that Redis 7.0 accepts, and Redis
/// 7.2, 7.4 and 8.x and Valkey 8 and 9 load it too. See [`crate::EncoderOptions::rdb_version`].
pub const RDB_VERSION_WRITTEN: u32 = 10;
/// Latest hash field expiry time Redis accepts, in Unix milliseconds (2^48 - 1). Redis uses
/// 2^48 to mean "no expiry" where a time must be stored, and refuses anything larger.
pub const FIELD_EXPIRE_AT_MS_MAX: u64 = (1 << 48) - 1;

/// The signature an RDB starts with. Both are nine bytes: `REDIS` and four digits, or `VALKEY`
/// and three.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RdbSignature {
    Redis,
    Valkey,
}

/// Opcodes that can appear where a value type is expected.
pub mod opcode {
    pub const SLOT_INFO: u8 = 0xF4;
    pub const FUNCTION2: u8 = 0xF5;
    pub const FUNCTION_PRE_GA: u8 = 0xF6;
    pub const MODULE_AUX: u8 = 0xF7;
    pub const IDLE: u8 = 0xF8;
    pub const FREQ: u8 = 0xF9;
    pub const AUX: u8 = 0xFA;
    pub const RESIZEDB: u8 = 0xFB;
    pub const EXPIRETIME_MS: u8 = 0xFC;
    pub const EXPIRETIME: u8 = 0xFD;
    pub const SELECTDB: u8 = 0xFE;
    pub const EOF: u8 = 0xFF;
}

/// Value type bytes.
pub mod rdb_type {
    pub const STRING: u8 = 0;
    pub const LIST: u8 = 1;
    pub const SET: u8 = 2;
    pub const ZSET: u8 = 3;
    pub const HASH: u8 = 4;
    pub const ZSET_2: u8 = 5;
    pub const MODULE_PRE_GA: u8 = 6;
    pub const MODULE_2: u8 = 7;
    pub const HASH_ZIPMAP: u8 = 9;
    pub const LIST_ZIPLIST: u8 = 10;
    pub const SET_INTSET: u8 = 11;
    pub const ZSET_ZIPLIST: u8 = 12;
    pub const HASH_ZIPLIST: u8 = 13;
    pub const LIST_QUICKLIST: u8 = 14;
    pub const STREAM_LISTPACKS: u8 = 15;
    pub const HASH_LISTPACK: u8 = 16;
    pub const ZSET_LISTPACK: u8 = 17;
    pub const LIST_QUICKLIST_2: u8 = 18;
    pub const STREAM_LISTPACKS_2: u8 = 19;
    pub const SET_LISTPACK: u8 = 20;
    pub const STREAM_LISTPACKS_3: u8 = 21;
    pub const HASH_METADATA_PRE_GA: u8 = 22;
    /// Valkey 9's hash with field expiry (`RDB_TYPE_HASH_2`), only under the `VALKEY`
    /// signature: the same byte as Redis's pre-GA type above.
    pub const VALKEY_HASH_2: u8 = 22;
    pub const HASH_LISTPACK_EX_PRE_GA: u8 = 23;
    pub const HASH_METADATA: u8 = 24;
    pub const HASH_LISTPACK_EX: u8 = 25;
    pub const STREAM_LISTPACKS_4: u8 = 26;
    /// Redis 8.8 (RDB 14, which is not read): streams with negative acknowledgements.
    pub const STREAM_LISTPACKS_5: u8 = 27;

    /// A short human name for a type byte, used in error messages.
    pub fn name(t: u8) -> &'static str {
        match t {
            STRING => "string",
            LIST => "list",
            SET => "set",
            ZSET => "zset",
            HASH => "hash",
            ZSET_2 => "zset2",
            MODULE_PRE_GA => "module (pre-GA)",
            MODULE_2 => "module",
            HASH_ZIPMAP => "hash zipmap",
            LIST_ZIPLIST => "list ziplist",
            SET_INTSET => "set intset",
            ZSET_ZIPLIST => "zset ziplist",
            HASH_ZIPLIST => "hash ziplist",
            LIST_QUICKLIST => "list quicklist",
            STREAM_LISTPACKS => "stream",
            HASH_LISTPACK => "hash listpack",
            ZSET_LISTPACK => "zset listpack",
            LIST_QUICKLIST_2 => "list quicklist2",
            STREAM_LISTPACKS_2 => "stream v2",
            SET_LISTPACK => "set listpack",
            STREAM_LISTPACKS_3 => "stream v3",
            HASH_METADATA_PRE_GA => "hash with field expiry (pre-GA)",
            HASH_LISTPACK_EX_PRE_GA => "hash listpack with field expiry (pre-GA)",
            HASH_METADATA => "hash with field expiry",
            HASH_LISTPACK_EX => "hash listpack with field expiry",
            STREAM_LISTPACKS_4 => "stream v4",
            STREAM_LISTPACKS_5 => "stream v5 (Redis 8.8)",
            _ => "unknown",
        }
    }

    /// The name of a type byte in a `VALKEY080` file, for the bytes Valkey assigns meanings of
    /// its own (22 to 243, its "foreign" range, which also holds two opcodes of its own);
    /// `None` for the others, which mean the same in both.
    pub fn valkey_name(t: u8) -> Option<&'static str> {
        Some(match t {
            0..=21 | 244..=255 => return None,
            VALKEY_HASH_2 => "Valkey hash with field expiry",
            23 => "Valkey path hash",
            242 => "Valkey UPDATE opcode",
            243 => "Valkey SLOT_IMPORT opcode",
            _ => "unknown Valkey type",
        })
    }
}

/// One decoded element of the RDB stream, in file order.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// An AUX field (`redis-ver`, `repl-id`, ...). Integer-encoded values come back as text.
    Aux { key: Bytes, value: Bytes },
    /// Following entries belong to this database.
    SelectDb(u32),
    /// Size hint for the current database.
    ResizeDb { db_size: u64, expires_size: u64 },
    /// Per-slot size hint (cluster mode, RDB 12).
    SlotInfo {
        slot: u64,
        slot_size: u64,
        expires_slot_size: u64,
    },
    /// A function library (FUNCTION2 opcode): its source code, to be given to FUNCTION LOAD.
    Function(Bytes),
    /// A key with its value.
    Entry(KeyEntry),
    /// The EOF opcode was read; nothing of the RDB follows.
    End(CrcStatus),
}

/// What was known about the checksum when the EOF opcode was reached. A mismatch is an error,
/// never a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrcStatus {
    /// The stored CRC-64 matched the computed one.
    Verified(u64),
    /// The writer stored 0, meaning "checksum not computed" (`rdbchecksum no`).
    NotComputed,
    /// RDB versions below 5 carry no checksum.
    Absent,
}

/// A key, its value and its metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyEntry {
    /// Database index from the last SELECTDB (0 before any).
    pub db: u32,
    pub key: Bytes,
    pub value: RdbValue,
    /// Absolute expiry, Unix time in milliseconds. Times before 1970 are clamped to 0: such a
    /// key is expired either way.
    pub expire_at_ms: Option<u64>,
    /// LRU idle time written by servers with an LRU maxmemory policy.
    pub lru_idle_secs: Option<u64>,
    /// LFU counter written by servers with an LFU maxmemory policy.
    pub lfu_freq: Option<u8>,
    /// The type byte the value was stored with (see [`rdb_type`]); informative only.
    pub rdb_type: u8,
}

/// A decoded value, independent of the encoding it was stored with. Integers stored in integer
/// encodings come back as their decimal text. Collections keep file order; an empty collection
/// (which Redis never writes, and skips on load) is returned as empty, for the caller to decide.
#[derive(Debug, Clone, PartialEq)]
pub enum RdbValue {
    String(Bytes),
    List(Vec<Bytes>),
    Set(Vec<Bytes>),
    /// Members with their scores (never NaN).
    SortedSet(Vec<(Bytes, f64)>),
    /// Field/value pairs.
    Hash(Vec<(Bytes, Bytes)>),
    /// A hash stored with one of the field expiry encodings (types 22 to 25, Redis 7.4 and
    /// later), whether or not any of its fields still carries an expiry.
    HashWithFieldExpiry(Vec<HashFieldEntry>),
    Stream(Box<StreamValue>),
}

impl RdbValue {
    /// The Redis type name, as TYPE reports it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::String(_) => "string",
            Self::List(_) => "list",
            Self::Set(_) => "set",
            Self::SortedSet(_) => "zset",
            Self::Hash(_) | Self::HashWithFieldExpiry(_) => "hash",
            Self::Stream(_) => "stream",
        }
    }
}

/// One field of a hash with field expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashFieldEntry {
    pub field: Bytes,
    pub value: Bytes,
    /// Absolute expiry of this field, Unix time in milliseconds, at most
    /// [`FIELD_EXPIRE_AT_MS_MAX`]. Times in the past are returned as they are: the field is
    /// expired, for the caller to drop.
    pub expire_at_ms: Option<u64>,
}

/// A stream entry ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    /// Decodes the 16-byte big-endian form used for radix-tree keys and PEL IDs.
    pub fn from_be_bytes(raw: [u8; 16]) -> Self {
        let mut ms = [0u8; 8];
        let mut seq = [0u8; 8];
        ms.copy_from_slice(&raw[..8]);
        seq.copy_from_slice(&raw[8..]);
        Self {
            ms: u64::from_be_bytes(ms),
            seq: u64::from_be_bytes(seq),
        }
    }

    /// The 16-byte big-endian form (ms, then seq): radix-tree keys of stream nodes and PEL IDs
    /// are stored this way, so that byte order is ID order.
    pub fn to_be_bytes(&self) -> [u8; 16] {
        let mut raw = [0u8; 16];
        let (ms, seq) = raw.split_at_mut(8);
        ms.copy_from_slice(&self.ms.to_be_bytes());
        seq.copy_from_slice(&self.seq.to_be_bytes());
        raw
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// A live (not deleted) stream entry.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamEntry {
    pub id: StreamId,
    pub fields: Vec<(Bytes, Bytes)>,
}

/// A decoded stream with its consumer groups. For the first stream format (type 15) the fields
/// that format lacks are derived the way Redis derives them: `first_id` is the first live
/// entry, `max_deleted_entry_id` is 0-0, `entries_added` is `length`, and groups have no
/// `entries_read`. The idempotent-producer (IDMP) state of the fourth format (type 26, Redis
/// 8.6) is parsed and dropped: sluice has no idempotent producers.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StreamValue {
    pub entries: Vec<StreamEntry>,
    /// Number of live entries as recorded by the writer.
    pub length: u64,
    pub last_id: StreamId,
    pub first_id: StreamId,
    pub max_deleted_entry_id: StreamId,
    pub entries_added: u64,
    pub groups: Vec<StreamGroup>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StreamGroup {
    pub name: Bytes,
    pub last_delivered_id: StreamId,
    /// Logical read counter (stream formats 2 and 3); `None` when the writer did not know it
    /// (stored as -1). Format 1 has none: it is derived from the stream's metadata as Redis
    /// 7.0 derives it on load, `None` where that cannot tell.
    pub entries_read: Option<u64>,
    /// The group's pending entries list.
    pub pending: Vec<StreamPending>,
    pub consumers: Vec<StreamConsumer>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamPending {
    pub id: StreamId,
    pub delivery_time_ms: u64,
    pub delivery_count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamConsumer {
    pub name: Bytes,
    pub seen_time_ms: u64,
    /// Last successful interaction (stream format 3 only).
    pub active_time_ms: Option<u64>,
    /// IDs of the group's pending entries owned by this consumer.
    pub pending: Vec<StreamId>,
}
