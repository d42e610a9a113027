//! The streaming decoder.
//!
//! Input is pushed in chunks of any size and items come out as soon as they are complete. The
//! decoder works on units: an opcode with its arguments, a key with a small or packed value,
//! the header of a collection, or one element (or packed node) of a collection. A unit is parsed
//! from the current segment; when the segment ends first, the unit's bytes are moved in front
//! of the next input and the decoder waits until the segment holds at least the length the
//! failed read asked for. Consequences:
//! - a unit is re-parsed at most once per read it contains, however small the chunks are, so
//!   decoding stays linear (collections keep their partial state between elements);
//! - memory is bounded by the largest unit (a string or packed blob) plus the value being built;
//! - values that are not compressed are zero-copy slices of the input segments.

use bytes::{Bytes, BytesMut};

use crate::DecodeError;
use crate::blob::{self, BlobErr, Elem};
use crate::crc::Crc64;
use crate::encode::canonical_i64;
use crate::model::{
    CrcStatus, FIELD_EXPIRE_AT_MS_MAX, HashFieldEntry, Item, KeyEntry, RDB_VERSION_READ_MAX,
    RdbSignature, RdbValue, VALKEY_RDB_VERSION_READ, opcode, rdb_type,
};
use crate::reader::{Cur, Halt, R, int_text};
use crate::stream::{self, StreamBuild};

/// Caps applied to lengths and totals read from the input, checked before anything is
/// allocated or awaited. The defaults accept anything a stock Redis writes; an untrusted
/// source should get tighter ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Largest single string: a key, a value, a packed blob, compressed or not.
    pub string_bytes_max: u64,
    /// Largest total payload of one value (sum of its element lengths).
    pub value_bytes_max: u64,
    /// Most elements in one value (pairs count once, stream PEL entries and consumers count).
    pub elements_max: u64,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self {
            string_bytes_max: 1 << 30,
            value_bytes_max: 1 << 36,
            elements_max: u64::from(u32::MAX),
        }
    }
}

/// Initial capacity of a collection is capped so that a declared count cannot allocate by
/// itself; vectors grow as elements actually arrive.
pub(crate) const PREALLOC_ELEMENTS_MAX: u64 = 1024;

/// Ahead-of-data reservation cap when waiting for a large unit.
const RESERVE_AHEAD_BYTES_MAX: usize = 16 << 20;

#[derive(Debug, Default, Clone, Copy)]
struct Meta {
    expire_at_ms: Option<u64>,
    lru_idle_secs: Option<u64>,
    lfu_freq: Option<u8>,
}

enum Phase {
    Header,
    Top,
    Value(Box<Building>),
    Done,
}

/// A collection whose elements are still arriving.
pub(crate) struct Building {
    key: Bytes,
    rdb_type: u8,
    db: u32,
    meta: Meta,
    /// Elements (or packed nodes) still to read, for non-stream types.
    remaining: u64,
    pub(crate) budget: Budget,
    acc: Acc,
}

enum Acc {
    List(Vec<Bytes>),
    Set(Vec<Bytes>),
    ZSet(Vec<(Bytes, f64)>),
    Hash(Vec<(Bytes, Bytes)>),
    /// Types 22 and 24; `min_expire` is the base of the relative times of type 24, `None` for
    /// the absolute times of type 22.
    HashEx {
        fields: Vec<HashFieldEntry>,
        min_expire: Option<u64>,
    },
    Stream(Box<StreamBuild>),
    /// Valkey 9's type 22 (`RDB_TYPE_HASH_2`): field, value, then the field's absolute expiry
    /// as 8 bytes little-endian, -1 for none.
    ValkeyHashEx(Vec<HashFieldEntry>),
}

/// Running totals of one value, checked against the limits as elements arrive.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Budget {
    elements: u64,
    value_bytes: u64,
}

impl Budget {
    pub(crate) fn charge(
        &mut self,
        limits: &DecodeLimits,
        elements: u64,
        value_bytes: u64,
        offset: u64,
    ) -> Result<(), DecodeError> {
        self.elements = self.elements.saturating_add(elements);
        self.value_bytes = self.value_bytes.saturating_add(value_bytes);
        if self.elements > limits.elements_max {
            return Err(DecodeError::LimitExceeded {
                what: "element count",
                len: self.elements,
                max: limits.elements_max,
                offset,
            });
        }
        if self.value_bytes > limits.value_bytes_max {
            return Err(DecodeError::LimitExceeded {
                what: "value size",
                len: self.value_bytes,
                max: limits.value_bytes_max,
                offset,
            });
        }
        Ok(())
    }
}

/// Streaming RDB decoder. Feed it with [`Decoder::push`], drain it with
/// [`Decoder::next_item`] until that returns `Ok(None)`, push more, and call
/// [`Decoder::finish`] when the input has ended.
pub struct Decoder {
    limits: DecodeLimits,
    /// The segment being parsed; `seg[seg_pos..]` is not consumed yet.
    seg: Bytes,
    seg_pos: usize,
    /// Absolute input offset of `seg[0]`.
    seg_base: u64,
    /// Input that follows `seg`.
    buf: BytesMut,
    /// Do not parse again before `buf` holds this many bytes (it starts with an unfinished
    /// unit that needs them).
    need_len: usize,
    push_len_last: usize,
    crc: Crc64,
    /// Absolute offset up to which `crc` has been fed.
    crc_upto: u64,
    phase: Phase,
    version: u32,
    signature: Option<RdbSignature>,
    db: u32,
    meta: Meta,
    failed: Option<DecodeError>,
    detach_strings: bool,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new(DecodeLimits::default())
    }
}

impl Decoder {
    pub fn new(limits: DecodeLimits) -> Self {
        Self {
            limits,
            seg: Bytes::new(),
            seg_pos: 0,
            seg_base: 0,
            buf: BytesMut::new(),
            need_len: 0,
            push_len_last: 0,
            crc: Crc64::new(),
            crc_upto: 0,
            phase: Phase::Header,
            version: 0,
            signature: None,
            db: 0,
            meta: Meta::default(),
            failed: None,
            detach_strings: false,
        }
    }

    /// Copies every key and string of the returned items into an allocation of its own
    /// (strings that already own one, such as decompressed ones, are kept as they are).
    ///
    /// By default strings are zero-copy slices of the input segments, and a slice keeps its
    /// whole segment alive as long as it lives: the fastest choice for values that are used
    /// and dropped (a transfer, a conversion), a wasteful one for a keyspace that lives on
    /// while some of its keys are deleted. Costs one allocation and copy per string.
    pub fn set_detach_strings(&mut self, detach: bool) {
        self.detach_strings = detach;
    }

    /// Bytes held by the decoder that it has not consumed yet: at most the unit being
    /// decoded plus what was pushed and not drained.
    pub fn buffered_bytes(&self) -> usize {
        self.seg.len() - self.seg_pos + self.buf.len()
    }

    /// Appends input. Bytes pushed after the end of the RDB are kept for
    /// [`Decoder::take_remainder`].
    pub fn push(&mut self, chunk: &[u8]) {
        self.push_len_last = chunk.len();
        self.buf.extend_from_slice(chunk);
    }

    /// The RDB version from the header, once read: the number after the signature, 1 to 13
    /// for `REDIS`, 80 for `VALKEY` (`VALKEY080`). The two are separate numbering schemes, so
    /// read it together with [`Decoder::signature`]: Valkey's 80 is not newer than Redis's 13,
    /// its core types are stored as in RDB 11.
    pub fn version(&self) -> Option<u32> {
        (self.version != 0).then_some(self.version)
    }

    /// The signature from the header, once read.
    pub fn signature(&self) -> Option<RdbSignature> {
        self.signature
    }

    /// Input bytes consumed so far (the offset of the next unit).
    pub fn offset(&self) -> u64 {
        self.seg_base + self.seg_pos as u64
    }

    /// True once the EOF opcode (and CRC) has been read.
    pub fn is_done(&self) -> bool {
        matches!(self.phase, Phase::Done)
    }

    /// Bytes held but not consumed. After [`Item::End`], these are the bytes that followed
    /// the RDB (an `$EOF:` mark, or the start of the replication stream).
    pub fn take_remainder(&mut self) -> Bytes {
        let tail = self.seg.slice(self.seg_pos..);
        self.seg_base += self.seg.len() as u64;
        self.seg = Bytes::new();
        self.seg_pos = 0;
        let rest = self.buf.split().freeze();
        self.seg_base += rest.len() as u64;
        if tail.is_empty() {
            rest
        } else if rest.is_empty() {
            tail
        } else {
            let mut all = BytesMut::with_capacity(tail.len() + rest.len());
            all.extend_from_slice(&tail);
            all.extend_from_slice(&rest);
            all.freeze()
        }
    }

    /// Call when the input has ended: an error unless the EOF opcode was reached.
    pub fn finish(&self) -> Result<(), DecodeError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.is_done() {
            Ok(())
        } else {
            Err(DecodeError::Truncated {
                offset: self.seg_base + self.seg.len() as u64 + self.buf.len() as u64,
            })
        }
    }

    /// The next complete item, `Ok(None)` when more input is needed (or after the end).
    pub fn next_item(&mut self) -> Result<Option<Item>, DecodeError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        loop {
            if self.is_done() {
                return Ok(None);
            }
            if self.seg_pos == self.seg.len() {
                if self.buf.len() < self.need_len.max(1) {
                    return Ok(None);
                }
                let seg_len = self.seg.len();
                crc_advance(
                    &mut self.crc,
                    &mut self.crc_upto,
                    &self.seg,
                    self.seg_base,
                    seg_len,
                );
                self.seg_base += seg_len as u64;
                self.seg = self.buf.split().freeze();
                self.seg_pos = 0;
                self.need_len = 0;
            }
            let data = std::mem::take(&mut self.seg);
            let mut cur = Cur {
                data: &data,
                pos: self.seg_pos,
                base: self.seg_base,
            };
            let res = self.step(&mut cur);
            let pos = cur.pos;
            self.seg = data;
            match res {
                Ok(item) => {
                    self.seg_pos = pos;
                    if let Some(mut item) = item {
                        if self.detach_strings {
                            detach_item(&mut item);
                        }
                        return Ok(Some(item));
                    }
                }
                Err(Halt::More(needed)) => self.stall(needed),
                Err(Halt::Fail(e)) => {
                    self.failed = Some(e.clone());
                    return Err(e);
                }
            }
        }
    }

    /// Moves the unfinished unit in front of the pending input and records how long the
    /// input must get before parsing again.
    fn stall(&mut self, needed: usize) {
        let start = self.seg_pos;
        crc_advance(
            &mut self.crc,
            &mut self.crc_upto,
            &self.seg,
            self.seg_base,
            start,
        );
        let tail = self.seg.get(start..).unwrap_or_default();
        let have = tail.len() + self.buf.len();
        let need = needed.saturating_sub(start);
        // Reserve for the awaited bytes, within reason: a declared length is not a promise.
        let ahead = need
            .saturating_sub(have)
            .min(RESERVE_AHEAD_BYTES_MAX)
            .max(self.push_len_last);
        let mut joined = BytesMut::with_capacity(have.saturating_add(ahead));
        joined.extend_from_slice(tail);
        joined.extend_from_slice(&self.buf);
        self.buf = joined;
        self.seg_base += start as u64;
        self.seg = Bytes::new();
        self.seg_pos = 0;
        self.need_len = need;
    }

    fn step(&mut self, cur: &mut Cur<'_>) -> R<Option<Item>> {
        match self.phase {
            Phase::Header => {
                self.header(cur)?;
                Ok(None)
            }
            Phase::Top => self.top(cur),
            Phase::Value(_) => self.value_unit(cur),
            Phase::Done => Ok(None),
        }
    }

    fn header(&mut self, cur: &mut Cur<'_>) -> R<()> {
        let head: [u8; 9] = cur.array()?;
        // Both signatures take nine bytes: `REDIS` and four digits, `VALKEY` and three.
        let (signature, digits_at) = if head.starts_with(b"REDIS") {
            (RdbSignature::Redis, 5)
        } else if head.starts_with(b"VALKEY") {
            (RdbSignature::Valkey, 6)
        } else {
            return Err(DecodeError::BadMagic { offset: 0 }.into());
        };
        let digits = head.get(digits_at..).unwrap_or_default();
        if !digits.iter().all(u8::is_ascii_digit) {
            return Err(DecodeError::BadMagic {
                offset: digits_at as u64,
            }
            .into());
        }
        let version = digits
            .iter()
            .fold(0u32, |v, d| v * 10 + u32::from(d - b'0'));
        let known = match signature {
            RdbSignature::Redis => (1..=RDB_VERSION_READ_MAX).contains(&version),
            // Valkey 9.2's format 81 adds types and opcodes of its own; only 80 is known.
            RdbSignature::Valkey => version == VALKEY_RDB_VERSION_READ,
        };
        if !known {
            return Err(DecodeError::UnsupportedVersion {
                version,
                offset: digits_at as u64,
            }
            .into());
        }
        self.version = version;
        self.signature = Some(signature);
        self.phase = Phase::Top;
        Ok(())
    }

    fn top(&mut self, cur: &mut Cur<'_>) -> R<Option<Item>> {
        let op_at = cur.pos;
        let op = cur.u8()?;
        let max = self.limits.string_bytes_max;
        match op {
            opcode::AUX => {
                let key = cur.string(max)?;
                let value = cur.string(max)?;
                Ok(Some(Item::Aux { key, value }))
            }
            opcode::SELECTDB => {
                let at = cur.offset();
                let db = cur.len()?;
                let db =
                    u32::try_from(db).map_err(|_| DecodeError::BadDbIndex { db, offset: at })?;
                self.db = db;
                Ok(Some(Item::SelectDb(db)))
            }
            opcode::RESIZEDB => {
                let db_size = cur.len()?;
                let expires_size = cur.len()?;
                Ok(Some(Item::ResizeDb {
                    db_size,
                    expires_size,
                }))
            }
            opcode::SLOT_INFO => {
                let slot = cur.len()?;
                let slot_size = cur.len()?;
                let expires_slot_size = cur.len()?;
                Ok(Some(Item::SlotInfo {
                    slot,
                    slot_size,
                    expires_slot_size,
                }))
            }
            opcode::EXPIRETIME_MS => {
                let ms = i64::from_le_bytes(cur.array()?);
                self.meta.expire_at_ms = Some(ms.max(0) as u64);
                Ok(None)
            }
            opcode::EXPIRETIME => {
                let secs = i32::from_le_bytes(cur.array()?);
                self.meta.expire_at_ms = Some((i64::from(secs) * 1000).max(0) as u64);
                Ok(None)
            }
            opcode::IDLE => {
                self.meta.lru_idle_secs = Some(cur.len()?);
                Ok(None)
            }
            opcode::FREQ => {
                let [freq] = cur.array()?;
                self.meta.lfu_freq = Some(freq);
                Ok(None)
            }
            opcode::FUNCTION2 => Ok(Some(Item::Function(cur.string(max)?))),
            opcode::FUNCTION_PRE_GA => Err(DecodeError::FunctionPreGa {
                offset: cur.offset_at(op_at),
            }
            .into()),
            opcode::MODULE_AUX => {
                let id = cur.len()?;
                Err(DecodeError::ModuleData {
                    module: module_name(id),
                    offset: cur.offset_at(op_at),
                }
                .into())
            }
            opcode::EOF => {
                // The checksum covers everything up to and including this opcode.
                crc_advance(
                    &mut self.crc,
                    &mut self.crc_upto,
                    cur.data,
                    cur.base,
                    cur.pos,
                );
                let status = if self.version >= 5 {
                    let stored = u64::from_le_bytes(cur.array()?);
                    if stored == 0 {
                        CrcStatus::NotComputed
                    } else {
                        let computed = self.crc.value();
                        if computed != stored {
                            return Err(DecodeError::CrcMismatch {
                                stored,
                                computed,
                                offset: cur.offset_at(op_at + 1),
                            }
                            .into());
                        }
                        CrcStatus::Verified(stored)
                    }
                } else {
                    CrcStatus::Absent
                };
                self.phase = Phase::Done;
                Ok(Some(Item::End(status)))
            }
            t => self.value_start(cur, t, cur.offset_at(op_at)),
        }
    }

    fn value_start(&mut self, cur: &mut Cur<'_>, t: u8, op_offset: u64) -> R<Option<Item>> {
        use rdb_type::*;
        let limits = self.limits;
        let max = limits.string_bytes_max;
        // Valkey gives the bytes from 22 up meanings of its own (its hash with field expiry is
        // 22, and 242 and 243 are opcodes there): none of them may be read as Redis's.
        if self.signature == Some(RdbSignature::Valkey) && t == rdb_type::VALKEY_HASH_2 {
            let key = cur.string(max)?;
            let n = cur.len_capped("element count", limits.elements_max)?;
            let building = Building {
                key,
                rdb_type: t,
                db: self.db,
                meta: self.meta,
                remaining: n,
                budget: Budget::default(),
                acc: Acc::ValkeyHashEx(Vec::with_capacity(n.min(PREALLOC_ELEMENTS_MAX) as usize)),
            };
            self.meta = Meta::default();
            if n == 0 {
                return Ok(Some(finish_building(building)));
            }
            self.phase = Phase::Value(Box::new(building));
            return Ok(None);
        }
        if self.signature == Some(RdbSignature::Valkey)
            && let Some(name) = rdb_type::valkey_name(t)
        {
            return Err(DecodeError::UnsupportedType {
                rdb_type: t,
                name,
                offset: op_offset,
            }
            .into());
        }
        match t {
            MODULE_PRE_GA | STREAM_LISTPACKS_5 => {
                return Err(DecodeError::UnsupportedType {
                    rdb_type: t,
                    name: rdb_type::name(t),
                    offset: op_offset,
                }
                .into());
            }
            STRING..=MODULE_2 | HASH_ZIPMAP..=STREAM_LISTPACKS_4 => {}
            _ => {
                return Err(DecodeError::UnknownOpcode {
                    byte: t,
                    offset: op_offset,
                }
                .into());
            }
        }
        let key = cur.string(max)?;
        let value = match t {
            STRING => RdbValue::String(cur.string(max)?),
            LIST | SET | ZSET | HASH | ZSET_2 | LIST_QUICKLIST | LIST_QUICKLIST_2
            | HASH_METADATA_PRE_GA | HASH_METADATA => {
                // The pre-GA layout stores absolute times; the GA one stores times relative to
                // the hash's earliest, which comes first.
                let min_expire = if t == HASH_METADATA {
                    Some(min_field_expiry(cur)?)
                } else {
                    None
                };
                let n = cur.len_capped("element count", limits.elements_max)?;
                let cap = n.min(PREALLOC_ELEMENTS_MAX) as usize;
                let acc = match t {
                    SET => Acc::Set(Vec::with_capacity(cap)),
                    ZSET | ZSET_2 => Acc::ZSet(Vec::with_capacity(cap)),
                    HASH => Acc::Hash(Vec::with_capacity(cap)),
                    HASH_METADATA_PRE_GA | HASH_METADATA => Acc::HashEx {
                        fields: Vec::with_capacity(cap),
                        min_expire,
                    },
                    _ => Acc::List(Vec::with_capacity(cap)),
                };
                let building = Building {
                    key,
                    rdb_type: t,
                    db: self.db,
                    meta: self.meta,
                    remaining: n,
                    budget: Budget::default(),
                    acc,
                };
                self.meta = Meta::default();
                if n == 0 {
                    return Ok(Some(finish_building(building)));
                }
                self.phase = Phase::Value(Box::new(building));
                return Ok(None);
            }
            STREAM_LISTPACKS | STREAM_LISTPACKS_2 | STREAM_LISTPACKS_3 | STREAM_LISTPACKS_4 => {
                let n = cur.len_capped("stream listpack count", limits.elements_max)?;
                let building = Building {
                    key,
                    rdb_type: t,
                    db: self.db,
                    meta: self.meta,
                    remaining: 0,
                    budget: Budget::default(),
                    acc: Acc::Stream(Box::new(StreamBuild::new(t, n))),
                };
                self.meta = Meta::default();
                self.phase = Phase::Value(Box::new(building));
                return Ok(None);
            }
            MODULE_2 => {
                let id = cur.len()?;
                return Err(DecodeError::ModuleData {
                    module: module_name(id),
                    offset: op_offset,
                }
                .into());
            }
            _ => {
                if t == HASH_LISTPACK_EX {
                    // Informative only: Redis ignores it and finds the earliest expiry itself
                    // (it writes 0 when it had none), but a time out of range is corruption.
                    min_field_expiry(cur)?;
                }
                let (blob, blob_at) = string_located(cur, max)?;
                let mut budget = Budget::default();
                decode_packed(t, &blob, blob_at, &limits, &mut budget)?
            }
        };
        let meta = std::mem::take(&mut self.meta);
        Ok(Some(Item::Entry(KeyEntry {
            db: self.db,
            key,
            value,
            expire_at_ms: meta.expire_at_ms,
            lru_idle_secs: meta.lru_idle_secs,
            lfu_freq: meta.lfu_freq,
            rdb_type: t,
        })))
    }

    fn value_unit(&mut self, cur: &mut Cur<'_>) -> R<Option<Item>> {
        let limits = self.limits;
        let Phase::Value(b) = &mut self.phase else {
            return Ok(None);
        };
        if !element_unit(b, cur, &limits)? {
            return Ok(None);
        }
        let Phase::Value(b) = std::mem::replace(&mut self.phase, Phase::Top) else {
            return Ok(None);
        };
        Ok(Some(finish_building(*b)))
    }
}

fn detach(b: &mut Bytes) {
    if !b.is_unique() {
        *b = Bytes::copy_from_slice(b);
    }
}

fn detach_item(item: &mut Item) {
    match item {
        Item::Aux { key, value } => {
            detach(key);
            detach(value);
        }
        Item::Function(code) => detach(code),
        Item::Entry(e) => {
            detach(&mut e.key);
            match &mut e.value {
                RdbValue::String(v) => detach(v),
                RdbValue::List(v) | RdbValue::Set(v) => v.iter_mut().for_each(detach),
                RdbValue::SortedSet(v) => v.iter_mut().for_each(|(m, _)| detach(m)),
                RdbValue::Hash(v) => v.iter_mut().for_each(|(f, v)| {
                    detach(f);
                    detach(v);
                }),
                RdbValue::HashWithFieldExpiry(v) => v.iter_mut().for_each(|e| {
                    detach(&mut e.field);
                    detach(&mut e.value);
                }),
                RdbValue::Stream(s) => {
                    for entry in &mut s.entries {
                        entry.fields.iter_mut().for_each(|(f, v)| {
                            detach(f);
                            detach(v);
                        });
                    }
                    for g in &mut s.groups {
                        detach(&mut g.name);
                        g.consumers.iter_mut().for_each(|c| detach(&mut c.name));
                    }
                }
            }
        }
        Item::SelectDb(_) | Item::ResizeDb { .. } | Item::SlotInfo { .. } | Item::End(_) => {}
    }
}

/// Feeds the CRC with `data[..upto]` (absolute `base..base + upto`) past what it has seen.
fn crc_advance(crc: &mut Crc64, crc_upto: &mut u64, data: &[u8], base: u64, upto: usize) {
    let end = base + upto as u64;
    if end <= *crc_upto {
        return;
    }
    let from = usize::try_from(crc_upto.saturating_sub(base)).unwrap_or(usize::MAX);
    crc.update(data.get(from.min(upto)..upto).unwrap_or_default());
    *crc_upto = end;
}

/// Reads a string and returns the offset of its data (of its header when it was
/// decompressed, as positions inside it then refer to the decompressed bytes).
fn string_located(cur: &mut Cur<'_>, max: u64) -> R<(Bytes, u64)> {
    let header_at = cur.pos;
    let s = cur.string(max)?;
    let data_at = if cur.pos - header_at > s.len() {
        cur.pos - s.len()
    } else {
        header_at
    };
    Ok((s, cur.offset_at(data_at)))
}

/// Decodes one element (or packed node, or stream part) of a collection being built.
/// Returns true when the collection is complete.
fn element_unit(b: &mut Building, cur: &mut Cur<'_>, limits: &DecodeLimits) -> R<bool> {
    use rdb_type::*;
    let max = limits.string_bytes_max;
    let at = cur.offset();
    match (&mut b.acc, b.rdb_type) {
        (Acc::Stream(s), _) => return stream::unit(s, &mut b.budget, cur, limits),
        (Acc::List(v), LIST) | (Acc::Set(v), SET) => {
            let s = cur.string(max)?;
            b.budget.charge(limits, 1, s.len() as u64, at)?;
            v.push(s);
        }
        (Acc::ZSet(v), ZSET | ZSET_2) => {
            let member = cur.string(max)?;
            let score_at = cur.offset();
            let score = if b.rdb_type == ZSET {
                text_double(cur)?
            } else {
                f64::from_le_bytes(cur.array()?)
            };
            if score.is_nan() {
                return Err(DecodeError::BadScore { offset: score_at }.into());
            }
            b.budget.charge(limits, 1, member.len() as u64 + 8, at)?;
            v.push((member, score));
        }
        (Acc::Hash(v), HASH) => {
            let field = cur.string(max)?;
            let value = cur.string(max)?;
            b.budget
                .charge(limits, 1, (field.len() + value.len()) as u64, at)?;
            v.push((field, value));
        }
        (Acc::HashEx { fields, min_expire }, _) => {
            let ttl_at = cur.offset();
            let ttl = cur.len()?;
            let expire_at_ms = stored_field_expiry(ttl, *min_expire, ttl_at)?;
            let field = cur.string(max)?;
            let value = cur.string(max)?;
            b.budget
                .charge(limits, 1, (field.len() + value.len()) as u64 + 8, at)?;
            fields.push(HashFieldEntry {
                field,
                value,
                expire_at_ms,
            });
        }
        (Acc::ValkeyHashEx(fields), _) => {
            let field = cur.string(max)?;
            let value = cur.string(max)?;
            let expiry_at = cur.offset();
            let expiry = i64::from_le_bytes(cur.array()?);
            let expire_at_ms = match expiry {
                -1 => None,
                ms => match u64::try_from(ms) {
                    Ok(ms) if ms <= FIELD_EXPIRE_AT_MS_MAX => Some(ms),
                    _ => {
                        return Err(DecodeError::FieldExpiry {
                            expire_at_ms: expiry as u64,
                            offset: expiry_at,
                        }
                        .into());
                    }
                },
            };
            b.budget
                .charge(limits, 1, (field.len() + value.len()) as u64 + 8, at)?;
            fields.push(HashFieldEntry {
                field,
                value,
                expire_at_ms,
            });
        }
        (Acc::List(v), LIST_QUICKLIST) => {
            let (blob, blob_at) = string_located(cur, max)?;
            walk_list(v, &blob, blob_at, Packing::Ziplist, limits, &mut b.budget)?;
        }
        (Acc::List(v), LIST_QUICKLIST_2) => {
            let container = cur.len()?;
            let (blob, blob_at) = string_located(cur, max)?;
            match container {
                // Plain node: one element stored as is.
                1 => {
                    b.budget.charge(limits, 1, blob.len() as u64, at)?;
                    v.push(blob);
                }
                2 => walk_list(v, &blob, blob_at, Packing::Listpack, limits, &mut b.budget)?,
                _ => {
                    return Err(DecodeError::Quicklist {
                        offset: at,
                        reason: "unknown node container",
                    }
                    .into());
                }
            }
        }
        _ => {
            return Err(DecodeError::UnknownOpcode {
                byte: b.rdb_type,
                offset: at,
            }
            .into());
        }
    }
    b.remaining -= 1;
    Ok(b.remaining == 0)
}

fn finish_building(b: Building) -> Item {
    let value = match b.acc {
        Acc::List(v) => RdbValue::List(v),
        Acc::Set(v) => RdbValue::Set(v),
        Acc::ZSet(v) => RdbValue::SortedSet(v),
        Acc::Hash(v) => RdbValue::Hash(v),
        Acc::HashEx { fields, .. } | Acc::ValkeyHashEx(fields) => {
            RdbValue::HashWithFieldExpiry(fields)
        }
        Acc::Stream(s) => RdbValue::Stream(Box::new(s.into_value())),
    };
    Item::Entry(KeyEntry {
        db: b.db,
        key: b.key,
        value,
        expire_at_ms: b.meta.expire_at_ms,
        lru_idle_secs: b.meta.lru_idle_secs,
        lfu_freq: b.meta.lfu_freq,
        rdb_type: b.rdb_type,
    })
}

/// Reads the earliest field expiry that types 24 and 25 store before their fields: 8 bytes,
/// little-endian. 2^48 means "none"; anything larger is corruption, as Redis reports it.
fn min_field_expiry(cur: &mut Cur<'_>) -> R<u64> {
    let at = cur.offset();
    let ms = u64::from_le_bytes(cur.array()?);
    if ms > FIELD_EXPIRE_AT_MS_MAX + 1 {
        return Err(DecodeError::FieldExpiry {
            expire_at_ms: ms,
            offset: at,
        }
        .into());
    }
    Ok(ms)
}

/// A field's expiry from its stored TTL: 0 is "none"; otherwise an absolute time (type 22) or
/// a time relative to the hash's earliest, plus one so that it never reads as 0 (type 24).
/// A result of 0 also means "none", as it does for Redis.
fn stored_field_expiry(
    ttl: u64,
    min_expire: Option<u64>,
    offset: u64,
) -> Result<Option<u64>, DecodeError> {
    if ttl == 0 {
        return Ok(None);
    }
    let expire_at_ms = match min_expire {
        // ttl >= 1 here; a saturated sum is out of range either way.
        Some(min) => ttl.saturating_add(min) - 1,
        None => ttl,
    };
    if expire_at_ms > FIELD_EXPIRE_AT_MS_MAX {
        return Err(DecodeError::FieldExpiry {
            expire_at_ms,
            offset,
        });
    }
    Ok((expire_at_ms != 0).then_some(expire_at_ms))
}

/// The double of the original sorted-set format: a length byte (253 NaN, 254 +inf, 255 -inf)
/// followed by that many bytes of decimal text.
fn text_double(cur: &mut Cur<'_>) -> R<f64> {
    let at = cur.offset();
    match cur.u8()? {
        253 => Ok(f64::NAN),
        254 => Ok(f64::INFINITY),
        255 => Ok(f64::NEG_INFINITY),
        n => {
            let text = cur.bytes(usize::from(n))?;
            Ok(parse_score(&text, at)?)
        }
    }
}

pub(crate) fn parse_score(text: &[u8], offset: u64) -> Result<f64, DecodeError> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|v| !v.is_nan())
        .ok_or(DecodeError::BadScore { offset })
}

/// Packed blob kinds, for walking and for error reports.
#[derive(Clone, Copy)]
pub(crate) enum Packing {
    Ziplist,
    Listpack,
    Intset,
    Zipmap,
}

pub(crate) fn blob_error(packing: Packing, blob_at: u64, e: BlobErr<DecodeError>) -> DecodeError {
    match e {
        BlobErr::Callback(e) => e,
        BlobErr::Corrupt { pos, reason } => {
            let offset = blob_at + pos as u64;
            match packing {
                Packing::Ziplist => DecodeError::Ziplist { offset, reason },
                Packing::Listpack => DecodeError::Listpack { offset, reason },
                Packing::Intset => DecodeError::Intset { offset, reason },
                Packing::Zipmap => DecodeError::Zipmap { offset, reason },
            }
        }
    }
}

/// Walks a ziplist, listpack or zipmap, calling `f` with each element as bytes.
pub(crate) fn walk(
    packing: Packing,
    blob: &Bytes,
    blob_at: u64,
    mut f: impl FnMut(Bytes) -> Result<(), DecodeError>,
) -> Result<usize, DecodeError> {
    let g = |e: Elem| f(elem_bytes(blob, e));
    let res = match packing {
        Packing::Ziplist => blob::ziplist(blob, g),
        Packing::Listpack => blob::listpack(blob, g),
        Packing::Zipmap => blob::zipmap(blob, g),
        Packing::Intset => blob::intset(blob, |v| f(int_text(v))),
    };
    res.map_err(|e| blob_error(packing, blob_at, e))
}

pub(crate) fn elem_bytes(blob: &Bytes, e: Elem) -> Bytes {
    match e {
        Elem::Str { start, len } => blob.slice(start..start + len),
        Elem::Int(v) => int_text(v),
    }
}

fn walk_list(
    out: &mut Vec<Bytes>,
    blob: &Bytes,
    blob_at: u64,
    packing: Packing,
    limits: &DecodeLimits,
    budget: &mut Budget,
) -> Result<(), DecodeError> {
    walk(packing, blob, blob_at, |s| {
        budget.charge(limits, 1, s.len() as u64, blob_at)?;
        out.push(s);
        Ok(())
    })?;
    Ok(())
}

/// Collects alternating elements into pairs.
fn walk_pairs(
    packing: Packing,
    blob: &Bytes,
    blob_at: u64,
    limits: &DecodeLimits,
    budget: &mut Budget,
) -> Result<Vec<(Bytes, Bytes)>, DecodeError> {
    let mut pairs = Vec::new();
    let mut first: Option<Bytes> = None;
    walk(packing, blob, blob_at, |s| {
        match first.take() {
            None => first = Some(s),
            Some(k) => {
                budget.charge(limits, 1, (k.len() + s.len()) as u64, blob_at)?;
                pairs.push((k, s));
            }
        }
        Ok(())
    })?;
    if first.is_some() {
        return Err(blob_error(
            packing,
            blob_at,
            BlobErr::Corrupt {
                pos: 0,
                reason: "odd number of elements in a paired encoding",
            },
        ));
    }
    Ok(pairs)
}

/// Collects the field, value, expiry triples of a listpack hash with field expiry (types 23
/// and 25). The expiry is an absolute time in both, 0 meaning none.
fn walk_field_triples(
    blob: &Bytes,
    blob_at: u64,
    limits: &DecodeLimits,
    budget: &mut Budget,
) -> Result<Vec<HashFieldEntry>, DecodeError> {
    let mut out = Vec::new();
    let mut pending: (Option<Bytes>, Option<Bytes>) = (None, None);
    walk(Packing::Listpack, blob, blob_at, |s| {
        match std::mem::take(&mut pending) {
            (None, _) => pending.0 = Some(s),
            (Some(field), None) => pending = (Some(field), Some(s)),
            (Some(field), Some(value)) => {
                // Redis stores the time as an integer entry; its loader also takes one
                // spelled as text, as any listpack integer may be.
                let ms = canonical_i64(&s).ok_or(DecodeError::Listpack {
                    offset: blob_at,
                    reason: "hash field expiry is not an integer",
                })?;
                let ttl = u64::try_from(ms).map_err(|_| DecodeError::FieldExpiry {
                    expire_at_ms: ms as u64,
                    offset: blob_at,
                })?;
                let expire_at_ms = stored_field_expiry(ttl, None, blob_at)?;
                budget.charge(limits, 1, (field.len() + value.len()) as u64 + 8, blob_at)?;
                out.push(HashFieldEntry {
                    field,
                    value,
                    expire_at_ms,
                });
            }
        }
        Ok(())
    })?;
    if pending.0.is_some() {
        return Err(blob_error(
            Packing::Listpack,
            blob_at,
            BlobErr::Corrupt {
                pos: 0,
                reason: "element count of a hash with field expiry is not a multiple of 3",
            },
        ));
    }
    Ok(out)
}

/// Decodes a value stored as one packed blob (types 9 to 13, 16, 17, 20, 23 and 25).
fn decode_packed(
    t: u8,
    blob: &Bytes,
    blob_at: u64,
    limits: &DecodeLimits,
    budget: &mut Budget,
) -> Result<RdbValue, DecodeError> {
    use rdb_type::*;
    Ok(match t {
        HASH_ZIPMAP => RdbValue::Hash(walk_pairs(Packing::Zipmap, blob, blob_at, limits, budget)?),
        HASH_ZIPLIST => {
            RdbValue::Hash(walk_pairs(Packing::Ziplist, blob, blob_at, limits, budget)?)
        }
        HASH_LISTPACK => RdbValue::Hash(walk_pairs(
            Packing::Listpack,
            blob,
            blob_at,
            limits,
            budget,
        )?),
        HASH_LISTPACK_EX_PRE_GA | HASH_LISTPACK_EX => {
            RdbValue::HashWithFieldExpiry(walk_field_triples(blob, blob_at, limits, budget)?)
        }
        ZSET_ZIPLIST | ZSET_LISTPACK => {
            let packing = if t == ZSET_ZIPLIST {
                Packing::Ziplist
            } else {
                Packing::Listpack
            };
            let pairs = walk_pairs(packing, blob, blob_at, limits, budget)?;
            let mut out = Vec::with_capacity(pairs.len());
            for (member, score) in pairs {
                out.push((member, parse_score(&score, blob_at)?));
            }
            RdbValue::SortedSet(out)
        }
        LIST_ZIPLIST => {
            let mut v = Vec::new();
            walk_list(&mut v, blob, blob_at, Packing::Ziplist, limits, budget)?;
            RdbValue::List(v)
        }
        SET_INTSET | SET_LISTPACK => {
            let packing = if t == SET_INTSET {
                Packing::Intset
            } else {
                Packing::Listpack
            };
            let mut v = Vec::new();
            walk_list(&mut v, blob, blob_at, packing, limits, budget)?;
            RdbValue::Set(v)
        }
        _ => {
            return Err(DecodeError::UnknownOpcode {
                byte: t,
                offset: blob_at,
            });
        }
    })
}

/// The name of a module type from its 64-bit id: nine characters of 6 bits each, followed by
/// a 10-bit encoding version.
pub(crate) fn module_name(id: u64) -> String {
    const CHARSET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut rest = id >> 10;
    let mut name = [0u8; 9];
    for slot in name.iter_mut().rev() {
        // Six bits index the 64 characters.
        *slot = CHARSET.get((rest & 63) as usize).copied().unwrap_or(b'?');
        rest >>= 6;
    }
    format!("{}/{}", String::from_utf8_lossy(&name), id & 1023)
}

/// Decodes a whole RDB held in memory: every item up to [`Item::End`]. Bytes after the RDB are
/// ignored.
pub fn decode_all(data: &[u8], limits: DecodeLimits) -> Result<Vec<Item>, DecodeError> {
    let mut dec = Decoder::new(limits);
    dec.push(data);
    let mut items = Vec::new();
    while let Some(item) = dec.next_item()? {
        items.push(item);
    }
    dec.finish()?;
    Ok(items)
}
