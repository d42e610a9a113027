//! The RDB encoder: version 10 output by default, which Redis 7.0 to 8.x and Valkey 8 all
//! load; [`EncoderOptions::rdb_version`] raises the version in the header (10 to 13), which
//! hashes with field expiry need (12 and up, Redis 7.4 and later).
//!
//! Encodings, chosen for what every target loads fastest (packed blobs are copied in as they
//! are, plain collections are inserted element by element):
//! - strings: type 0, integer-encoded when the text is a canonical 32-bit integer;
//! - lists: quicklist2 (18) of listpack nodes of at most 8 KiB (Redis's default node size);
//! - sets: intset (11) when every member is a canonical integer and there are at most 512,
//!   else plain (2) (set listpacks, type 20, are not loaded by Redis 7.0);
//! - hashes: listpack (16) up to 128 pairs of at most 64 bytes each, else plain (4);
//! - sorted sets: listpack (17) up to 128 members of at most 64 bytes, sorted the way Redis
//!   keeps them, else zset2 (5) with binary doubles;
//! - hashes with field expiry: hash with metadata (24), the one layout Redis 7.4 and later
//!   load at any size (it rebuilds a listpack itself when the hash is small);
//! - streams: listpacks 2 (19) at RDB 10, as Redis 7.0 writes them, and listpacks 3 (21) at
//!   RDB 11 and up, as Redis 7.2 and later do, with nodes cut the way XADD cuts them (see
//!   the `stream` submodule).
//!
//! Output goes into chunks of a fixed size that are handed out as they fill, so a snapshot
//! can be streamed to files, sockets or a compressor while it is produced.

// The encoder indexes only buffers it built itself from in-memory values; nothing here
// reads bytes from outside the process, so the crate-wide ban on unchecked indexing is lifted.
#![allow(clippy::indexing_slicing)]

use std::cmp::Ordering;
use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

use crate::EncodeError;
use crate::blob::lp_backlen_bytes;
use crate::crc::Crc64;
use crate::lzf;
use crate::model::{
    FIELD_EXPIRE_AT_MS_MAX, RDB_VERSION_READ_MAX, RDB_VERSION_WRITTEN, RdbValue,
    VALKEY_RDB_VERSION_READ, opcode, rdb_type,
};

mod stream;

/// Redis's default `list-max-listpack-size -2`: 8 KiB per quicklist node.
const LIST_NODE_BYTES_MAX: usize = 8 << 10;
/// Elements this large go into plain quicklist nodes, as Redis does past its packed threshold.
const LIST_PLAIN_ELEMENT_BYTES_MIN: usize = 1 << 30;
const SET_INTSET_ENTRIES_MAX: usize = 512;
const HASH_LISTPACK_ENTRIES_MAX: usize = 128;
const HASH_LISTPACK_VALUE_BYTES_MAX: usize = 64;
const ZSET_LISTPACK_ENTRIES_MAX: usize = 128;
const ZSET_LISTPACK_VALUE_BYTES_MAX: usize = 64;
/// Redis does not try to compress strings this short.
const LZF_INPUT_BYTES_MIN: usize = 21;
/// Doubles with an integral value below this magnitude are stored as integers in listpacks,
/// as Redis does, since they convert exactly.
const SCORE_INT_ABS_MAX: f64 = 9_007_199_254_740_992.0;

/// Oldest version written: the list and packed encodings used here need RDB 10 (Redis 7.0).
const RDB_VERSION_WRITE_MIN: u32 = 10;
/// Hashes with field expiry came with RDB 12 (Redis 7.4).
const HASH_FIELD_EXPIRY_RDB_VERSION_MIN: u32 = 12;
/// The "no expiry" value of a hash's earliest field expiry.
const FIELD_EXPIRE_NONE: u64 = FIELD_EXPIRE_AT_MS_MAX + 1;

const QUICKLIST_NODE_PLAIN: u64 = 1;
const QUICKLIST_NODE_PACKED: u64 = 2;

/// How the encoder cuts and compresses its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncoderOptions {
    /// Size of every chunk but the last.
    pub chunk_size_bytes: usize,
    /// Compress strings longer than 20 bytes with LZF when that saves space, as Redis does
    /// with `rdbcompression yes`. Off by default: it costs far more CPU than it saves on fast
    /// links, and the transfer layer can compress whole chunks better.
    pub compress_lzf: bool,
    /// The version written in the `REDIS00NN` header, 10 to 13; 10 by default. The encodings
    /// written are the same for every version but streams (type 19 at 10, 21 from 11, as
    /// Redis writes them), and a reader refuses a version newer than its own: 10 loads into
    /// Redis 7.0 and later and Valkey 8 and later, 12 into Redis 7.4 and later only (Valkey
    /// refuses 12 to 79). Hashes with field expiry need 12 or more. 80 writes Valkey 9's
    /// format instead (`VALKEY080`, read by Valkey 9 only): the same encodings with streams as
    /// type 21, and hashes with field expiry as Valkey's type 22.
    pub rdb_version: u32,
}

impl Default for EncoderOptions {
    fn default() -> Self {
        Self {
            chunk_size_bytes: 1 << 20,
            compress_lzf: false,
            rdb_version: RDB_VERSION_WRITTEN,
        }
    }
}

/// The AUX fields a snapshot carries: what a replica or a restart needs to continue
/// replication from the snapshot's offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotAux<'a> {
    /// Reported as `redis-ver`; replicas only display it.
    pub redis_ver: &'a str,
    pub ctime_secs: u64,
    pub used_mem_bytes: u64,
    /// Database selected at the snapshot's replication offset.
    pub repl_stream_db: u32,
    /// 40-character replication ID.
    pub repl_id: &'a str,
    pub repl_offset: u64,
}

/// Streaming RDB writer. Create it, write AUX fields, databases and entries, take full chunks
/// with [`Encoder::pop_chunk`] whenever convenient, and call [`Encoder::finish`] for the rest.
pub struct Encoder {
    chunk_size: usize,
    compress: bool,
    rdb_version: u32,
    cur: BytesMut,
    /// Bytes of `cur` already fed to the CRC.
    cur_crc_fed: usize,
    ready: VecDeque<Bytes>,
    crc: Crc64,
    written: u64,
    /// Reused buffers for packed blobs and LZF output.
    scratch: Vec<u8>,
    lzf_out: Vec<u8>,
}

impl Default for Encoder {
    fn default() -> Self {
        Self::new(EncoderOptions::default())
    }
}

impl Encoder {
    /// Starts an RDB: writes the `REDIS00NN` header of [`EncoderOptions::rdb_version`]. A
    /// version outside 10 to 13 is brought to the nearest of the two (the header must name a
    /// version whose encodings this encoder writes and a reader knows); [`Encoder::try_new`]
    /// refuses it instead.
    pub fn new(options: EncoderOptions) -> Self {
        let rdb_version = if options.rdb_version == VALKEY_RDB_VERSION_READ {
            options.rdb_version
        } else {
            options
                .rdb_version
                .clamp(RDB_VERSION_WRITE_MIN, RDB_VERSION_READ_MAX)
        };
        let chunk_size = options.chunk_size_bytes.max(1);
        let mut enc = Self {
            chunk_size,
            compress: options.compress_lzf,
            rdb_version,
            cur: BytesMut::with_capacity(chunk_size),
            cur_crc_fed: 0,
            ready: VecDeque::new(),
            crc: Crc64::new(),
            written: 0,
            scratch: Vec::new(),
            lzf_out: Vec::new(),
        };
        let header = if rdb_version == VALKEY_RDB_VERSION_READ {
            format!("VALKEY{rdb_version:03}")
        } else {
            format!("REDIS{rdb_version:04}")
        };
        enc.put(header.as_bytes());
        enc
    }

    /// Like [`Encoder::new`], but a version outside 10 to 13 is an error.
    pub fn try_new(options: EncoderOptions) -> Result<Self, EncodeError> {
        if !(RDB_VERSION_WRITE_MIN..=RDB_VERSION_READ_MAX).contains(&options.rdb_version)
            && options.rdb_version != VALKEY_RDB_VERSION_READ
        {
            return Err(EncodeError::UnsupportedVersion {
                version: options.rdb_version,
            });
        }
        Ok(Self::new(options))
    }

    /// The RDB version in the header.
    pub fn rdb_version(&self) -> u32 {
        self.rdb_version
    }

    /// Total bytes produced so far, in chunks handed out or not.
    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    /// A full chunk, if one is ready.
    pub fn pop_chunk(&mut self) -> Option<Bytes> {
        self.ready.pop_front()
    }

    /// Number of full chunks waiting to be taken.
    pub fn chunks_ready(&self) -> usize {
        self.ready.len()
    }

    /// Writes the EOF opcode and the CRC-64 and returns every chunk not taken yet; the last
    /// one may be shorter than the chunk size.
    pub fn finish(mut self) -> Vec<Bytes> {
        self.put_u8(opcode::EOF);
        self.crc.update(&self.cur[self.cur_crc_fed..]);
        self.cur_crc_fed = self.cur.len();
        let crc = self.crc.value();
        self.put(&crc.to_le_bytes());
        if !self.cur.is_empty() {
            self.ready.push_back(self.cur.split().freeze());
        }
        self.ready.into()
    }

    /// Writes an AUX field; a value that is a canonical integer is stored integer-encoded,
    /// as Redis stores its numeric fields.
    pub fn write_aux(&mut self, key: &[u8], value: &[u8]) {
        self.put_u8(opcode::AUX);
        self.put_string(key);
        self.put_string(value);
    }

    /// Writes the AUX fields Redis writes at the start of a snapshot, in Redis's order.
    pub fn write_snapshot_aux(&mut self, aux: &SnapshotAux<'_>) {
        let mut n = itoa::Buffer::new();
        self.write_aux(b"redis-ver", aux.redis_ver.as_bytes());
        self.write_aux(b"redis-bits", n.format(usize::BITS).as_bytes());
        self.write_aux(b"ctime", n.format(aux.ctime_secs).as_bytes());
        self.write_aux(b"used-mem", n.format(aux.used_mem_bytes).as_bytes());
        self.write_aux(b"repl-stream-db", n.format(aux.repl_stream_db).as_bytes());
        self.write_aux(b"repl-id", aux.repl_id.as_bytes());
        self.write_aux(b"repl-offset", n.format(aux.repl_offset).as_bytes());
        self.write_aux(b"aof-base", b"0");
    }

    /// Writes a function library (its FUNCTION LOAD source).
    pub fn write_function(&mut self, code: &[u8]) {
        self.put_u8(opcode::FUNCTION2);
        self.put_string(code);
    }

    /// Starts a database; entries written next belong to it.
    pub fn select_db(&mut self, db: u32) {
        self.put_u8(opcode::SELECTDB);
        self.put_len(u64::from(db));
    }

    /// Size hint for the current database, written by Redis right after SELECTDB.
    pub fn resize_db(&mut self, db_size: u64, expires_size: u64) {
        self.put_u8(opcode::RESIZEDB);
        self.put_len(db_size);
        self.put_len(expires_size);
    }

    pub fn write_string(&mut self, key: &[u8], value: &[u8], expire_at_ms: Option<u64>) {
        self.entry_head(rdb_type::STRING, key, expire_at_ms);
        self.put_string(value);
    }

    /// Writes a list. The iterator is walked twice (node layout, then content).
    pub fn write_list<I>(
        &mut self,
        key: &[u8],
        items: I,
        expire_at_ms: Option<u64>,
    ) -> Result<(), EncodeError>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
        I::IntoIter: Clone,
    {
        let iter = items.into_iter();
        let mut nodes = 0u64;
        let mut split = NodeSplit::default();
        for item in iter.clone() {
            let item = item.as_ref();
            if item.len() >= LIST_PLAIN_ELEMENT_BYTES_MIN {
                nodes += u64::from(split.close()) + 1;
            } else if split.admit(lp_entry_bytes(item)) {
                nodes += 1;
            }
        }
        nodes += u64::from(split.close());
        if nodes == 0 {
            return Err(EncodeError::EmptyCollection { what: "list" });
        }
        self.entry_head(rdb_type::LIST_QUICKLIST_2, key, expire_at_ms);
        self.put_len(nodes);
        let mut written = 0u64;
        let mut lp = std::mem::take(&mut self.scratch);
        let mut lp_count = 0usize;
        let mut split = NodeSplit::default();
        for item in iter {
            let item = item.as_ref();
            let plain = item.len() >= LIST_PLAIN_ELEMENT_BYTES_MIN;
            let close = if plain {
                split.close()
            } else {
                split.admit(lp_entry_bytes(item))
            };
            if close {
                self.put_list_node(&mut lp, &mut lp_count);
                written += 1;
            }
            if plain {
                self.put_len(QUICKLIST_NODE_PLAIN);
                self.put_blob(item);
                written += 1;
            } else {
                if lp_count == 0 {
                    lp_begin(&mut lp);
                }
                lp_push(&mut lp, item);
                lp_count += 1;
            }
        }
        if split.close() {
            self.put_list_node(&mut lp, &mut lp_count);
            written += 1;
        }
        self.scratch = lp;
        check_count("list", nodes, written)
    }

    fn put_list_node(&mut self, lp: &mut Vec<u8>, lp_count: &mut usize) {
        lp_end(lp, *lp_count);
        self.put_len(QUICKLIST_NODE_PACKED);
        self.put_blob(lp);
        *lp_count = 0;
    }

    /// Writes a set. The iterator is walked twice.
    pub fn write_set<I>(
        &mut self,
        key: &[u8],
        members: I,
        expire_at_ms: Option<u64>,
    ) -> Result<(), EncodeError>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
        I::IntoIter: Clone,
    {
        let iter = members.into_iter();
        let mut count = 0u64;
        let mut ints: Option<Vec<i64>> = Some(Vec::new());
        for m in iter.clone() {
            count += 1;
            if let Some(v) = ints.as_mut() {
                match canonical_i64(m.as_ref()) {
                    Some(i) if v.len() < SET_INTSET_ENTRIES_MAX => v.push(i),
                    _ => ints = None,
                }
            }
        }
        if count == 0 {
            return Err(EncodeError::EmptyCollection { what: "set" });
        }
        if let Some(mut ints) = ints {
            ints.sort_unstable();
            ints.dedup();
            let width: u32 = if ints.iter().all(|&v| i16::try_from(v).is_ok()) {
                2
            } else if ints.iter().all(|&v| i32::try_from(v).is_ok()) {
                4
            } else {
                8
            };
            let mut blob = std::mem::take(&mut self.scratch);
            blob.clear();
            // At most SET_INTSET_ENTRIES_MAX members, checked while collecting them.
            let len = u32::try_from(ints.len()).unwrap_or(u32::MAX);
            blob.extend_from_slice(&width.to_le_bytes());
            blob.extend_from_slice(&len.to_le_bytes());
            for v in &ints {
                blob.extend_from_slice(&v.to_le_bytes()[..width as usize]);
            }
            self.entry_head(rdb_type::SET_INTSET, key, expire_at_ms);
            self.put_blob(&blob);
            self.scratch = blob;
            return Ok(());
        }
        self.entry_head(rdb_type::SET, key, expire_at_ms);
        self.put_len(count);
        let mut written = 0u64;
        for m in iter {
            self.put_string(m.as_ref());
            written += 1;
        }
        check_count("set", count, written)
    }

    /// Writes a hash from field/value pairs. The iterator is walked twice.
    pub fn write_hash<I, F, V>(
        &mut self,
        key: &[u8],
        pairs: I,
        expire_at_ms: Option<u64>,
    ) -> Result<(), EncodeError>
    where
        I: IntoIterator<Item = (F, V)>,
        I::IntoIter: Clone,
        F: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        let iter = pairs.into_iter();
        let mut count = 0u64;
        let mut small = true;
        for (f, v) in iter.clone() {
            count += 1;
            small &= f.as_ref().len() <= HASH_LISTPACK_VALUE_BYTES_MAX
                && v.as_ref().len() <= HASH_LISTPACK_VALUE_BYTES_MAX;
        }
        if count == 0 {
            return Err(EncodeError::EmptyCollection { what: "hash" });
        }
        if small && count <= HASH_LISTPACK_ENTRIES_MAX as u64 {
            let mut lp = std::mem::take(&mut self.scratch);
            lp_begin(&mut lp);
            let mut written = 0u64;
            for (f, v) in iter {
                lp_push(&mut lp, f.as_ref());
                lp_push(&mut lp, v.as_ref());
                written += 1;
            }
            lp_end(&mut lp, usize::try_from(written * 2).unwrap_or(usize::MAX));
            let res = check_count("hash", count, written);
            if res.is_ok() {
                self.entry_head(rdb_type::HASH_LISTPACK, key, expire_at_ms);
                self.put_blob(&lp);
            }
            self.scratch = lp;
            return res;
        }
        self.entry_head(rdb_type::HASH, key, expire_at_ms);
        self.put_len(count);
        let mut written = 0u64;
        for (f, v) in iter {
            self.put_string(f.as_ref());
            self.put_string(v.as_ref());
            written += 1;
        }
        check_count("hash", count, written)
    }

    /// Writes a hash whose fields may expire, from (field, value, expiry) triples, expiries
    /// being absolute Unix times in milliseconds from 1 to 2^48 - 1. The iterator is walked
    /// twice: for the count and the earliest expiry, then to write.
    ///
    /// Written as a hash with metadata (type 24): the earliest field expiry (2^48 when no field
    /// has one), then for each field its expiry relative to that one, plus one (0 meaning
    /// none), the field and the value. Needs [`EncoderOptions::rdb_version`] 12 or more, as no
    /// older reader loads it.
    pub fn write_hash_with_field_expiry<I, F, V>(
        &mut self,
        key: &[u8],
        fields: I,
        expire_at_ms: Option<u64>,
    ) -> Result<(), EncodeError>
    where
        I: IntoIterator<Item = (F, V, Option<u64>)>,
        I::IntoIter: Clone,
        F: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        if self.rdb_version == VALKEY_RDB_VERSION_READ {
            return self.write_valkey_hash_with_field_expiry(key, fields, expire_at_ms);
        }
        if self.rdb_version < HASH_FIELD_EXPIRY_RDB_VERSION_MIN {
            return Err(EncodeError::VersionTooOld {
                what: "hash with field expiry",
                needed: HASH_FIELD_EXPIRY_RDB_VERSION_MIN,
                version: self.rdb_version,
            });
        }
        let iter = fields.into_iter();
        let mut count = 0u64;
        let mut min_expire = FIELD_EXPIRE_NONE;
        for (_, _, expiry) in iter.clone() {
            count += 1;
            if let Some(ms) = expiry {
                check_field_expiry(ms)?;
                min_expire = min_expire.min(ms);
            }
        }
        if count == 0 {
            return Err(EncodeError::EmptyCollection { what: "hash" });
        }
        self.entry_head(rdb_type::HASH_METADATA, key, expire_at_ms);
        self.put(&min_expire.to_le_bytes());
        self.put_len(count);
        let mut written = 0u64;
        for (f, v, expiry) in iter {
            let ttl = match expiry {
                None => 0,
                // Checked against the first walk's minimum: an iterator that yields an earlier
                // or invalid time the second time must not produce a time Redis misreads.
                Some(ms) => {
                    check_field_expiry(ms)?;
                    ms.checked_sub(min_expire)
                        .ok_or(EncodeError::FieldExpiry { expire_at_ms: ms })?
                        + 1
                }
            };
            self.put_len(ttl);
            self.put_string(f.as_ref());
            self.put_string(v.as_ref());
            written += 1;
        }
        check_count("hash", count, written)
    }

    /// Valkey 9's hash with field expiry (type 22 under `VALKEY080`): the field count, then
    /// per field its name, value and absolute expiry (8 bytes little-endian, -1 for none).
    fn write_valkey_hash_with_field_expiry<I, F, V>(
        &mut self,
        key: &[u8],
        fields: I,
        expire_at_ms: Option<u64>,
    ) -> Result<(), EncodeError>
    where
        I: IntoIterator<Item = (F, V, Option<u64>)>,
        I::IntoIter: Clone,
        F: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        let iter = fields.into_iter();
        let count = iter.clone().count() as u64;
        if count == 0 {
            return Err(EncodeError::EmptyCollection { what: "hash" });
        }
        self.entry_head(rdb_type::VALKEY_HASH_2, key, expire_at_ms);
        self.put_len(count);
        let mut written = 0u64;
        for (f, v, expiry) in iter {
            let stored = match expiry {
                None => -1i64,
                Some(ms) => {
                    check_field_expiry(ms)?;
                    // Within 2^48 (checked), hence within i64.
                    i64::try_from(ms).map_err(|_| EncodeError::FieldExpiry { expire_at_ms: ms })?
                }
            };
            self.put_string(f.as_ref());
            self.put_string(v.as_ref());
            self.put(&stored.to_le_bytes());
            written += 1;
        }
        check_count("hash", count, written)
    }

    /// Writes a sorted set from member/score pairs. The iterator is walked twice.
    pub fn write_zset<I, M>(
        &mut self,
        key: &[u8],
        members: I,
        expire_at_ms: Option<u64>,
    ) -> Result<(), EncodeError>
    where
        I: IntoIterator<Item = (M, f64)>,
        I::IntoIter: Clone,
        M: AsRef<[u8]>,
    {
        let iter = members.into_iter();
        let mut count = 0u64;
        let mut small = true;
        for (m, score) in iter.clone() {
            if score.is_nan() {
                return Err(EncodeError::NanScore);
            }
            count += 1;
            small &= m.as_ref().len() <= ZSET_LISTPACK_VALUE_BYTES_MAX;
        }
        if count == 0 {
            return Err(EncodeError::EmptyCollection { what: "sorted set" });
        }
        if small && count <= ZSET_LISTPACK_ENTRIES_MAX as u64 {
            // Redis keeps listpack sorted sets ordered by score, then member bytes, and
            // relies on that order when it searches them.
            let mut sorted: Vec<(M, f64)> = iter.collect();
            sorted.sort_by(|a, b| {
                a.1.partial_cmp(&b.1)
                    .unwrap_or(Ordering::Equal)
                    .then_with(|| a.0.as_ref().cmp(b.0.as_ref()))
            });
            check_count("sorted set", count, sorted.len() as u64)?;
            let mut lp = std::mem::take(&mut self.scratch);
            lp_begin(&mut lp);
            for (m, score) in &sorted {
                lp_push(&mut lp, m.as_ref());
                lp_push_score(&mut lp, *score);
            }
            lp_end(&mut lp, sorted.len() * 2);
            self.entry_head(rdb_type::ZSET_LISTPACK, key, expire_at_ms);
            self.put_blob(&lp);
            self.scratch = lp;
            return Ok(());
        }
        self.entry_head(rdb_type::ZSET_2, key, expire_at_ms);
        self.put_len(count);
        let mut written = 0u64;
        for (m, score) in iter {
            self.put_string(m.as_ref());
            self.put(&score.to_le_bytes());
            written += 1;
        }
        check_count("sorted set", count, written)
    }

    /// Writes a decoded value with the writer of its type (hashes with field expiry need
    /// [`EncoderOptions::rdb_version`] 12 or more; streams go through
    /// [`Encoder::write_stream`]).
    pub fn write_value(
        &mut self,
        key: &[u8],
        value: &RdbValue,
        expire_at_ms: Option<u64>,
    ) -> Result<(), EncodeError> {
        match value {
            RdbValue::String(v) => {
                self.write_string(key, v, expire_at_ms);
                Ok(())
            }
            RdbValue::List(v) => self.write_list(key, v, expire_at_ms),
            RdbValue::Set(v) => self.write_set(key, v, expire_at_ms),
            RdbValue::Hash(v) => self.write_hash(key, v.iter().map(|(f, v)| (f, v)), expire_at_ms),
            RdbValue::HashWithFieldExpiry(v) => self.write_hash_with_field_expiry(
                key,
                v.iter().map(|e| (&e.field, &e.value, e.expire_at_ms)),
                expire_at_ms,
            ),
            RdbValue::SortedSet(v) => {
                self.write_zset(key, v.iter().map(|(m, s)| (m, *s)), expire_at_ms)
            }
            RdbValue::Stream(s) => self.write_stream(key, s, expire_at_ms),
        }
    }

    fn entry_head(&mut self, t: u8, key: &[u8], expire_at_ms: Option<u64>) {
        if let Some(ms) = expire_at_ms {
            let mut op = [0u8; 9];
            op[0] = opcode::EXPIRETIME_MS;
            op[1..].copy_from_slice(&ms.to_le_bytes());
            self.put(&op);
        }
        self.put_u8(t);
        self.put_string(key);
    }

    /// Appends bytes, cutting full chunks as they fill.
    #[inline]
    fn put(&mut self, mut data: &[u8]) {
        self.written += data.len() as u64;
        loop {
            let room = self.chunk_size - self.cur.len();
            if data.len() < room {
                self.cur.extend_from_slice(data);
                return;
            }
            self.cur.extend_from_slice(&data[..room]);
            data = &data[room..];
            self.cut();
            if data.is_empty() {
                return;
            }
        }
    }

    #[inline]
    fn put_u8(&mut self, b: u8) {
        self.put(&[b]);
    }

    fn cut(&mut self) {
        self.crc.update(&self.cur[self.cur_crc_fed..]);
        self.cur_crc_fed = 0;
        let full = std::mem::replace(&mut self.cur, BytesMut::with_capacity(self.chunk_size));
        self.ready.push_back(full.freeze());
    }

    fn put_len(&mut self, len: u64) {
        let mut buf = [0u8; 9];
        let n = encode_len(len, &mut buf);
        self.put(&buf[..n]);
    }

    /// A string as Redis writes it: integer-encoded when it is a canonical 32-bit integer,
    /// else LZF-compressed when enabled and worth it, else raw.
    fn put_string(&mut self, s: &[u8]) {
        if s.len() <= 11
            && let Some(v) = canonical_i64(s)
        {
            let mut buf = [0u8; 5];
            let n = if let Ok(v) = i8::try_from(v) {
                buf[0] = 0xC0;
                buf[1] = v as u8;
                2
            } else if let Ok(v) = i16::try_from(v) {
                buf[0] = 0xC1;
                buf[1..3].copy_from_slice(&v.to_le_bytes());
                3
            } else if let Ok(v) = i32::try_from(v) {
                buf[0] = 0xC2;
                buf[1..5].copy_from_slice(&v.to_le_bytes());
                5
            } else {
                0
            };
            if n > 0 {
                self.put(&buf[..n]);
                return;
            }
        }
        self.put_blob(s);
    }

    /// A string stored as bytes (packed blobs, plain list nodes): raw or LZF.
    fn put_blob(&mut self, s: &[u8]) {
        if self.compress && s.len() >= LZF_INPUT_BYTES_MIN {
            let mut out = std::mem::take(&mut self.lzf_out);
            // Only worth it when it saves more than the two extra length fields cost.
            if lzf::compress_into(s, s.len() - 5, &mut out) {
                self.put_u8(0xC3);
                self.put_len(out.len() as u64);
                self.put_len(s.len() as u64);
                self.put(&out);
                self.lzf_out = out;
                return;
            }
            self.lzf_out = out;
        }
        self.put_len(s.len() as u64);
        self.put(s);
    }
}

/// Redis reads a field expiry of 0 as "none" and refuses times past 2^48 - 1.
fn check_field_expiry(ms: u64) -> Result<(), EncodeError> {
    if (1..=FIELD_EXPIRE_AT_MS_MAX).contains(&ms) {
        Ok(())
    } else {
        Err(EncodeError::FieldExpiry { expire_at_ms: ms })
    }
}

fn check_count(what: &'static str, promised: u64, yielded: u64) -> Result<(), EncodeError> {
    if promised == yielded {
        Ok(())
    } else {
        Err(EncodeError::LengthMismatch {
            what,
            promised,
            yielded,
        })
    }
}

/// Encodes an RDB length into `buf`, returning the bytes used.
#[expect(
    clippy::cast_possible_truncation,
    reason = "each arm narrows only a length its range test has bounded"
)]
pub(crate) fn encode_len(len: u64, buf: &mut [u8; 9]) -> usize {
    if len < 1 << 6 {
        buf[0] = len as u8;
        1
    } else if len < 1 << 14 {
        buf[0] = 0x40 | (len >> 8) as u8;
        buf[1] = len as u8;
        2
    } else if let Ok(v) = u32::try_from(len) {
        buf[0] = 0x80;
        buf[1..5].copy_from_slice(&v.to_be_bytes());
        5
    } else {
        buf[0] = 0x81;
        buf[1..9].copy_from_slice(&len.to_be_bytes());
        9
    }
}

/// The integer a string spells when it is in canonical form (what Redis stores as an
/// integer): optional `-`, no leading zeros, no `-0`, within i64.
pub(crate) fn canonical_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || (digits[0] == b'0' && (digits.len() > 1 || neg)) {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        let d = i64::from(d - b'0');
        v = v.checked_mul(10)?;
        v = if neg {
            v.checked_sub(d)?
        } else {
            v.checked_add(d)?
        };
    }
    Some(v)
}

/// Decides where quicklist nodes end: a node takes elements until the next would push it past
/// the node size (a lone oversized element still gets a node of its own).
#[derive(Default)]
struct NodeSplit {
    bytes: usize,
    count: usize,
}

impl NodeSplit {
    /// Adds an element of `entry_bytes`; returns true if the current node had to be closed
    /// before it.
    fn admit(&mut self, entry_bytes: usize) -> bool {
        // Listpack counts of 65535 mean "unknown", so a node stops one short of that.
        let close = self.count > 0
            && (self.bytes + entry_bytes > LIST_NODE_BYTES_MAX
                || self.count >= usize::from(u16::MAX) - 1);
        if close || self.count == 0 {
            self.count = 0;
            self.bytes = LP_OVERHEAD_BYTES;
        }
        self.bytes += entry_bytes;
        self.count += 1;
        close
    }

    /// Closes the current node; true if it held anything.
    fn close(&mut self) -> bool {
        let had = self.count > 0;
        self.count = 0;
        self.bytes = LP_OVERHEAD_BYTES;
        had
    }
}

/// Listpack header (6) plus end marker (1).
const LP_OVERHEAD_BYTES: usize = 7;

/// What elements cost in a listpack, for code that decides what Redis decides by size (when
/// a stream node is full) without building one.
pub mod listpack_size {
    /// Bytes of an empty listpack: header and end marker.
    pub const EMPTY_BYTES: usize = super::LP_OVERHEAD_BYTES;

    /// Bytes a string element takes, backlen included; one that reads as a canonical integer
    /// is stored as that integer, as Redis stores it.
    pub fn str_bytes(item: &[u8]) -> usize {
        super::lp_entry_bytes(item)
    }

    /// Bytes an integer element takes, backlen included.
    pub fn int_bytes(v: i64) -> usize {
        let body = super::lp_int_bytes(v);
        body + crate::blob::lp_backlen_bytes(body)
    }

    /// A count as a listpack integer; counts of things held in memory are far below 2^63.
    fn count(n: usize) -> i64 {
        i64::try_from(n).unwrap_or(i64::MAX)
    }

    /// Bytes of a new stream node's listpack holding only its master entry: live count (1),
    /// deleted count (0), field count, the field names, and the closing 0.
    pub fn stream_master_bytes<'a>(field_names: impl ExactSizeIterator<Item = &'a [u8]>) -> usize {
        EMPTY_BYTES
            + int_bytes(1)
            + int_bytes(0)
            + int_bytes(count(field_names.len()))
            + field_names.map(str_bytes).sum::<usize>()
            + int_bytes(0)
    }

    /// Bytes one stream entry adds to its node's listpack: flags, the ID as differences from
    /// the master ID (Redis stores the unsigned differences as signed integers), the field
    /// count and names unless they are the master's (`same_fields`), the values, and the
    /// lp-count that lets a reverse walk find the entry's start.
    pub fn stream_entry_bytes<'a>(
        ms_diff: i64,
        seq_diff: i64,
        same_fields: bool,
        pairs: impl ExactSizeIterator<Item = (&'a [u8], &'a [u8])>,
    ) -> usize {
        let n = pairs.len();
        // Flags are 0 or 2 when an entry is added: one byte either way.
        let mut bytes = int_bytes(0) + int_bytes(ms_diff) + int_bytes(seq_diff);
        let elements = if same_fields { 3 + n } else { 4 + 2 * n };
        bytes += int_bytes(count(elements));
        if !same_fields {
            bytes += int_bytes(count(n));
        }
        for (field, value) in pairs {
            if !same_fields {
                bytes = bytes.saturating_add(str_bytes(field));
            }
            bytes = bytes.saturating_add(str_bytes(value));
        }
        bytes
    }
}

fn lp_int_bytes(v: i64) -> usize {
    match v {
        0..=127 => 1,
        -4096..=4095 => 2,
        -32768..=32767 => 3,
        -8_388_608..=8_388_607 => 4,
        -2_147_483_648..=2_147_483_647 => 5,
        _ => 9,
    }
}

fn lp_str_header_bytes(len: usize) -> usize {
    match len {
        0..=63 => 1,
        64..=4095 => 2,
        _ => 5,
    }
}

/// Size of an element's listpack entry, backlen included.
fn lp_entry_bytes(item: &[u8]) -> usize {
    let body = match canonical_i64(item) {
        Some(v) => lp_int_bytes(v),
        None => lp_str_header_bytes(item.len()) + item.len(),
    };
    body + lp_backlen_bytes(body)
}

fn lp_begin(lp: &mut Vec<u8>) {
    lp.clear();
    lp.extend_from_slice(&[0u8; 6]);
}

fn lp_end(lp: &mut Vec<u8>, count: usize) {
    lp.push(0xFF);
    // Lists put elements of 1 GiB and more into plain nodes, and streams check the size of
    // each node before writing it, so a listpack stays below 4 GiB.
    let total = u32::try_from(lp.len()).unwrap_or(u32::MAX);
    lp[0..4].copy_from_slice(&total.to_le_bytes());
    let count = u16::try_from(count).unwrap_or(u16::MAX);
    lp[4..6].copy_from_slice(&count.to_le_bytes());
}

#[expect(clippy::cast_possible_truncation, reason = "masked to 7 bits")]
fn lp_push_backlen(lp: &mut Vec<u8>, body: usize) {
    let mut buf = [0u8; 5];
    let n = lp_backlen_bytes(body);
    // Most significant 7-bit group first; every byte but the first has the high bit set.
    for (i, slot) in buf[..n].iter_mut().enumerate() {
        let shift = 7 * (n - 1 - i);
        let group = ((body >> shift) & 127) as u8;
        *slot = if i == 0 { group } else { group | 128 };
    }
    lp.extend_from_slice(&buf[..n]);
}

fn lp_push(lp: &mut Vec<u8>, item: &[u8]) {
    match canonical_i64(item) {
        Some(v) => lp_push_int(lp, v),
        None => lp_push_str(lp, item),
    }
}

#[expect(
    clippy::cast_possible_truncation,
    reason = "each arm narrows only a length its range test has bounded; no element of 4 GiB reaches a listpack (list elements of 1 GiB go to plain nodes, stream entries over 1 GiB are refused)"
)]
pub(crate) fn lp_push_str(lp: &mut Vec<u8>, s: &[u8]) {
    let len = s.len();
    if len <= 63 {
        lp.push(0x80 | len as u8);
    } else if len <= 4095 {
        lp.push(0xE0 | (len >> 8) as u8);
        lp.push(len as u8);
    } else {
        lp.push(0xF0);
        lp.extend_from_slice(&(len as u32).to_le_bytes());
    }
    lp.extend_from_slice(s);
    lp_push_backlen(lp, lp_str_header_bytes(len) + len);
}

#[expect(
    clippy::cast_possible_truncation,
    reason = "lp_int_bytes chose a width that holds v; the casts keep its low bytes on purpose"
)]
pub(crate) fn lp_push_int(lp: &mut Vec<u8>, v: i64) {
    let body = lp_int_bytes(v);
    match body {
        1 => lp.push(v as u8),
        2 => {
            let raw = (v as u16) & 0x1fff;
            lp.push(0xC0 | (raw >> 8) as u8);
            lp.push(raw as u8);
        }
        3 => {
            lp.push(0xF1);
            lp.extend_from_slice(&(v as i16).to_le_bytes());
        }
        4 => {
            lp.push(0xF2);
            lp.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
        }
        5 => {
            lp.push(0xF3);
            lp.extend_from_slice(&(v as i32).to_le_bytes());
        }
        _ => {
            lp.push(0xF4);
            lp.extend_from_slice(&v.to_le_bytes());
        }
    }
    lp_push_backlen(lp, body);
}

#[expect(
    clippy::cast_possible_truncation,
    reason = "an integral score below SCORE_INT_ABS_MAX converts exactly"
)]
fn lp_push_score(lp: &mut Vec<u8>, score: f64) {
    if score.fract() == 0.0 && score.abs() < SCORE_INT_ABS_MAX {
        lp_push_int(lp, score as i64);
    } else {
        lp_push_str(lp, format_score(score).as_bytes());
    }
}

/// Shortest decimal text that parses back to exactly `score` (Rust prints the shortest
/// round-tripping digits; the exponent form keeps very large or small values short).
pub(crate) fn format_score(score: f64) -> String {
    if score.is_infinite() {
        return if score > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    let plain = format!("{score}");
    if plain.len() <= 24 {
        plain
    } else {
        format!("{score:e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_integers() {
        assert_eq!(canonical_i64(b"0"), Some(0));
        assert_eq!(canonical_i64(b"-1"), Some(-1));
        assert_eq!(canonical_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(canonical_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"-0",
            b"01",
            b"+1",
            b" 1",
            b"1 ",
            b"9223372036854775808",
            b"1a",
        ] {
            assert_eq!(canonical_i64(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn lengths() {
        let mut b = [0u8; 9];
        assert_eq!(encode_len(63, &mut b), 1);
        assert_eq!(encode_len(64, &mut b), 2);
        assert_eq!(&b[..2], &[0x40, 64]);
        assert_eq!(encode_len(16384, &mut b), 5);
        assert_eq!(encode_len(1 << 40, &mut b), 9);
    }

    #[test]
    fn listpack_entries_walk_back() {
        let mut lp = Vec::new();
        lp_begin(&mut lp);
        let big = vec![b'x'; 5000];
        let items: Vec<&[u8]> = vec![
            b"a",
            b"127",
            b"128",
            b"-4096",
            b"40000",
            b"-8388608",
            b"2147483647",
            b"9223372036854775807",
            &big,
            &big[..100],
        ];
        for it in &items {
            lp_push(&mut lp, it);
        }
        lp_end(&mut lp, items.len());
        let mut got = Vec::new();
        let lpb = bytes::Bytes::from(lp);
        crate::blob::listpack(&lpb, |e| {
            got.push(crate::decode::elem_bytes(&lpb, e));
            Ok::<(), ()>(())
        })
        .unwrap();
        let want: Vec<&[u8]> = items.clone();
        assert_eq!(got.iter().map(|b| b.as_ref()).collect::<Vec<_>>(), want);
        for it in &items {
            let mut one = Vec::new();
            lp_push(&mut one, it);
            assert_eq!(one.len(), lp_entry_bytes(it));
        }
    }

    #[test]
    fn scores_roundtrip() {
        for s in [
            0.1,
            1.5,
            -2.25,
            1e300,
            1e-300,
            123456789.123,
            f64::MAX,
            f64::MIN_POSITIVE,
        ] {
            assert_eq!(format_score(s).parse::<f64>().unwrap(), s);
        }
    }
}
