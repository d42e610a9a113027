//! Stream values (types 15, 19, 21 and 26), decoded unit by unit: each listpack node, the
//! stream's metadata, each consumer group header, each PEL entry, each consumer and each of
//! its PEL IDs is its own unit, so a stream with millions of pending entries decodes in
//! linear time from any chunking.
//!
//! Type 26 (Redis 8.6) adds, after the groups, the state of idempotent producers (IDMP, XADD's
//! IDMP and IDMPAUTO options). Its layout, established from what Redis 8.6.3 writes:
//!
//! ```text
//! duration        length   seconds an idempotent ID is kept (XCFGSET IDMP-DURATION)
//! max entries     length   IDs kept per producer (XCFGSET IDMP-MAXSIZE)
//! producers       length   P
//! P times:
//!   pid           string   producer ID
//!   entries       length   N
//!   N times:
//!     iid         string   idempotent ID (IDMP's argument, or IDMPAUTO's 16-byte digest)
//!     ms, seq     length, length   the stream entry ID the IID was recorded with
//! iids added      length   counter (XINFO STREAM `iids-added`)
//! iids duplicates length   counter (XINFO STREAM `iids-duplicates`)
//! ```
//!
//! sluice has no idempotent producers: the section is parsed in full, every count checked
//! against the limits and each entry charged to the value's budget, and then dropped. Each
//! producer header and each entry is its own unit.

use bytes::Bytes;

use crate::DecodeError;
use crate::blob::{self, Elem};
use crate::decode::{Budget, DecodeLimits, PREALLOC_ELEMENTS_MAX, Packing, blob_error, elem_bytes};
use crate::model::{
    StreamConsumer, StreamEntry, StreamGroup, StreamId, StreamPending, StreamValue, rdb_type,
};
use crate::reader::{Cur, R};

const FLAG_DELETED: i64 = 1;
const FLAG_SAMEFIELDS: i64 = 2;

/// Where the decoding of a stream is. Type 26 goes on after the groups: `Idmp` reads the IDMP
/// configuration and producer count, `IdmpCounters` the two counters that end the stream.
enum Stage {
    Nodes { remaining: u64 },
    Meta,
    Groups { remaining: u64 },
    GroupPel { remaining: u64 },
    Consumers { remaining: u64 },
    ConsumerPel { remaining: u64 },
    Idmp,
    IdmpProducers { remaining: u64 },
    IdmpEntries { remaining: u64 },
    IdmpCounters,
}

pub(crate) struct StreamBuild {
    rdb_type: u8,
    stage: Stage,
    value: StreamValue,
    /// Groups still to read after the current one.
    groups_left: u64,
    consumers_left: u64,
    /// IDMP producers still to read after the current one.
    producers_left: u64,
    group: Option<StreamGroup>,
    consumer: Option<StreamConsumer>,
}

impl StreamBuild {
    pub(crate) fn new(rdb_type: u8, listpacks: u64) -> Self {
        Self {
            rdb_type,
            stage: Stage::Nodes {
                remaining: listpacks,
            },
            value: StreamValue::default(),
            groups_left: 0,
            consumers_left: 0,
            producers_left: 0,
            group: None,
            consumer: None,
        }
    }

    pub(crate) fn into_value(self) -> StreamValue {
        self.value
    }
}

/// A format-1 group's read counter, which that format does not store: derived as Redis 7.0
/// derives it on load (`streamEstimateDistanceFromFirstEverEntry`), for a stream whose
/// metadata came from format 1 (nothing deleted ahead, entries added = length). `None` where
/// Redis cannot tell either.
fn format1_entries_read(v: &StreamValue, id: StreamId) -> Option<u64> {
    if v.entries_added == 0 {
        return Some(0);
    }
    if id == v.last_id || (v.length == 0 && id < v.last_id) {
        return Some(v.entries_added);
    }
    if id > v.last_id {
        return None;
    }
    let before_first = v.entries_added.saturating_sub(v.length);
    match id.cmp(&v.first_id) {
        std::cmp::Ordering::Less => Some(before_first),
        std::cmp::Ordering::Equal => Some(before_first + 1),
        std::cmp::Ordering::Greater => None,
    }
}

fn corrupt(offset: u64, reason: &'static str) -> DecodeError {
    DecodeError::Stream { offset, reason }
}

fn id_pair(cur: &mut Cur<'_>) -> R<StreamId> {
    let ms = cur.len()?;
    let seq = cur.len()?;
    Ok(StreamId { ms, seq })
}

fn capped(cur: &mut Cur<'_>, limits: &DecodeLimits) -> R<u64> {
    cur.len_capped("stream element count", limits.elements_max)
}

fn prealloc<T>(n: u64) -> Vec<T> {
    Vec::with_capacity(n.min(PREALLOC_ELEMENTS_MAX) as usize)
}

/// Decodes the next unit of a stream. Returns true when the stream is complete. Transitions
/// that read nothing (a count reaching zero) are taken in the same call.
pub(crate) fn unit(
    s: &mut StreamBuild,
    budget: &mut Budget,
    cur: &mut Cur<'_>,
    limits: &DecodeLimits,
) -> R<bool> {
    let max = limits.string_bytes_max;
    loop {
        let at = cur.offset();
        match s.stage {
            Stage::Nodes { remaining: 0 } => s.stage = Stage::Meta,
            Stage::Nodes { remaining } => {
                let key = cur.string(max)?;
                let lp_header = cur.pos;
                let lp = cur.string(max)?;
                let lp_at = if cur.pos - lp_header > lp.len() {
                    cur.offset() - lp.len() as u64
                } else {
                    cur.offset_at(lp_header)
                };
                let raw: [u8; 16] = key
                    .as_ref()
                    .try_into()
                    .map_err(|_| corrupt(at, "node key is not a 16-byte stream ID"))?;
                let master = StreamId::from_be_bytes(raw);
                decode_node(&mut s.value.entries, master, &lp, lp_at, limits, budget)?;
                s.stage = Stage::Nodes {
                    remaining: remaining - 1,
                };
                return Ok(false);
            }
            Stage::Meta => {
                let length = cur.len()?;
                let last_id = id_pair(cur)?;
                let v2 = s.rdb_type >= rdb_type::STREAM_LISTPACKS_2;
                let extra = if v2 {
                    Some((id_pair(cur)?, id_pair(cur)?, cur.len()?))
                } else {
                    None
                };
                let groups = capped(cur, limits)?;
                let v = &mut s.value;
                v.length = length;
                v.last_id = last_id;
                match extra {
                    Some((first, max_deleted, added)) => {
                        v.first_id = first;
                        v.max_deleted_entry_id = max_deleted;
                        v.entries_added = added;
                    }
                    None => {
                        v.first_id = v.entries.first().map(|e| e.id).unwrap_or_default();
                        v.entries_added = length;
                    }
                }
                v.groups = prealloc(groups);
                s.stage = Stage::Groups { remaining: groups };
                return Ok(false);
            }
            Stage::Groups { remaining: 0 } => {
                if s.rdb_type < rdb_type::STREAM_LISTPACKS_4 {
                    return Ok(true);
                }
                s.stage = Stage::Idmp;
            }
            Stage::Groups { remaining } => {
                let name = cur.string(max)?;
                let last_delivered_id = id_pair(cur)?;
                // Redis writes -1 (as u64) when the counter is unknown, e.g. for a group
                // created at `$`; format 1 has no counter at all.
                let entries_read = if s.rdb_type >= rdb_type::STREAM_LISTPACKS_2 {
                    Some(cur.len()?).filter(|&n| n != u64::MAX)
                } else {
                    format1_entries_read(&s.value, last_delivered_id)
                };
                let pel = capped(cur, limits)?;
                budget.charge(limits, 1, name.len() as u64, at)?;
                s.group = Some(StreamGroup {
                    name,
                    last_delivered_id,
                    entries_read,
                    pending: prealloc(pel),
                    consumers: Vec::new(),
                });
                s.groups_left = remaining - 1;
                s.stage = Stage::GroupPel { remaining: pel };
                return Ok(false);
            }
            Stage::GroupPel { remaining: 0 } => {
                let consumers = capped(cur, limits)?;
                if let Some(g) = s.group.as_mut() {
                    g.consumers = prealloc(consumers);
                }
                s.stage = Stage::Consumers {
                    remaining: consumers,
                };
                return Ok(false);
            }
            Stage::GroupPel { remaining } => {
                let id = StreamId::from_be_bytes(cur.array()?);
                let delivery_time_ms = u64::from_le_bytes(cur.array()?);
                let delivery_count = cur.len()?;
                budget.charge(limits, 1, 32, at)?;
                if let Some(g) = s.group.as_mut() {
                    g.pending.push(StreamPending {
                        id,
                        delivery_time_ms,
                        delivery_count,
                    });
                }
                s.stage = Stage::GroupPel {
                    remaining: remaining - 1,
                };
                return Ok(false);
            }
            Stage::Consumers { remaining: 0 } => {
                if let Some(g) = s.group.take() {
                    s.value.groups.push(g);
                }
                s.stage = Stage::Groups {
                    remaining: s.groups_left,
                };
            }
            Stage::Consumers { remaining } => {
                let name = cur.string(max)?;
                let seen_time_ms = u64::from_le_bytes(cur.array()?);
                let active_time_ms = if s.rdb_type >= rdb_type::STREAM_LISTPACKS_3 {
                    Some(u64::from_le_bytes(cur.array()?))
                } else {
                    None
                };
                let pel = capped(cur, limits)?;
                budget.charge(limits, 1, name.len() as u64, at)?;
                s.consumer = Some(StreamConsumer {
                    name,
                    seen_time_ms,
                    active_time_ms,
                    pending: prealloc(pel),
                });
                s.consumers_left = remaining - 1;
                s.stage = Stage::ConsumerPel { remaining: pel };
                return Ok(false);
            }
            Stage::ConsumerPel { remaining: 0 } => {
                if let (Some(c), Some(g)) = (s.consumer.take(), s.group.as_mut()) {
                    g.consumers.push(c);
                }
                s.stage = Stage::Consumers {
                    remaining: s.consumers_left,
                };
            }
            Stage::ConsumerPel { remaining } => {
                let id = StreamId::from_be_bytes(cur.array()?);
                budget.charge(limits, 1, 16, at)?;
                if let Some(c) = s.consumer.as_mut() {
                    c.pending.push(id);
                }
                s.stage = Stage::ConsumerPel {
                    remaining: remaining - 1,
                };
                return Ok(false);
            }
            Stage::Idmp => {
                // Duration and size cap: configuration sluice has no use for.
                cur.len()?;
                cur.len()?;
                let producers = cur.len_capped("IDMP producer count", limits.elements_max)?;
                s.stage = Stage::IdmpProducers {
                    remaining: producers,
                };
                return Ok(false);
            }
            Stage::IdmpProducers { remaining: 0 } => s.stage = Stage::IdmpCounters,
            Stage::IdmpProducers { remaining } => {
                let pid = cur.string(max)?;
                let entries = cur.len_capped("IDMP entry count", limits.elements_max)?;
                budget.charge(limits, 1, pid.len() as u64, at)?;
                s.producers_left = remaining - 1;
                s.stage = Stage::IdmpEntries { remaining: entries };
                return Ok(false);
            }
            Stage::IdmpEntries { remaining: 0 } => {
                s.stage = Stage::IdmpProducers {
                    remaining: s.producers_left,
                };
            }
            Stage::IdmpEntries { remaining } => {
                let iid = cur.string(max)?;
                id_pair(cur)?;
                budget.charge(limits, 1, iid.len() as u64 + 16, at)?;
                s.stage = Stage::IdmpEntries {
                    remaining: remaining - 1,
                };
                return Ok(false);
            }
            Stage::IdmpCounters => {
                cur.len()?;
                cur.len()?;
                return Ok(true);
            }
        }
    }
}

/// Decodes one listpack node of a stream: a master entry (live count, deleted count, master
/// fields, 0) then entries `flags ms-diff seq-diff [n fields...] values... lp-count`, the
/// field names omitted when the SAMEFIELDS flag says they equal the master's.
fn decode_node(
    out: &mut Vec<StreamEntry>,
    master: StreamId,
    lp: &Bytes,
    lp_at: u64,
    limits: &DecodeLimits,
    budget: &mut Budget,
) -> Result<(), DecodeError> {
    let mut elems: Vec<Elem> = Vec::new();
    blob::listpack(lp, |e| {
        elems.push(e);
        Ok::<(), DecodeError>(())
    })
    .map_err(|e| blob_error(Packing::Listpack, lp_at, e))?;
    let bad = |reason| corrupt(lp_at, reason);
    let mut it = elems.iter().copied();
    let int = |it: &mut dyn Iterator<Item = Elem>| -> Result<i64, DecodeError> {
        match it.next() {
            Some(Elem::Int(v)) => Ok(v),
            Some(Elem::Str { start, len }) => lp
                .get(start..start + len)
                .and_then(|s| std::str::from_utf8(s).ok())
                .and_then(|s| s.parse::<i64>().ok())
                .ok_or(bad("expected an integer")),
            None => Err(bad("listpack ended inside an entry")),
        }
    };
    let count = int(&mut it)?;
    let deleted = int(&mut it)?;
    let master_field_count = int(&mut it)?;
    if count < 0 || deleted < 0 || master_field_count < 0 {
        return Err(bad("negative count in the master entry"));
    }
    let mut master_fields = Vec::new();
    for _ in 0..master_field_count {
        let e = it
            .next()
            .ok_or(bad("listpack ended inside the master entry"))?;
        master_fields.push(elem_bytes(lp, e));
    }
    if int(&mut it)? != 0 {
        return Err(bad("master entry not terminated by 0"));
    }
    if count == 0 && deleted == 0 {
        return Err(bad("empty listpack node"));
    }
    for _ in 0..count.saturating_add(deleted) {
        let flags = int(&mut it)?;
        let ms_diff = int(&mut it)?;
        let seq_diff = int(&mut it)?;
        let same = flags & FLAG_SAMEFIELDS != 0;
        let field_count = if same {
            master_field_count
        } else {
            let n = int(&mut it)?;
            if n < 0 {
                return Err(bad("negative field count"));
            }
            n
        };
        let field_count = usize::try_from(field_count).map_err(|_| bad("negative field count"))?;
        let mut fields =
            Vec::with_capacity((field_count as u64).min(PREALLOC_ELEMENTS_MAX) as usize);
        let mut entry_bytes = 0u64;
        for i in 0..field_count {
            let name = if same {
                master_fields
                    .get(i)
                    .cloned()
                    .ok_or(bad("entry has more fields than the master entry"))?
            } else {
                elem_bytes(lp, it.next().ok_or(bad("listpack ended inside an entry"))?)
            };
            let value = elem_bytes(lp, it.next().ok_or(bad("listpack ended inside an entry"))?);
            entry_bytes += (name.len() + value.len()) as u64;
            fields.push((name, value));
        }
        let lp_count = int(&mut it)?;
        let expected = if same {
            field_count + 3
        } else {
            field_count * 2 + 4
        };
        if u64::try_from(lp_count).ok() != Some(expected as u64) {
            return Err(bad("entry lp-count does not match its fields"));
        }
        if flags & FLAG_DELETED == 0 {
            budget.charge(limits, 1, entry_bytes + 16, lp_at)?;
            let id = StreamId {
                ms: master.ms.wrapping_add(ms_diff as u64),
                seq: master.seq.wrapping_add(seq_diff as u64),
            };
            out.push(StreamEntry { id, fields });
        }
    }
    if it.next().is_some() {
        return Err(bad("data after the last entry"));
    }
    Ok(())
}
