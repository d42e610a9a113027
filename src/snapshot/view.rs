//! Point-in-time snapshots of the keyspace and their RDB encoding.
//!
//! Taking a snapshot clones each database's vector of segment pointers under the lock (no
//! keys are copied); writes afterwards copy the segments they touch. Encoding then runs on its
//! own thread, without the lock, at the snapshot's exact log offset.

use bytes::Bytes;
use sluice_rdb::{EncodeError, Encoder, EncoderOptions, SnapshotAux};

use crate::server::State;
use crate::store::{DbSnapshot, Entry, Value};

/// A consistent view of every database at one replication offset.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub dbs: Vec<DbSnapshot>,
    pub replid: crate::log::ReplId,
    /// Log offset the snapshot corresponds to: a replica loading it continues from here.
    pub offset: u64,
    /// Db selected in the stream at `offset` (RDB aux `repl-stream-db`).
    pub stream_db: u32,
    pub ctime_secs: u64,
    pub keys: u64,
    /// The durable log `offset` refers to: a file written from this snapshot becomes its
    /// replay base once the log is durable past `offset`.
    pub durable: Option<std::sync::Arc<crate::durable::DurableLog>>,
    /// Function libraries' code (FUNCTION LOAD), saved before the keys as Redis saves them.
    pub functions: Vec<Bytes>,
}

/// Takes a snapshot at the current end of the log. The caller holds the lock; the cost is one
/// pointer copy per segment. Pending effects are sealed first so the offset is exact.
pub fn take(state: &mut State) -> Snapshot {
    state.seal_log();
    let offset = state.repl.log.end_offset();
    let stream_db = state.repl.log.stream_db().unwrap_or(0);
    Snapshot {
        dbs: state.dbs.iter().map(|db| db.snapshot()).collect(),
        replid: state.repl.ids.replid,
        offset,
        stream_db,
        ctime_secs: crate::server::unix_time_ms() / 1000,
        keys: state.dbs.iter().map(|db| db.len() as u64).sum(),
        durable: state.repl.durable.clone(),
        functions: state.functions.codes(),
    }
}

/// Encodes a snapshot as RDB, handing each chunk to `sink` as soon as it is full. Stops early
/// (returning Ok(false)) when `sink` returns false, e.g. because every receiver went away.
pub fn encode(
    snapshot: &Snapshot,
    options: EncoderOptions,
    mut sink: impl FnMut(Bytes) -> bool,
) -> Result<bool, EncodeError> {
    let field_times = has_field_times(snapshot);
    let mut encoder = Encoder::new(with_version(options, field_times));
    encoder.write_snapshot_aux(&aux(snapshot));
    for code in &snapshot.functions {
        encoder.write_function(code);
    }
    for (index, db) in snapshot.dbs.iter().enumerate() {
        if db.keys == 0 {
            continue;
        }
        encoder.select_db(crate::log::db_number(index));
        encoder.resize_db(db.keys as u64, db.volatile as u64);
        for segment in &db.segments {
            for (key, entry) in segment.iter() {
                write_entry(&mut encoder, key, entry, field_times)?;
                while let Some(chunk) = encoder.pop_chunk() {
                    if !sink(chunk) {
                        return Ok(false);
                    }
                }
            }
        }
    }
    for chunk in encoder.finish() {
        if !sink(chunk) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The aux fields every snapshot starts with (a replica adopts replid and offset from them).
fn aux(snapshot: &Snapshot) -> SnapshotAux<'_> {
    SnapshotAux {
        redis_ver: crate::REDIS_VERSION,
        ctime_secs: snapshot.ctime_secs,
        used_mem_bytes: crate::alloc::allocated_bytes(),
        repl_stream_db: snapshot.stream_db,
        repl_id: snapshot.replid.as_str(),
        repl_offset: snapshot.offset,
    }
}

/// RDB version 10, which Redis 7.0 loads, unless some hash has field expiry times: those need
/// version 12 (Redis 7.4), which is what a Redis 7.4+ master sends too, so that they survive
/// a restart and reach replicas. A replica too old to read it fails to load, loudly, as it
/// would from such a Redis.
pub const RDB_VERSION_WITH_FIELD_TIMES: u32 = 12;

fn has_field_times(snapshot: &Snapshot) -> bool {
    snapshot.dbs.iter().any(|db| db.field_expiry)
}

fn with_version(options: EncoderOptions, field_times: bool) -> EncoderOptions {
    // Valkey 9's format (80) has field times of its own (type 22).
    if field_times && options.rdb_version != sluice_rdb::VALKEY_RDB_VERSION_READ {
        EncoderOptions {
            rdb_version: options.rdb_version.max(RDB_VERSION_WITH_FIELD_TIMES),
            ..options
        }
    } else {
        options
    }
}

fn write_entry(
    encoder: &mut Encoder,
    key: &[u8],
    entry: &Entry,
    field_times: bool,
) -> Result<(), EncodeError> {
    write_value(encoder, key, &entry.value, entry.expire_at_ms, field_times)
}

/// Writes one key: its expiry, type byte, name and value. Hashes keep their field times
/// only with `field_times` (the encoder's version must then be 12 or more).
pub(super) fn write_value(
    encoder: &mut Encoder,
    key: &[u8],
    value: &Value,
    expire: Option<u64>,
    field_times: bool,
) -> Result<(), EncodeError> {
    match value {
        Value::Str(s) => encoder.write_string(key, s, expire),
        Value::List(l) => encoder.write_list(key, l.iter(), expire)?,
        Value::Set(s) => encoder.write_set(key, s.iter(), expire)?,
        Value::Hash(h) if field_times && h.has_field_expiry() => encoder
            .write_hash_with_field_expiry(
                key,
                h.iter().map(|(f, v)| (f, v, h.field_expiry(f))),
                expire,
            )?,
        Value::Hash(h) => encoder.write_hash(key, h.iter(), expire)?,
        Value::ZSet(z) => encoder.write_zset(key, z.iter(), expire)?,
        Value::Stream(s) => {
            encoder.write_stream(key, &super::stream_model::to_rdb(s), expire)?;
        }
    }
    Ok(())
}

/// Keys encoded at most per database to estimate its size.
const ESTIMATE_SAMPLE_KEYS: usize = 4096;
/// Bytes encoded at most per database for the estimate, so big values keep it cheap.
const ESTIMATE_SAMPLE_BYTES: u64 = 8 << 20;
/// Segments are visited in this stride (coprime with their count): a spread of hash ranges,
/// not the first few.
const ESTIMATE_SEGMENT_STRIDE: usize = 389;

/// What [`encode`] will produce for `snapshot`, in bytes: exact for the header, estimated
/// for the keys from a sample (whole segments, whose keys are spread by hash, so the sample
/// is unbiased). For `master_sync_perc` on replicas of a `$EOF:` stream, which has no
/// length of its own. Costs at most a few MB of encoding.
pub fn estimate_encoded_bytes(snapshot: &Snapshot, options: EncoderOptions) -> u64 {
    let field_times = has_field_times(snapshot);
    let mut encoder = Encoder::new(with_version(options, field_times));
    encoder.write_snapshot_aux(&aux(snapshot));
    // EOF opcode and CRC-64.
    let mut total = encoder.bytes_written() + 9;
    for (index, db) in snapshot.dbs.iter().enumerate() {
        if db.keys == 0 || db.segments.is_empty() {
            continue;
        }
        let before = encoder.bytes_written();
        encoder.select_db(crate::log::db_number(index));
        encoder.resize_db(db.keys as u64, db.volatile as u64);
        total += encoder.bytes_written() - before;
        let (mut keys, mut bytes) = (0usize, 0u64);
        let count = db.segments.len();
        let stride = if count % ESTIMATE_SEGMENT_STRIDE == 0 {
            1
        } else {
            ESTIMATE_SEGMENT_STRIDE
        };
        for step in 0..count {
            if keys >= ESTIMATE_SAMPLE_KEYS || bytes >= ESTIMATE_SAMPLE_BYTES {
                break;
            }
            for (key, entry) in db.segments[(step * stride) % count].iter() {
                let before = encoder.bytes_written();
                if write_entry(&mut encoder, key, entry, field_times).is_err() {
                    continue;
                }
                bytes += encoder.bytes_written() - before;
                keys += 1;
                while encoder.pop_chunk().is_some() {}
            }
        }
        if keys > 0 {
            total +=
                crate::util::num::u64_saturating_f64(bytes as f64 * db.keys as f64 / keys as f64);
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::store::{Entry, ZSet};
    use std::sync::Arc;

    fn encoded_len(snap: &Snapshot) -> u64 {
        let mut len = 0u64;
        encode(snap, EncoderOptions::default(), |c| {
            len += c.len() as u64;
            true
        })
        .unwrap();
        len
    }

    fn fill(state: &mut State, db: usize, keys: usize, value_len: impl Fn(usize) -> usize) {
        for i in 0..keys {
            state.dbs[db].insert(
                Bytes::from(format!("key:{i:08}")),
                Entry::new(Value::Str(Bytes::from(vec![b'v'; value_len(i)]).into())),
            );
        }
    }

    #[test]
    fn size_estimate_is_exact_when_every_key_fits_the_sample() {
        let mut state = State::new(Config::default());
        fill(&mut state, 0, 1000, |i| i % 300);
        fill(&mut state, 3, 10, |_| 5);
        let snap = take(&mut state);
        let estimate = estimate_encoded_bytes(&snap, EncoderOptions::default());
        let actual = encoded_len(&snap);
        // Only the used-memory aux field may differ by a digit or two between the runs.
        assert!(estimate.abs_diff(actual) <= 4, "{estimate} vs {actual}");
    }

    #[test]
    fn size_estimate_from_a_sample_is_close() {
        let mut state = State::new(Config::default());
        // Sizes vary with the key, so the sample must be spread to come out right.
        fill(&mut state, 0, 60_000, |i| (i * 7919) % 2000);
        let snap = take(&mut state);
        let estimate = estimate_encoded_bytes(&snap, EncoderOptions::default());
        let actual = encoded_len(&snap);
        let error = estimate.abs_diff(actual) as f64 / actual as f64;
        assert!(error < 0.05, "estimate {estimate}, actual {actual}");

        let empty = take(&mut State::new(Config::default()));
        let estimate = estimate_encoded_bytes(&empty, EncoderOptions::default());
        assert!(estimate.abs_diff(encoded_len(&empty)) <= 4);
    }

    #[test]
    fn snapshot_encodes_the_view_at_its_offset_not_later_writes() {
        let mut state = State::new(Config::default());
        state.dbs[0].insert(
            Bytes::from_static(b"s"),
            Entry::new(Value::Str(b"before".as_slice().into())),
        );
        let mut z = ZSet::default();
        z.insert(Bytes::from_static(b"m"), 1.5);
        state.dbs[2].insert(
            Bytes::from_static(b"z"),
            Entry {
                value: Value::ZSet(Arc::new(z)),
                expire_at_ms: Some(4_000_000_000_000),
            },
        );
        let snap = take(&mut state);
        state.dbs[0].insert(
            Bytes::from_static(b"s"),
            Entry::new(Value::Str(b"after".as_slice().into())),
        );
        state.dbs[0].insert(
            Bytes::from_static(b"new"),
            Entry::new(Value::Str(Default::default())),
        );
        let mut rdb = Vec::new();
        assert!(
            encode(&snap, EncoderOptions::default(), |c| {
                rdb.extend_from_slice(&c);
                true
            })
            .unwrap()
        );
        let items = sluice_rdb::decode_all(&rdb, sluice_rdb::DecodeLimits::default()).unwrap();
        let entries: Vec<_> = items
            .iter()
            .filter_map(|i| match i {
                sluice_rdb::Item::Entry(e) => Some(e),
                _ => None,
            })
            .collect();
        assert_eq!(entries.len(), 2);
        let s = entries.iter().find(|e| e.key.as_ref() == b"s").unwrap();
        assert_eq!(
            s.value,
            sluice_rdb::RdbValue::String(Bytes::from_static(b"before"))
        );
        let z = entries.iter().find(|e| e.key.as_ref() == b"z").unwrap();
        assert_eq!((z.db, z.expire_at_ms), (2, Some(4_000_000_000_000)));
    }
}
